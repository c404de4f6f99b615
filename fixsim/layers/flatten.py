"""Flatten (N, C, H, W) to (N, C*H*W) in "chw" (PyTorch) or "hwc" (streaming) order.

chw: feature ``c*H*W + h*W + w``;  hwc: feature ``(h*W + w)*C + c``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

ORDERS = ("chw", "hwc")


def flatten(x, order: str = "chw") -> np.ndarray:
    """Flatten a batch of (C, H, W) maps (raw or float; values are only moved)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise InputError(f"flatten needs an (N, C, H, W) input, got shape {x.shape}")
    if order == "chw":
        return np.ascontiguousarray(x.reshape(x.shape[0], -1))
    if order == "hwc":
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1))
    raise InputError(f"flatten order {order!r} is not one of {', '.join(ORDERS)}")


def hwc_permutation(c: int, h: int, w: int) -> np.ndarray:
    """Index array p with ``hwc_vector = chw_vector[p]``.

    Dense weights are given in PyTorch (c, h, w) column order; a dense layer after an
    hwc flatten uses ``weight[:, p]`` so that column k multiplies hwc feature k.
    """
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
