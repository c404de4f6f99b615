"""Standalone activations applied elementwise in the input's format (exact) and in float64.

relu: ``max(x, 0)``;  linear: ``x``;  leaky_relu: ``x if x >= 0 else T(x * alpha)`` with
``alpha`` quantized to its own format, the exact product, and ``T`` the input format.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..fixed import FixedType, check_raw, product_type
from . import _kernels as K
from .convert import descriptor

KINDS = ("linear", "relu", "leaky_relu")


def activation(x, fmt: FixedType, kind: str, alpha_raw: int = 0,
               alpha_format: FixedType | None = None) -> np.ndarray:
    """Exact elementwise activation of raw mantissas in ``fmt`` (same shape, int64)."""
    if kind not in KINDS:
        raise InputError(f"activation {kind!r} is not one of {', '.join(KINDS)}")
    arr = check_raw(x, fmt, "activation input").astype(np.int64, copy=False)
    if kind == "linear":
        return arr.copy()
    code = 1 if kind == "relu" else 2
    ca = descriptor(product_type(fmt, alpha_format), fmt) if code == 2 else descriptor(fmt, fmt)
    out = np.empty(arr.size, np.int64)
    K._elementwise_activation(arr.reshape(-1), code, int(alpha_raw), ca, out)
    return out.reshape(arr.shape)


def activation_float(x, kind: str, alpha: float = 0.0) -> np.ndarray:
    """Float64 activation (alpha as the exact number given)."""
    x = np.asarray(x, np.float64)
    if kind == "linear":
        return x.copy()
    if kind == "relu":
        return np.maximum(x, 0.0)
    if kind == "leaky_relu":
        return np.where(x >= 0, x, x * alpha)
    raise InputError(f"activation {kind!r} is not one of {', '.join(KINDS)}")
