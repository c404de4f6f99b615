"""Few-shot rules on hand-made embeddings, support selection, and metrics."""

import numpy as np
import pytest

from fixsim.errors import InputError
from fixsim.train.fewshot import FewShotClassifier, select_support
from fixsim.train.metrics import accuracy_vs_fluence, classification_report, confusion_matrix

# 1-D supports: class 0 at {0, 10}, class 1 at {4, 5}. A query at 1.
# nearest: class 0 (distance 1 to 0). mean of squared distances: class 0 (1 + 81)/2 = 41,
# class 1 (9 + 16)/2 = 12.5 -> class 1. The two rules disagree here by construction.
SUP = np.array([[0.0], [10.0], [4.0], [5.0]])
SUP_Y = np.array([0, 0, 1, 1])


def test_nearest_and_mean_rules_by_hand():
    q = np.array([[1.0], [9.0], [4.6]])
    near = FewShotClassifier(SUP, SUP_Y, rule="nearest", normalize=False)
    mean = FewShotClassifier(SUP, SUP_Y, rule="mean", normalize=False)
    assert near.predict(q).tolist() == [0, 0, 1]
    assert mean.predict(q).tolist() == [1, 1, 1]
    np.testing.assert_allclose(mean.scores(q[:1]), [[41.0, 12.5]])
    np.testing.assert_allclose(near.scores(q[:1]), [[1.0, 9.0]])


def test_normalization_compares_directions():
    sup = np.array([[1.0, 0.0], [0.0, 1.0]])
    clf = FewShotClassifier(sup, [0, 1], normalize=True)
    # (10, 1) is far from both points in raw distance but points along class 0
    assert clf.predict(np.array([[10.0, 1.0], [0.1, 3.0]])).tolist() == [0, 1]
    raw = FewShotClassifier(sup, [0, 1], normalize=False)
    assert raw.predict(np.array([[0.4, 0.6]])).tolist() == [1]


def test_ties_go_to_lowest_class():
    clf = FewShotClassifier(np.array([[1.0], [-1.0]]), [1, 0], normalize=False)
    assert clf.predict(np.array([[0.0]])).tolist() == [0]


def test_classifier_validation():
    with pytest.raises(InputError, match="did you mean 'mean'"):
        FewShotClassifier(SUP, SUP_Y, rule="meen")
    with pytest.raises(InputError, match="missing"):
        FewShotClassifier(SUP, [0, 0, 2, 2])
    with pytest.raises(InputError):
        FewShotClassifier(SUP, SUP_Y).predict(np.zeros((2, 3)))


def test_select_support_is_seeded_grouped_and_checked():
    labels = np.array([0, 1, 2, 3] * 10)
    a = select_support(labels, 3, seed=7, n_classes=4)
    assert np.array_equal(a, select_support(labels, 3, seed=7, n_classes=4))
    assert not np.array_equal(a, select_support(labels, 3, seed=8, n_classes=4))
    assert labels[a].tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert len(set(a.tolist())) == 12
    with pytest.raises(InputError, match="class 3 has 0"):
        select_support(np.array([0, 1, 2] * 5), 2, 0, 4)
    with pytest.raises(InputError):
        select_support(labels, 0, 0, 4)


def test_confusion_and_report():
    true = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0, 2])
    cm = confusion_matrix(true, pred, 4)
    assert cm.tolist() == [[1, 1, 0, 0], [1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    rep = classification_report(true, pred, ["a", "b", "c", "d"])
    assert rep["overall_accuracy"] == pytest.approx(4 / 6)
    assert rep["per_class_accuracy"] == {"a": 0.5, "b": pytest.approx(2 / 3), "c": 1.0, "d": None}
    with pytest.raises(InputError):
        confusion_matrix(true, np.array([0, 1, 1, 1, 0, 4]), 4)


def test_accuracy_vs_fluence_bins():
    true = np.zeros(8, int)
    pred = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    fl = np.arange(8.0)
    out = accuracy_vs_fluence(true, pred, fl, n_bins=2)
    assert out["count"] == [4, 4]
    assert out["accuracy"] == [0.25, 1.0]
    with pytest.raises(InputError):
        accuracy_vs_fluence(true, pred, fl[:3])
