"""flatten: a (C, H, W) map to a (C*H*W,) vector in "chw" (PyTorch) or "hwc" (streaming
raster) order.  Values are only moved: the output keeps the input format.

A dense layer after an hwc flatten (elementwise layers in between) permutes its
PyTorch-order weight columns (:attr:`Flatten.hwc_source`).

``"formats": {"result": R}`` converts every moved value once into R; the tap is then no
longer a view of the input.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    def hwc_source(self):
        return tuple(self.in_shape) if self.order == "hwc" else None

    def _own(self) -> dict:
        return {"order": self.order, **self._result_fields()}


class FlattenKind(LayerKind):
    name = "flatten"
    allowed = ("name", "type", "order", "formats") + S.DERIVED
    required = ("name", "type")

    def parse(self, obj, ctx):
        c, h, w = S.spatial(ctx.in_shape, ctx.where, "flatten")
        default = "chw" if ctx.dialect is None else "hwc"  # hls4ml: channels last
        order = S.choice(obj.get("order", default), ORDERS, "order", ctx.where)
        return Flatten(**ctx.common(), out_shape=(c * h * w,), order=order,
                       result=S.result_format(obj, ctx.in_format, ctx.where))

    def reshapes(self, layer):
        return layer.order == "chw" and not layer.converts

    def run(self, layer, state, x, io):
        if layer.order == "chw" and not layer.converts:
            return x.reshape(len(x), layer.out_shape[0])
        dst = io.dst()
        y = flatten(x, layer.order)
        dst[...] = convert(y, layer.in_format, layer.result) if layer.converts else y
        return dst

    def run_float(self, layer, x, weights):
        return flatten(x, layer.order)


KINDS = (FlattenKind(),)
