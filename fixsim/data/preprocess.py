"""The preprocessing shared by real (CXI) and simulated frames.

Real data: crop a window around the beam centre, zero masked pixels, block-mean bin,
standardize each image.  The simulator produces binned photon counts directly (see
:mod:`fixsim.data.simulate`) and then calls the same :func:`standardize`.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def crop_window(shape: tuple, centre: tuple, crop: int) -> tuple:
    """Row and column start of a ``crop`` x ``crop`` window centred on ``centre``.

    ``centre`` is (row, col) in pixel-index coordinates (pixel i covers [i-0.5, i+0.5]);
    the window's geometric centre is the nearest one to it.

    Raises
    ------
    InputError
        The window does not fit inside a frame of ``shape`` (rows, cols).
    """
    h, w = shape
    r0 = int(np.floor(centre[0] - (crop - 1) / 2 + 0.5))
    c0 = int(np.floor(centre[1] - (crop - 1) / 2 + 0.5))
    if r0 < 0 or c0 < 0 or r0 + crop > h or c0 + crop > w:
        raise InputError(
            f"crop window {crop}x{crop} at centre (row {centre[0]:g}, col {centre[1]:g}) spans "
            f"rows {r0}..{r0 + crop - 1}, cols {c0}..{c0 + crop - 1}, outside the "
            f"{h}x{w} frame")
    return r0, c0


def bin_mean(frames: np.ndarray, factor: int) -> np.ndarray:
    """Block mean over ``factor`` x ``factor`` tiles of the last two axes (float64).

    Parameters
    ----------
    frames : ndarray (..., H, W) with H and W multiples of ``factor``.
    """
    *lead, h, w = frames.shape
    if h % factor or w % factor:
        raise InputError(f"frame {h}x{w} is not a multiple of the bin factor {factor}")
    b = frames.reshape(*lead, h // factor, factor, w // factor, factor)
    return b.mean(axis=(-3, -1), dtype=np.float64)


def standardize(frames: np.ndarray) -> np.ndarray:
    """Per-image ``(x - mean) / std`` over the last two axes, as float32.

    A constant image (std 0) becomes all zeros instead of NaN.

    Parameters
    ----------
    frames : ndarray (..., H, W)

    Returns
    -------
    ndarray (..., H, W), float32
    """
    x = np.asarray(frames, dtype=np.float64)
    mean = x.mean(axis=(-2, -1), keepdims=True)
    std = x.std(axis=(-2, -1), keepdims=True)
    safe = np.where(std > 0, std, 1.0)
    return ((x - mean) / safe).astype(np.float32)
