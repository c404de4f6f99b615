"""Classification agreement of two sets of embeddings (numpy only).

Two ways to turn embeddings into class decisions, in order of preference:

1. **nearest support** (the SpeckleNN few-shot rule, :class:`fixsim.train.fewshot.FewShotClassifier`
   with ``rule="nearest"``, L2-normalized): a support set of labelled embeddings, by
   default the golden ``support.npz`` (20 embeddings, 5 per class, from the golden float
   model).  Both sides are classified against the same supports.
2. **class centroids**: when no support set fits (absent, or another embedding size) but
   the frames are labelled, the L2-normalized mean embedding of each class *of the
   reference side A*; each frame goes to the nearest centroid (squared L2 on normalized
   embeddings; ties to the lowest class id).

Without supports and labels there is nothing to decide with and the section is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..train.fewshot import FewShotClassifier, _normalize, sq_distances

#: Frame ids of disagreements listed in reports.
SHOW = 10
#: Queries per distance computation (the (Q, S, D) difference array stays ~100 MB).
QUERY_CHUNK = 8192


def _chunked(predict, query: np.ndarray) -> np.ndarray:
    if len(query) == 0:
        return np.zeros(0, np.int64)
    return np.concatenate([predict(query[i:i + QUERY_CHUNK])
                           for i in range(0, len(query), QUERY_CHUNK)])


@dataclass(frozen=True)
class SupportSet:
    """Labelled support embeddings for nearest-support classification."""

    embeddings: np.ndarray
    labels: np.ndarray
    class_names: tuple
    source: str


def load_support(path) -> SupportSet:
    """Read a support set ``.npz`` (``embeddings`` (S, D), ``labels`` (S,), ``class_names``).

    The golden ``support.npz`` has this layout (its ``frames`` are not needed here).

    Raises
    ------
    InputError
        Missing file or arrays, wrong shapes, labels not covering ``0 .. K-1``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"support set {str(path)!r} does not exist")
    from .._files import read_npz

    z = read_npz(path, "support set")  # never unpickles; one-line errors
    missing = [k for k in ("embeddings", "labels") if k not in z]
    if missing:
        raise InputError(f"support set {str(path)!r} lacks {missing[0]!r}")
    emb, lab = z["embeddings"], z["labels"]
    names = tuple(str(c) for c in z["class_names"]) if "class_names" in z else ()
    if emb.ndim != 2 or lab.shape != (len(emb),) or lab.dtype.kind not in "iu" or not len(emb):
        raise InputError(f"support set {str(path)!r}: need embeddings (S, D) and S integer "
                         f"labels, got {emb.shape} and {lab.shape}")
    FewShotClassifier(emb, lab)  # validates the label coverage
    return SupportSet(np.asarray(emb, np.float64), lab.astype(np.int64), names, str(path))


def centroid_predict(reference: np.ndarray, labels: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Nearest class centroid of the normalized ``reference`` embeddings, for ``query``."""
    ref = _normalize(np.asarray(reference, np.float64))
    classes = np.unique(labels)
    cents = _normalize(np.stack([ref[labels == c].mean(axis=0) for c in classes]))

    def predict(q):
        return classes[sq_distances(_normalize(np.asarray(q, np.float64)), cents).argmin(axis=1)]

    return _chunked(predict, query).astype(np.int64)


def agreement(emb_a: np.ndarray, emb_b: np.ndarray, *, labels: np.ndarray | None = None,
              support: SupportSet | None = None, frame_ids: np.ndarray | None = None,
              class_names=None) -> dict:
    """Classify both sides and report how often they decide alike (and their accuracies).

    Parameters
    ----------
    emb_a, emb_b : ndarray (N, D)
        Embedding values of the reference side A and the other side B.
    labels : ndarray (N,), optional
        True classes; needed for accuracies and for the centroid method.
    support : SupportSet, optional
        Used when its embedding size is D.
    frame_ids : ndarray (N,), optional
        Ids to name disagreements by.

    Returns
    -------
    dict
        ``method``, ``support``, ``n``, ``agreement`` (fraction of equal decisions),
        ``disagreements`` (count) and the first few ``disagreement_ids``; with labels also
        ``accuracy_a``, ``accuracy_b`` and per-class accuracies.  ``method`` is None (with
        a ``reason``) when neither a support set nor labels are available.
    """
    n, dim = emb_a.shape
    ids = np.arange(n) if frame_ids is None else frame_ids
    if support is not None and support.embeddings.shape[1] == dim:
        clf = FewShotClassifier(support.embeddings, support.labels, rule="nearest")
        pred_a, pred_b = _chunked(clf.predict, emb_a), _chunked(clf.predict, emb_b)
        method, src = "nearest-support", support.source
        names = class_names or support.class_names
    elif labels is not None:
        pred_a = centroid_predict(emb_a, labels, emb_a)
        pred_b = centroid_predict(emb_a, labels, emb_b)
        method, src, names = "class-centroids", "labelled frames of A", class_names
    else:
        why = ("no support set and no labels" if support is None else
               f"support set has {support.embeddings.shape[1]}-d embeddings, not {dim}-d, "
               f"and the frames carry no labels")
        return {"method": None, "reason": why}
    same = pred_a == pred_b
    out = {"method": method, "support": src, "n": int(n), "agreement": float(same.mean()),
           "disagreements": int((~same).sum()),
           "disagreement_ids": [int(i) for i in ids[~same][:SHOW]]}
    if labels is not None:
        out["accuracy_a"] = float((pred_a == labels).mean())
        out["accuracy_b"] = float((pred_b == labels).mean())
        per = {}
        for c in np.unique(labels):
            name = str(names[c]) if names is not None and c < len(names) else str(int(c))
            sel = labels == c
            per[name] = {"n": int(sel.sum()), "accuracy_a": float((pred_a[sel] == c).mean()),
                         "accuracy_b": float((pred_b[sel] == c).mean())}
        out["per_class"] = per
    return out


__all__ = ["SupportSet", "load_support", "centroid_predict", "agreement"]
