"""Triplet loss and semi-hard mining on hand-made embeddings and against a naive loop."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the 'model' extra (torch)")

from fixsim.errors import InputError  # noqa: E402
from fixsim.train.triplet import mine_semihard, pairwise_sq_distances, triplet_loss  # noqa: E402

# 1-D embeddings: class 0 at 0 and 1, class 1 at 1.5 and 3.
EMB = torch.tensor([[0.0], [1.0], [1.5], [3.0]])
LAB = torch.tensor([0, 0, 1, 1])


def naive_semihard_loss(emb, labels, margin):
    """Obviously-correct loops: for each (a, p) the closest negative farther than p,
    else the farthest negative; mean of relu(d_ap - d_an + margin)."""
    e = np.asarray(emb, dtype=np.float64)
    n = len(e)
    d = [[float(((e[i] - e[j]) ** 2).sum()) for j in range(n)] for i in range(n)]
    losses = []
    for a in range(n):
        negs = [j for j in range(n) if labels[j] != labels[a]]
        if not negs:
            continue
        for p in range(n):
            if p == a or labels[p] != labels[a]:
                continue
            far = [j for j in negs if d[a][j] > d[a][p]]
            dn = min(d[a][j] for j in far) if far else max(d[a][j] for j in negs)
            losses.append(max(d[a][p] - dn + margin, 0.0))
    return float(np.mean(losses)) if losses else 0.0


def test_distances_are_squared_l2():
    d = pairwise_sq_distances(EMB)
    assert d[0, 3] == 9.0 and d[1, 2] == 0.25 and torch.all(torch.diag(d) == 0)


def test_mining_picks_the_semihard_negative_by_hand():
    t = mine_semihard(pairwise_sq_distances(EMB), LAB)
    got = {(int(a), int(p)): (int(n), bool(s))
           for a, p, n, s in zip(t.anchor, t.positive, t.negative, t.semihard)}
    assert got == {
        (0, 1): (2, True),   # d_ap 1: negatives at 2.25 and 9 -> the closer, 2.25
        (1, 0): (3, True),   # d_ap 1: 0.25 is closer than p, so 4
        (2, 3): (0, False),  # d_ap 2.25: none strictly farther -> farthest (2.25, index 0)
        (3, 2): (1, True),   # d_ap 2.25: 9 and 4 -> 4
    }


@pytest.mark.parametrize("margin, expected", [(0.5, 0.125), (2.0, 0.75), (0.0, 0.0)])
def test_loss_by_hand(margin, expected):
    loss, stats = triplet_loss(EMB, LAB, margin)
    assert float(loss) == pytest.approx(expected)
    assert stats["triplets"] == 4 and stats["semihard"] == 0.75


def test_loss_matches_naive_reference_on_random_batches():
    g = torch.Generator().manual_seed(3)
    for trial in range(20):
        emb = torch.randn(24, 5, generator=g)
        labels = torch.randint(0, 4, (24,), generator=g)
        margin = [0.02, 0.2, 1.0, 2.0][trial % 4]
        loss, _ = triplet_loss(emb, labels, margin)
        assert float(loss) == pytest.approx(naive_semihard_loss(emb, labels.tolist(), margin),
                                            rel=1e-5, abs=1e-6)


def test_gradient_flows_to_embeddings():
    emb = EMB.clone().requires_grad_(True)
    loss, _ = triplet_loss(emb, LAB, 2.0)
    loss.backward()
    assert emb.grad is not None and emb.grad.abs().sum() > 0


def test_no_valid_triplet_gives_zero_loss():
    emb = torch.randn(3, 4, requires_grad=True)
    loss, stats = triplet_loss(emb, torch.tensor([0, 1, 2]), 0.5)  # no positives
    assert loss.item() == 0.0 and stats["triplets"] == 0
    loss.backward()
    loss, _ = triplet_loss(emb, torch.tensor([1, 1, 1]), 0.5)  # no negatives
    assert loss.item() == 0.0


def test_bad_arguments():
    with pytest.raises(InputError, match="margin"):
        triplet_loss(EMB, LAB, -0.1)
    with pytest.raises(InputError):
        triplet_loss(EMB, LAB[:3], 0.1)
