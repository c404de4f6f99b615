"""Training augmentation (torch): rotation, zero patches, shot noise, fluence, Gaussian noise.

Follows the SpeckleNN recipe: random in-plane rotation, random rectangular zero patches,
Poisson and Gaussian noise and shot-to-shot fluence scaling. It runs on raw frames, before
per-image standardization (which would undo a pure scaling). Every draw comes from the
generator passed in, so an epoch's augmentation is fixed by its seed.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def standardize_torch(x: torch.Tensor) -> torch.Tensor:
    """Per-image (x - mean) / std of (B, H, W), std 0 -> 1; mirrors ``model.preprocess``."""
    mean = x.mean(dim=(1, 2), keepdim=True)
    std = x.std(dim=(1, 2), keepdim=True, unbiased=False)
    return (x - mean) / torch.where(std > 0, std, torch.ones_like(std))


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each (H, W) image about its centre by ``angles`` radians (bilinear, zero fill)."""
    c, s = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(c)
    theta = torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1)
    grid = F.affine_grid(theta, (x.shape[0], 1, *x.shape[1:]), align_corners=False)
    return F.grid_sample(x.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).squeeze(1)


def augment(x: torch.Tensor, gen: torch.Generator, *, patch_prob: float = 0.5,
            fluence_range: tuple[float, float] = (0.5, 1.0),
            gauss_rel: float = 0.05) -> torch.Tensor:
    """Augment a batch of raw frames.

    Parameters
    ----------
    x : Tensor, float32, shape (B, H, W)
        Raw frames. Poisson resampling at a random fraction of the fluence is applied only
        when every frame is non-negative (photon counts).
    gen : torch.Generator
        Source of every random draw.
    patch_prob : float
        Probability of one rectangular zero patch (4 to H/3 pixels a side) per frame.
    fluence_range : (float, float)
        Range of the fluence factor for Poisson resampling (below 1 adds shot noise).
    gauss_rel : float
        Upper bound of the Gaussian noise sigma relative to each frame's std.

    Returns
    -------
    Tensor, shape (B, H, W)
    """
    b, h, w = x.shape
    x = x.clone()
    if bool((x >= 0).all()):
        f = _uniform(b, *fluence_range, gen).view(b, 1, 1)
        x = torch.poisson(x * f, generator=gen) / f
    x = rotate(x, _uniform(b, 0.0, 2 * math.pi, gen))
    has_patch = torch.rand(b, generator=gen) < patch_prob
    side_max = max(5, h // 3)
    ph = torch.randint(4, side_max, (b,), generator=gen)
    pw = torch.randint(4, side_max, (b,), generator=gen)
    top = (torch.rand(b, generator=gen) * (h - ph + 1)).long()
    left = (torch.rand(b, generator=gen) * (w - pw + 1)).long()
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    mask = ((rows >= top.view(b, 1, 1)) & (rows < (top + ph).view(b, 1, 1))
            & (cols >= left.view(b, 1, 1)) & (cols < (left + pw).view(b, 1, 1))
            & has_patch.view(b, 1, 1))
    x = x.masked_fill(mask, 0.0)
    sigma = _uniform(b, 0.0, gauss_rel, gen).view(b, 1, 1) * x.std(dim=(1, 2), keepdim=True)
    return x + sigma * torch.randn(x.shape, generator=gen)
