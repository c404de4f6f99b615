"""Per-image standardization, the preprocessing in front of SpeckleNN (numpy only)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError



def standardize(frames: np.ndarray) -> np.ndarray:
    """Standardize each image to zero mean and unit standard deviation.

    Parameters
    ----------
    frames : ndarray, shape (N, H, W)
        Detector frames (any real dtype).

    Returns
    -------
    ndarray, float32, shape (N, H, W)
        ``(x - mean) / std`` per image, computed in float64; a constant image (std 0)
        becomes all zeros. Same as :func:`fixsim.data.standardize`, so standardizing
        the simulator's (already standardized) frames again changes them only by rounding.

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
    return ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
