"""MaxPool2D without padding, floor or ceil mode, exact (raw ints) and float64.

A window that runs past the last row or column (ceil mode) takes the max of its
valid elements only, as PyTorch does; it never sees a padding value.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from . import _kernels as K


def pool_out(size: int, k: int, s: int, ceil_mode: bool) -> int:
    """Output length of a window sweep without padding (PyTorch's rule)."""
    if ceil_mode:
        out = -(-(size - k) // s) + 1
        if (out - 1) * s >= size:  # the last window must start inside the input
            out -= 1
        return out
    return (size - k) // s + 1


def _shape(x, kernel, stride, ceil_mode):
    if x.ndim != 4:
        raise InputError(f"maxpool2d needs an (N, C, H, W) input, got shape {x.shape}")
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    if h < kh or w < kw:
        raise InputError(f"maxpool2d: kernel {(kh, kw)} is larger than the input {(h, w)}")
    return n, c, pool_out(h, kh, sh, ceil_mode), pool_out(w, kw, sw, ceil_mode)


def maxpool2d(x, kernel=(2, 2), stride=None, ceil_mode: bool = False) -> np.ndarray:
    """Max pooling of raw mantissas (int64, any format: max needs no conversion).

    Returns (N, C, OH, OW) int64.
    """
    x = np.ascontiguousarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise InputError(f"maxpool2d works on raw integer mantissas, got dtype {x.dtype}")
    stride = tuple(kernel) if stride is None else tuple(stride)
    shape = _shape(x, tuple(kernel), stride, ceil_mode)
    out = np.empty(shape, np.int64)
    K._maxpool(x.astype(np.int64, copy=False), kernel[0], kernel[1], stride[0], stride[1], out)
    return out


def maxpool2d_float(x, kernel=(2, 2), stride=None, ceil_mode: bool = False) -> np.ndarray:
    """Float64 max pooling with the same window rule (numpy, for the float path)."""
    x = np.asarray(x, np.float64)
    stride = tuple(kernel) if stride is None else tuple(stride)
    n, c, oh, ow = _shape(x, tuple(kernel), stride, ceil_mode)
    (kh, kw), (sh, sw) = kernel, stride
    h, w = x.shape[2:]
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * sh:min(i * sh + kh, h), j * sw:min(j * sw + kw, w)].max(axis=(2, 3))
    return out
