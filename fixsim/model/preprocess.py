"""Per-image standardization, the preprocessing in front of SpeckleNN (numpy only)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

#: Floor on the per-image standard deviation: a blank frame stays finite (all zeros).
STD_FLOOR = 1e-6


def standardize(frames: np.ndarray) -> np.ndarray:
    """Standardize each image to zero mean and unit standard deviation.

    Parameters
    ----------
    frames : ndarray, shape (N, H, W)
        Detector frames (any real dtype).

    Returns
    -------
    ndarray, float32, shape (N, H, W)
        ``(x - mean) / max(std, STD_FLOOR)`` per image, computed in float64.

    Raises
    ------
    InputError
        If ``frames`` is not 3-D or holds non-finite values.
    """
    x = np.asarray(frames)
    if x.ndim != 3:
        raise InputError(f"frames must have shape (N, H, W), got {x.shape!r}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise InputError("frames contain NaN or infinite values")
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    return ((x - mean) / np.maximum(std, STD_FLOOR)).astype(np.float32)
