"""Triplet loss on squared L2 distances with semi-hard negative mining inside a batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InputError


def pairwise_sq_distances(emb: torch.Tensor) -> torch.Tensor:
    """D[i, j] = |e_i - e_j|^2 for embeddings of shape (B, D), computed from differences.

    Differences (not the ``|a|^2 + |b|^2 - 2ab`` expansion) keep D exactly zero on the
    diagonal and never negative, which the mining comparisons rely on.
    """
    diff = emb.unsqueeze(1) - emb.unsqueeze(0)
    return (diff * diff).sum(-1)


@dataclass(frozen=True)
class MinedTriplets:
    """Index triplets chosen by :func:`mine_semihard` (each a 1-D int64 tensor)."""

    anchor: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor
    semihard: torch.Tensor  #: bool: True where a negative farther than the positive existed


def mine_semihard(dist: torch.Tensor, labels: torch.Tensor) -> MinedTriplets:
    """Pick one negative for every anchor-positive pair of the batch (FaceNet semi-hard).

    For each ordered pair (a, p), a != p, same label: the negative is the one of a
    different label with the smallest ``D[a, n]`` strictly greater than ``D[a, p]``
    (the hardest negative that is still farther than the positive). If no negative is
    farther, the farthest negative is used, so that the pair still contributes a
    (large) loss without the collapse that hardest-negative mining causes. Ties go to
    the lowest index. Anchors without any negative in the batch are skipped.

    Parameters
    ----------
    dist : Tensor, shape (B, B)
        Squared distances (only read; no gradient flows through the selection).
    labels : Tensor, shape (B,), integer

    Returns
    -------
    MinedTriplets
    """
    if dist.dim() != 2 or dist.shape[0] != dist.shape[1] or labels.shape != dist.shape[:1]:
        raise InputError(f"dist must be (B, B) and labels (B,), got {tuple(dist.shape)} "
                         f"and {tuple(labels.shape)}")
    d = dist.detach()
    b = d.shape[0]
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(b, dtype=torch.bool, device=d.device)
    a_idx, p_idx = torch.nonzero(same & ~eye, as_tuple=True)
    neg = ~same[a_idx]                                  # (P, B) negatives of each anchor
    keep = neg.any(dim=1)
    a_idx, p_idx, neg = a_idx[keep], p_idx[keep], neg[keep]
    d_an = d[a_idx]                                     # (P, B)
    d_ap = d[a_idx, p_idx].unsqueeze(1)
    farther = neg & (d_an > d_ap)
    inf = torch.tensor(float("inf"), dtype=d.dtype, device=d.device)
    # argmin/argmax return the first index of the extreme value: ties go to the lowest.
    n_semi = torch.where(farther, d_an, inf).argmin(dim=1)
    n_far = torch.where(neg, d_an, -inf).argmax(dim=1)
    has_semi = farther.any(dim=1)
    n_idx = torch.where(has_semi, n_semi, n_far)
    return MinedTriplets(a_idx, p_idx, n_idx, has_semi)


def triplet_loss(emb: torch.Tensor, labels: torch.Tensor, margin: float
                 ) -> tuple[torch.Tensor, dict[str, float]]:
    """mean(relu(|a-p|^2 - |a-n|^2 + margin)) over the semi-hard mined triplets.

    Parameters
    ----------
    emb : Tensor, shape (B, D)
        Embeddings (L2-normalized in SpeckleNN training, but not required).
    labels : Tensor, shape (B,), integer
    margin : float
        Non-negative margin.

    Returns
    -------
    loss : Tensor, scalar
        Zero (with a gradient path) when the batch has no valid triplet.
    stats : dict
        ``triplets`` (count), ``active`` (fraction with positive loss), ``semihard``
        (fraction for which a semi-hard negative existed).

    Raises
    ------
    InputError
        On a negative margin or mismatched shapes.
    """
    if not margin >= 0:
        raise InputError(f"margin must be >= 0, got {margin!r}")
    if emb.dim() != 2:
        raise InputError(f"embeddings must be (B, D), got {tuple(emb.shape)}")
    dist = pairwise_sq_distances(emb)
    t = mine_semihard(dist, labels)
    if t.anchor.numel() == 0:
        return emb.sum() * 0.0, {"triplets": 0, "active": 0.0, "semihard": 0.0}
    losses = torch.relu(dist[t.anchor, t.positive] - dist[t.anchor, t.negative] + margin)
    stats = {
        "triplets": int(t.anchor.numel()),
        "active": float((losses > 0).float().mean()),
        "semihard": float(t.semihard.float().mean()),
    }
    return losses.mean(), stats
