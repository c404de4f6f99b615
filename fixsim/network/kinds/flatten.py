"""flatten: a (C, H, W) map to a (C*H*W,) vector in "chw" (PyTorch) or "hwc" (streaming
raster) order.  Values are only moved: the output keeps the input format.  A 1-D (C, L)
map is flattened as the (C, 1, L) map: chw feature ``c*L + l``, hwc feature ``l*C + c``.

A dense layer after an hwc flatten (elementwise layers in between) permutes its
PyTorch-order weight columns (:attr:`Flatten.hwc_source`).

``"formats": {"result": R}`` converts every moved value once into R; the tap is then no
longer a view of the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...fixed import convert
from ...layers import flatten
from ...layers.flatten import ORDERS
from .. import schema as S
from ..spec_types import ResultLayer
from .base import LayerKind


@dataclass(frozen=True, kw_only=True)
class Flatten(ResultLayer):
    """(C, H, W) to (C*H*W,) in "chw" (PyTorch) or "hwc" (streaming raster) order."""

    order: str
    type = "flatten"

    @property
    def map_shape(self) -> tuple[int, int, int]:
        """The input as a (C, H, W) map ((C, L) is (C, 1, L))."""
        s = tuple(self.in_shape)
        return (s[0], 1, s[1]) if len(s) == 2 else s

    @property
    def hwc_source(self):
        return self.map_shape if self.order == "hwc" else None

    def _own(self) -> dict:
        return {"order": self.order, **self._result_fields()}


class FlattenKind(LayerKind):
    name = "flatten"
    allowed = ("name", "type", "order", "formats") + S.DERIVED
    required = ("name", "type")

    def parse(self, obj, ctx):
        shape = tuple(ctx.in_shape)
        if len(shape) == 2:
            S.sequence(shape, ctx.where, "flatten")
        else:
            S.spatial(shape, ctx.where, "flatten")
        default = "chw" if ctx.dialect is None else "hwc"  # hls4ml: channels last
        order = S.choice(obj.get("order", default), ORDERS, "order", ctx.where)
        result = S.result_format(obj, ctx.in_format, ctx.where)
        if result is not None and ctx.dialect is not None:
            raise InputError(f"{ctx.where}: formats.result on a flatten is not hls4ml's datapath "
                             "(its Reshape converts nothing); remove it or drop the dialect")
        return Flatten(**ctx.common(), out_shape=(int(np.prod(shape)),), order=order,
                       result=result)

    def reshapes(self, layer):
        return layer.order == "chw" and not layer.converts

    def run(self, layer, state, x, io):
        if layer.order == "chw" and not layer.converts:
            return x.reshape(len(x), layer.out_shape[0])
        dst = io.dst()
        y = flatten(x.reshape(len(x), *layer.map_shape), layer.order)
        dst[...] = convert(y, layer.in_format, layer.result) if layer.converts else y
        return dst

    def run_float(self, layer, x, weights):
        return flatten(x.reshape(len(x), *layer.map_shape), layer.order)

    def pre_result(self, layer, state, x):
        return flatten(x.reshape(len(x), *layer.map_shape), layer.order).astype(np.int64)


KINDS = (FlattenKind(),)
