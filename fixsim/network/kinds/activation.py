"""relu, linear, leaky_relu: standalone elementwise activations in their input's format.

relu: ``max(x, 0)``;  linear: ``x``;  leaky_relu: ``x if x >= 0 else T(x * alpha)`` with
``alpha`` quantized to ``alpha_format``, the exact product, and ``T`` the input format.
Spec: leaky_relu takes ``alpha`` and ``alpha_format``; relu and linear take nothing.
Each may take ``"formats": {"result": R}``: the output is then ``R(act(x))`` (leaky_relu:
``x >= 0 ? R(x) : R(x * alpha)``, one conversion), hls4ml's activation ``res_T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...fixed import product_type
from ...layers import activation, activation_float
from .. import schema as S
from ..spec_types import Activation, ResultLayer
from .base import LayerKind


@dataclass(frozen=True, kw_only=True)
class ActivationLayer(ResultLayer):
    """A standalone elementwise activation in its input's format (or its result format)."""

    activation: Activation

    @property
    def type(self) -> str:  # type: ignore[override]
        return self.activation.kind

    def _own(self) -> dict:
        if self.activation.kind != "leaky_relu":
            return self._result_fields()
        return {"alpha": self.activation.alpha, "alpha_format": str(self.activation.alpha_format),
                **self._result_fields()}


class ActivationKind(LayerKind):
    """relu and linear (no fields); :class:`LeakyReluKind` adds alpha."""

    allowed = ("name", "type", "formats") + S.DERIVED
    elementwise = True

    def __init__(self, name: str):
        self.name = name

    def activation(self, obj, ctx, result) -> Activation:
        return Activation(self.name)

    def parse(self, obj, ctx):
        result = S.result_format(obj, ctx.in_format, ctx.where)
        return ActivationLayer(**ctx.common(), out_shape=tuple(ctx.in_shape),
                               activation=self.activation(obj, ctx, result), result=result)

    def run(self, layer, state, x, io):
        act = layer.activation
        dst = io.dst()
        dst[...] = activation(x, layer.in_format, act.kind, act.alpha_raw or 0, act.alpha_format,
                              result=layer.result)
        return dst

    def run_float(self, layer, x, weights):
        return activation_float(x, layer.activation.kind, layer.activation.alpha or 0.0)

    def pre_result(self, layer, state, x):
        if layer.activation.kind == "relu":
            return np.maximum(x, 0).astype(np.int64)
        if layer.activation.kind == "linear":
            return x.astype(np.int64)
        return None  # leaky relu converts x or x * alpha


class LeakyReluKind(ActivationKind):
    def run_counted(self, layer, state, x, events):
        """``x >= 0 ? R(x) : R(x * alpha)`` (R: the result format, else the input's; x >= 0
        is not converted without a result format), every conversion counted."""
        from ...layers._counting import convert_events, slot

        act, fmt = layer.activation, layer.in_format
        x = np.asarray(x, np.int64)
        ev = slot(events, "result")
        out = x.copy()
        pos = x >= 0
        if layer.converts:
            out[pos] = convert_events(x[pos], fmt, layer.result, ev)
        neg = ~pos
        out[neg] = convert_events(x[neg] * np.int64(act.alpha_raw),
                                   product_type(fmt, act.alpha_format), layer.out_format, ev)
        return out

    allowed = ("name", "type", "alpha", "alpha_format", "formats") + S.DERIVED
    required = ("name", "type", "alpha", "alpha_format")

    def activation(self, obj, ctx, result) -> Activation:
        act = S.alpha(obj["alpha"], obj["alpha_format"], ctx.where)
        ap = S.int64_type(lambda: product_type(ctx.in_format, act.alpha_format),
                          "leaky_relu alpha product", ctx.where)
        if result is None:
            S.check_convert(ap, ctx.in_format, "alpha product into the layer format", ctx.where)
        else:
            S.check_convert(ap, result, "alpha product into the result format", ctx.where)
        return act


KINDS = (ActivationKind("relu"), ActivationKind("linear"), LeakyReluKind("leaky_relu"))
