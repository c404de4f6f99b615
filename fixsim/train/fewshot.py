"""Few-shot "query against support" classification on embeddings (numpy only).

A small labelled support set per class is embedded once; a query gets the class of the
nearest support (``nearest``) or of the class whose supports have the smallest mean
squared distance to it (``mean``). Distances are squared L2, as in the triplet loss.
Embeddings are L2-normalized first by default, because the training variant normalizes
its output and the inference variant (the FPGA) does not: the host applies the
normalization after the board.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, closest

#: Decision rules.
RULES = ("nearest", "mean")


def select_support(labels: np.ndarray, k: int, seed: int, n_classes: int) -> np.ndarray:
    """Choose ``k`` examples of every class ``0 .. n_classes-1``, reproducibly from ``seed``.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
    k : int
        Examples per class, >= 1.
    seed : int
        Seed of the choice (numpy ``default_rng``).
    n_classes : int

    Returns
    -------
    ndarray, int64, shape (n_classes * k,)
        Indices into ``labels``, grouped by class (class 0 first), ascending within a class.

    Raises
    ------
    InputError
        If ``k < 1`` or a class has fewer than ``k`` examples.
    """
    labels = np.asarray(labels)
    from .._validate import check_int

    k = check_int("support per class", k, minimum=1)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        if len(idx) < k:
            raise InputError(f"class {c} has {len(idx)} examples, fewer than the {k} "
                             "support examples asked for")
        chosen.append(np.sort(rng.choice(idx, size=k, replace=False)))
    return np.concatenate(chosen).astype(np.int64)


def _normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def sq_distances(query: np.ndarray, support: np.ndarray) -> np.ndarray:
    """D[i, j] = |q_i - s_j|^2 in float64, shape (Q, S)."""
    diff = query[:, None, :].astype(np.float64) - support[None, :, :].astype(np.float64)
    return np.einsum("qsd,qsd->qs", diff, diff)


@dataclass
class FewShotClassifier:
    """Query-against-support classifier.

    Parameters
    ----------
    support : ndarray, shape (S, D)
        Support embeddings (raw inference outputs or normalized).
    support_labels : ndarray of int, shape (S,)
        Class ids ``0 .. n_classes-1``; every class must be present.
    rule : {"nearest", "mean"}
    normalize : bool
        L2-normalize support and query embeddings before measuring distances.
    """

    support: np.ndarray
    support_labels: np.ndarray
    rule: str = "nearest"
    normalize: bool = True
    n_classes: int = field(init=False)

    def __post_init__(self):
        if self.rule not in RULES:
            raise InputError(f"unknown rule {self.rule!r}; choose from {RULES}"
                             + closest(self.rule, RULES))
        s = np.asarray(self.support, dtype=np.float64)
        y = np.asarray(self.support_labels).astype(np.int64)
        if s.ndim != 2 or y.shape != (len(s),) or len(s) == 0:
            raise InputError(f"support must be (S, D) with S labels, got {s.shape!r} "
                             f"and {y.shape!r}")
        self.n_classes = int(y.max()) + 1
        missing = sorted(set(range(self.n_classes)) - set(y.tolist()))
        if y.min() < 0 or missing:
            raise InputError(f"support labels must cover 0..{self.n_classes - 1}; "
                             f"missing {missing!r}")
        self.support = _normalize(s) if self.normalize else s
        self.support_labels = y

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Per-class score (lower is closer), shape (Q, n_classes), float64."""
        q = np.asarray(query, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != self.support.shape[1]:
            raise InputError(f"query must be (Q, {self.support.shape[1]}), got {q.shape!r}")
        if self.normalize:
            q = _normalize(q)
        d = sq_distances(q, self.support)
        out = np.empty((len(q), self.n_classes))
        for c in range(self.n_classes):
            dc = d[:, self.support_labels == c]
            out[:, c] = dc.min(axis=1) if self.rule == "nearest" else dc.mean(axis=1)
        return out

    def predict(self, query: np.ndarray) -> np.ndarray:
        """Predicted class ids, int64 shape (Q,); ties go to the lowest class id."""
        return self.scores(query).argmin(axis=1).astype(np.int64)
