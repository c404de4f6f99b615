"""maxpool2d: max pooling of a (C, H, W) map without padding, floor or ceil mode.

Spec: ``kernel`` (int or [kh, kw]), ``stride`` (default: the kernel), ``ceil_mode``.
A window that runs past the edge (ceil mode) takes the max of its valid elements only.
The output keeps the input format (max needs no conversion), unless ``"formats":
{"result": R}`` is given: then each max is converted once, ``R(max)`` (hls4ml's pooling
``res_T``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...fixed import convert
from ...layers import _kernels_narrow as KN
from ...layers import maxpool2d_float, pool_out
from .. import schema as S
from ..spec_types import ResultLayer
from .base import LayerKind


@dataclass(frozen=True, kw_only=True)
class MaxPool2D(ResultLayer):
    """Max pooling without padding; ceil mode pools partial edge windows over valid elements."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    ceil_mode: bool
    type = "maxpool2d"

    def _own(self) -> dict:
        return {"kernel": list(self.kernel), "stride": list(self.stride),
                "ceil_mode": self.ceil_mode, **self._result_fields()}


class MaxPool2DKind(LayerKind):
    name = "maxpool2d"
    allowed = ("name", "type", "kernel", "stride", "ceil_mode", "formats") + S.DERIVED
    required = ("name", "type", "kernel")

    def parse(self, obj, ctx):
        where = ctx.where
        c, h, w = S.spatial(ctx.in_shape, where, "maxpool2d")
        kh, kw = S.pair(obj["kernel"], "kernel", where)
        sh, sw = S.pair(obj.get("stride", [kh, kw]), "stride", where)
        ceil_mode = S.boolean(obj.get("ceil_mode", False), "ceil_mode", where)
        if h < kh or w < kw:
            raise InputError(f"{where}: pool kernel {[kh, kw]} is larger than the input "
                             f"{[h, w]} (shape {tuple(ctx.in_shape)})")
        out = (c, pool_out(h, kh, sh, ceil_mode), pool_out(w, kw, sw, ceil_mode))
        return MaxPool2D(**ctx.common(), out_shape=out, kernel=(kh, kw), stride=(sh, sw),
                         ceil_mode=ceil_mode, result=S.result_format(obj, ctx.in_format, where))

    def run(self, layer, state, x, io):
        dst = io.dst()
        rowmax = np.empty(x.shape[3], x.dtype)
        if not layer.converts:
            KN._maxpool(x, *layer.kernel, *layer.stride, rowmax, dst)
            return dst
        m = np.empty(dst.shape, x.dtype)  # the max in the input format, then R(max)
        KN._maxpool(x, *layer.kernel, *layer.stride, rowmax, m)
        dst[...] = convert(m, layer.in_format, layer.result)
        return dst

    def run_float(self, layer, x, weights):
        return maxpool2d_float(x, layer.kernel, layer.stride, layer.ceil_mode)

    def pre_result(self, layer, state, x):
        m = np.empty((len(x), *layer.out_shape), np.int64)
        KN._maxpool(x, *layer.kernel, *layer.stride, np.empty(x.shape[3], x.dtype), m)
        return m


KINDS = (MaxPool2DKind(),)
