"""BatchNormalization as its own layer (not folded): ``y = R(x * scale[c] + bias[c])``.

The product is exact (``ap_fixed<Wx+Ws, Ix+Is>``), the sum with the bias is exact (the
headers' sum type), and there is one conversion, into the result format R, as in
hls4ml's ``nnet::normalize`` (``res[i] = product(data[i], scale[c]) + bias[c]``).
``c`` is the channel (axis 1 of the batch): per channel of a (C, H, W) or (C, L) map,
per feature of a flat (F,) vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import InputError
from ..fixed import FixedType, check_raw, product_type, sum_type
from . import _kernels as K
from .avgpool import assign_descriptor


@dataclass(frozen=True)
class BatchNormConfig:
    """The ``CONFIG_T`` of a batchnorm layer: input, scale, bias and result formats."""

    in_format: FixedType
    scale: FixedType
    bias: FixedType
    result: FixedType

    @property
    def product_format(self) -> FixedType:
        """The exact type of ``x * scale``."""
        return product_type(self.in_format, self.scale)

    @property
    def sum_format(self) -> FixedType:
        """The exact type of ``x * scale + bias`` (R converts from it)."""
        return sum_type(self.product_format, self.bias)


@njit(cache=True, nogil=True)
def _batchnorm(x, scale, bias, sp, sb, cr, out):
    """out[n, c, i] = R((x*s[c] << sp) + (b[c] << sb)) on the sum grid, x (N, C, P): the
    exact sums of a row, then their conversion as one vector pass."""
    n_n, n_c, n_p = x.shape
    for n in range(n_n):
        for c in range(n_c):
            s = scale[c]
            b = bias[c] << sb
            row = out[n, c]
            for i in range(n_p):
                row[i] = ((x[n, c, i] * s) << sp) + b
            K.convert_array(row, cr, row)


def batchnorm(x, scale, bias, cfg: BatchNormConfig) -> np.ndarray:
    """Exact batch normalization of raw mantissas x (N, C, ...) in ``cfg.in_format``.

    ``scale``/``bias`` are raw (C,) in ``cfg.scale``/``cfg.bias``; returns int64 raw in R,
    the shape of x.
    """
    x = np.asarray(x)
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.integer):
        raise InputError(f"batchnorm works on raw integer (N, C, ...) input, got {x.dtype} {x.shape}")
    c = x.shape[1]
    scale = check_raw(np.asarray(scale), cfg.scale, "batchnorm scale").astype(np.int64)
    bias = check_raw(np.asarray(bias), cfg.bias, "batchnorm bias").astype(np.int64)
    if scale.shape != (c,) or bias.shape != (c,):
        raise InputError(f"batchnorm: scale {scale.shape} and bias {bias.shape} must be ({c},)")
    p, s = cfg.product_format, cfg.sum_format
    x3 = np.ascontiguousarray(x.reshape(x.shape[0], c, int(np.prod(x.shape[2:]))), np.int64)
    out = np.empty(x3.shape, np.int64)
    _batchnorm(x3, scale, bias, s.frac_bits - p.frac_bits, s.frac_bits - cfg.bias.frac_bits,
               assign_descriptor(s, cfg.result), out)
    return out.reshape(x.shape)


def batchnorm_float(x, scale, bias) -> np.ndarray:
    """Float64 ``x * scale[c] + bias[c]`` over axis 1 of x (N, C, ...)."""
    x = np.asarray(x, np.float64)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return x * np.asarray(scale, np.float64).reshape(shape) + np.asarray(bias, np.float64).reshape(shape)


__all__ = ["BatchNormConfig", "batchnorm", "batchnorm_float"]
