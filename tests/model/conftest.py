"""Fixtures for the model/training tests: small synthetic labelled frame sets.

The frames are toy stand-ins (radial profiles of class-dependent width plus fringes for
the "multi hit" class, Poisson sampled), not physics: they only need four separable
classes so that training, resume and evaluation run in a second.
"""

from __future__ import annotations

import numpy as np
import pytest

CLASS_NAMES = ["single_hit", "multi_hit", "no_hit", "non_sample_hit"]


def synthetic_frames(n: int, seed: int):
    """(frames float32 (n,65,65), labels int64 (n,), photons float64 (n,))."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    rng.shuffle(labels)
    yy, xx = np.mgrid[:65, :65] - 32.0
    r = np.hypot(yy, xx)
    frames = np.empty((n, 65, 65), np.float32)
    photons = rng.uniform(0.5, 2.0, n)
    for i, c in enumerate(labels):
        base = 40 * np.exp(-r / (4 + 5 * c))
        if c == 1:
            k = 0.6 * rng.uniform(0.8, 1.2)
            base = base * (1 + np.cos(k * (xx * np.cos(i) + yy * np.sin(i))))
        frames[i] = rng.poisson(photons[i] * base + 0.3)
    return frames, labels.astype(np.int64), photons


@pytest.fixture(scope="session")
def small_set():
    from fixsim.train.dataset import LabelledFrames

    frames, labels, photons = synthetic_frames(96, 0)
    return LabelledFrames(frames, labels, CLASS_NAMES, {"fluence": photons}, sha256="synthetic")


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    torch = pytest.importorskip("torch", reason="the model tests need the 'model' extra (torch)")
    torch.set_num_threads(2)
