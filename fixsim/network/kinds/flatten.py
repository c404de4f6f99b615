"""flatten: a (C, H, W) map to a (C*H*W,) vector in "chw" (PyTorch) or "hwc" (streaming
raster) order.  Values are only moved: the output keeps the input format.

A dense layer after an hwc flatten (elementwise layers in between) permutes its
PyTorch-order weight columns (:attr:`Flatten.hwc_source`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...layers import flatten
from ...layers.flatten import ORDERS
from .. import schema as S
from ..spec_types import Layer
from .base import LayerKind


@dataclass(frozen=True, kw_only=True)
class Flatten(Layer):
    """(C, H, W) to (C*H*W,) in "chw" (PyTorch) or "hwc" (streaming raster) order."""

    order: str
    type = "flatten"

    @property
    def hwc_source(self):
        return tuple(self.in_shape) if self.order == "hwc" else None

    def _own(self) -> dict:
        return {"order": self.order}


class FlattenKind(LayerKind):
    name = "flatten"
    allowed = ("name", "type", "order") + S.DERIVED
    required = ("name", "type")

    def parse(self, obj, ctx):
        c, h, w = S.spatial(ctx.in_shape, ctx.where, "flatten")
        order = S.choice(obj.get("order", "chw"), ORDERS, "order", ctx.where)
        return Flatten(**ctx.common(), out_shape=(c * h * w,), order=order)

    def reshapes(self, layer):
        return layer.order == "chw"

    def run(self, layer, state, x, io):
        if layer.order == "chw":
            return x.reshape(len(x), layer.out_shape[0])
        dst = io.dst()
        dst[...] = flatten(x, layer.order)
        return dst

    def run_float(self, layer, x, weights):
        return flatten(x, layer.order)


KINDS = (FlattenKind(),)
