"""Classification metrics: per-class and overall accuracy, confusion, accuracy vs fluence."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C[t, p] = number of examples of true class t predicted as p, int64 (n, n)."""
    true, pred = np.asarray(true, np.int64), np.asarray(pred, np.int64)
    if true.shape != pred.shape or true.ndim != 1:
        raise InputError(f"true and pred must be equal-length 1-D, got {true.shape!r} "
                         f"and {pred.shape!r}")
    if len(true) and (min(true.min(), pred.min()) < 0 or max(true.max(), pred.max()) >= n_classes):
        raise InputError(f"class ids must lie in 0..{n_classes - 1}")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (true, pred), 1)
    return cm


def classification_report(true: np.ndarray, pred: np.ndarray,
                          class_names: list[str]) -> dict:
    """Overall accuracy, per-class accuracy (recall) and the confusion matrix as a dict.

    Per-class accuracy of a class with no examples is ``None``.
    """
    n = len(class_names)
    cm = confusion_matrix(true, pred, n)
    support = cm.sum(axis=1)
    per_class = {name: (float(cm[i, i] / support[i]) if support[i] else None)
                 for i, name in enumerate(class_names)}
    total = int(cm.sum())
    return {
        "n": total,
        "overall_accuracy": float(np.trace(cm) / total) if total else None,
        "per_class_accuracy": per_class,
        "per_class_count": {name: int(support[i]) for i, name in enumerate(class_names)},
        "class_names": list(class_names),
        "confusion_matrix": cm.tolist(),
    }


def accuracy_vs_fluence(true: np.ndarray, pred: np.ndarray, fluence: np.ndarray,
                        n_bins: int = 8) -> dict:
    """Accuracy in quantile bins of a per-frame fluence (or photon count).

    Returns
    -------
    dict
        ``edges`` (n_bins+1 floats), ``accuracy`` and ``count`` per bin (``None``
        accuracy for an empty bin).
    """
    f = np.asarray(fluence, dtype=np.float64)
    true, pred = np.asarray(true), np.asarray(pred)
    if f.shape != true.shape:
        raise InputError(f"fluence has shape {f.shape!r}, expected {true.shape!r}")
    if n_bins < 1 or len(f) == 0:
        raise InputError("accuracy vs fluence needs n_bins >= 1 and at least one frame")
    edges = np.unique(np.quantile(f, np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:
        edges = np.array([f.min(), f.max()])
    which = np.clip(np.searchsorted(edges, f, side="right") - 1, 0, len(edges) - 2)
    acc, cnt = [], []
    for b in range(len(edges) - 1):
        m = which == b
        cnt.append(int(m.sum()))
        acc.append(float((true[m] == pred[m]).mean()) if m.any() else None)
    return {"edges": edges.tolist(), "accuracy": acc, "count": cnt}
