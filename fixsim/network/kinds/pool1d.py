"""maxpool1d: max pooling of a (C, L) map without padding, floor or ceil mode.

Spec: ``kernel`` (int), ``stride`` (int, default: the kernel), ``ceil_mode``.  It is
maxpool2d of the (C, 1, L) map with a (1, K) window: a window that runs past the end
(ceil mode) takes the max of its valid elements only; the output keeps the input format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...layers import _kernels_narrow as KN
from ...layers import maxpool2d_float, pool_out
from .. import schema as S
from ..spec_types import Layer
from .base import LayerKind


@dataclass(frozen=True, kw_only=True)
class MaxPool1D(Layer):
    """1-D max pooling without padding; ceil mode pools a partial last window."""

    kernel: int
    stride: int
    ceil_mode: bool
    type = "maxpool1d"

    def _own(self) -> dict:
        return {"kernel": self.kernel, "stride": self.stride, "ceil_mode": self.ceil_mode}


class MaxPool1DKind(LayerKind):
    name = "maxpool1d"
    allowed = ("name", "type", "kernel", "stride", "ceil_mode") + S.DERIVED
    required = ("name", "type", "kernel")

    def parse(self, obj, ctx):
        where = ctx.where
        c, length = S.sequence(ctx.in_shape, where, "maxpool1d")
        k = S.integer(obj["kernel"], "kernel", where)
        s = S.integer(obj.get("stride", k), "stride", where)
        ceil_mode = S.boolean(obj.get("ceil_mode", False), "ceil_mode", where)
        if length < k:
            raise InputError(f"{where}: pool kernel {k} is larger than the input length "
                             f"{length} (shape {tuple(ctx.in_shape)})")
        return MaxPool1D(**ctx.common(), out_shape=(c, pool_out(length, k, s, ceil_mode)),
                         kernel=k, stride=s, ceil_mode=ceil_mode)

    def run(self, layer, state, x, io):
        dst = io.dst()
        n, c, length = x.shape
        rowmax = np.empty(length, x.dtype)
        KN._maxpool(x.reshape(n, c, 1, length), 1, layer.kernel, 1, layer.stride, rowmax,
                    dst.reshape(n, c, 1, -1))
        return dst

    def run_float(self, layer, x, weights):
        y = maxpool2d_float(np.asarray(x, np.float64)[:, :, None, :], (1, layer.kernel),
                            (1, layer.stride), layer.ceil_mode)
        return y[:, :, 0, :]


KINDS = (MaxPool1DKind(),)
