"""zeropad1d, zeropad2d: zero padding of a (C, L) or (C, H, W) map as its own layer
(Keras ZeroPadding1D/2D, PyTorch ZeroPad1d/2d).  Values are only moved and the pads are
the format's zero (raw 0): the output keeps the input format.

Spec: zeropad1d ``padding``: p (both sides) or [left, right]; zeropad2d ``padding``:
p, [ph, pw] (symmetric) or [[top, bottom], [left, right]] (Keras' form, the canonical
one).  Every amount is >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from .. import schema as S
from ..spec_types import Layer
from .base import LayerKind


def _side_pair(value, what: str, where: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InputError(f"{where}: {what} must be an integer or a pair, got {value!r}")
    return (S.integer(value[0], what, where, minimum=0), S.integer(value[1], what, where, minimum=0))


@dataclass(frozen=True, kw_only=True)
class ZeroPad1D(Layer):
    """Zeros before and after the L axis of a (C, L) map."""

    padding: tuple[int, int]
    type = "zeropad1d"

    def _own(self) -> dict:
        return {"padding": list(self.padding)}


@dataclass(frozen=True, kw_only=True)
class ZeroPad2D(Layer):
    """Zeros around a (C, H, W) map: ``padding`` = ((top, bottom), (left, right))."""

    padding: tuple[tuple[int, int], tuple[int, int]]
    type = "zeropad2d"

    def _own(self) -> dict:
        return {"padding": [list(self.padding[0]), list(self.padding[1])]}


class ZeroPad1DKind(LayerKind):
    name = "zeropad1d"
    allowed = ("name", "type", "padding") + S.DERIVED
    required = ("name", "type", "padding")

    def parse(self, obj, ctx):
        c, length = S.sequence(ctx.in_shape, ctx.where, self.name)
        pad = _side_pair(obj["padding"], "padding", ctx.where)
        return ZeroPad1D(**ctx.common(), out_shape=(c, length + sum(pad)), padding=pad)

    def widths(self, layer) -> tuple:
        return (layer.padding,)

    def run(self, layer, state, x, io):
        dst = io.dst()
        dst[...] = 0
        inner = tuple(slice(a, a + s) for (a, _), s in zip(self.widths(layer), x.shape[2:], strict=True))
        dst[(slice(None), slice(None)) + inner] = x
        return dst

    def run_float(self, layer, x, weights):
        return np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0)) + self.widths(layer))


class ZeroPad2DKind(ZeroPad1DKind):
    name = "zeropad2d"

    def parse(self, obj, ctx):
        where = ctx.where
        c, h, w = S.spatial(ctx.in_shape, where, self.name)
        pad = obj["padding"]
        if isinstance(pad, (list, tuple)) and len(pad) == 2 and all(
                isinstance(p, (list, tuple)) for p in pad):
            hp, wp = (_side_pair(pad[0], "padding [top, bottom]", where),
                      _side_pair(pad[1], "padding [left, right]", where))
        elif isinstance(pad, (list, tuple)) and len(pad) == 2:
            ph, pw = _side_pair(pad, "padding", where)
            hp, wp = (ph, ph), (pw, pw)
        elif isinstance(pad, int) and not isinstance(pad, bool):
            hp = wp = _side_pair(pad, "padding", where)
        else:
            raise InputError(f"{where}: padding must be p, [ph, pw] or [[top, bottom], "
                             f"[left, right]], got {pad!r}")
        return ZeroPad2D(**ctx.common(), out_shape=(c, h + sum(hp), w + sum(wp)), padding=(hp, wp))

    def widths(self, layer) -> tuple:
        return layer.padding


KINDS = (ZeroPad1DKind(), ZeroPad2DKind())
