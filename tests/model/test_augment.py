"""Augmentation: seeded, shape-preserving, and each transform does what it says."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the 'model' extra (torch)")

from fixsim.model.preprocess import standardize  # noqa: E402
from fixsim.train.augment import augment, rotate, standardize_torch  # noqa: E402


def test_augment_is_seeded_and_keeps_shape():
    x = torch.rand(6, 65, 65) * 10
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    c = augment(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.isfinite(a).all()


def test_rotation_by_quarter_turn_matches_rot90():
    x = torch.rand(2, 65, 65)
    r = rotate(x, torch.full((2,), math.pi / 2))
    # a quarter turn of an odd-sized image about its centre pixel is a pure permutation
    direct = torch.rot90(x, k=1, dims=(1, 2))
    other = torch.rot90(x, k=-1, dims=(1, 2))
    err = min(float((r - direct).abs().max()), float((r - other).abs().max()))
    assert err < 1e-4


def test_zero_patch_appears_when_forced():
    x = torch.full((4, 65, 65), -5.0)  # negative: no Poisson resampling, so no chance zeros
    out = augment(x, torch.Generator().manual_seed(0), patch_prob=1.0, gauss_rel=0.0)
    # the rotation zero-fills corners too, so look at the central disc only
    yy, xx = torch.meshgrid(torch.arange(65), torch.arange(65), indexing="ij")
    disc = ((yy - 32) ** 2 + (xx - 32) ** 2) < 28 ** 2
    zeros = (out == 0) & disc
    assert all(zeros[i].sum() >= 16 for i in range(4))
    none = augment(x, torch.Generator().manual_seed(0), patch_prob=0.0, gauss_rel=0.0)
    assert not ((none == 0) & disc).any()


def test_standardize_torch_matches_numpy():
    x = np.random.default_rng(0).poisson(3.0, (5, 65, 65)).astype(np.float32)
    x[2] = 7.0  # a constant frame becomes zeros in both
    np.testing.assert_allclose(standardize_torch(torch.from_numpy(x)).numpy(), standardize(x),
                               rtol=1e-5, atol=1e-5)
    assert np.all(standardize(x)[2] == 0)
