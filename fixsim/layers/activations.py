"""Standalone activations applied elementwise in the input's format (exact) and in float64.

relu: ``max(x, 0)``;  linear: ``x``;  leaky_relu: ``x if x >= 0 else T(x * alpha)`` with
``alpha`` quantized to its own format, the exact product, and ``T`` the input format.
With a result format ``R`` the value is converted once: ``R(max(x, 0))``, ``R(x)``,
``x >= 0 ? R(x) : R(x * alpha)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..fixed import FixedType, check_raw, convert, product_type
from . import _kernels as K
from .convert import descriptor

KINDS = ("linear", "relu", "leaky_relu")


def activation(x, fmt: FixedType, kind: str, alpha_raw: int = 0,
               alpha_format: FixedType | None = None, *,
               result: FixedType | None = None) -> np.ndarray:
    """Exact elementwise activation of raw mantissas in ``fmt`` (same shape, int64).

    ``result``: the output format (None: ``fmt``); the activated value is converted into
    it once, as the C++ ``result_t y = act(x)``.
    """
    if kind not in KINDS:
        raise InputError(f"activation {kind!r} is not one of {', '.join(KINDS)}")
    arr = check_raw(x, fmt, "activation input").astype(np.int64, copy=False)
    if result is not None and result != fmt:
        return _activation_into(arr, fmt, kind, int(alpha_raw), alpha_format, result)
    if kind == "linear":
        return arr.copy()
    code = 1 if kind == "relu" else 2
    ca = descriptor(product_type(fmt, alpha_format), fmt) if code == 2 else descriptor(fmt, fmt)
    out = np.empty(arr.size, np.int64)
    K._elementwise_activation(arr.reshape(-1), code, int(alpha_raw), ca, out)
    return out.reshape(arr.shape)


def _activation_into(arr, fmt, kind, alpha_raw, alpha_format, result) -> np.ndarray:
    """``R(act(x))``: relu and linear convert the activated value; leaky_relu converts x
    (x >= 0) or the exact product x * alpha (x < 0) once, never through ``fmt``."""
    if kind == "relu":
        return convert(np.maximum(arr, 0), fmt, result).astype(np.int64, copy=False)
    out = convert(arr, fmt, result).astype(np.int64, copy=False)
    if kind == "leaky_relu":
        neg = arr < 0
        if neg.any():
            out[neg] = convert(arr[neg] * np.int64(alpha_raw), product_type(fmt, alpha_format),
                               result)
    return out


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
