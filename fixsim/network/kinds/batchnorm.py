"""batchnorm: per-channel ``y = R(x * scale[c] + bias[c])``, for designs that do not fold it.

Spec: ``formats`` {``scale``, ``bias``, ``result``} (all required).  Tensors: ``scale``
(C,) and ``bias`` (C,): per channel of a (C, H, W) or (C, L) map, per feature of a flat
(F,) vector.  The product and the sum are exact, one conversion into R (hls4ml's
``nnet::normalize``; docs/datapath.md, "BatchNorm").  Inference form only: the float
PyTorch module's ``gamma / sqrt(var + eps)`` and ``beta - mean * scale`` are the
caller's (see :func:`fixsim.layers.batchnorm.batchnorm_float`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...fixed import FixedType
from ...layers.batchnorm import BatchNormConfig, batchnorm, batchnorm_float
from .. import schema as S
from ..spec_types import Layer, Tensor
from .base import LayerKind


@dataclass(frozen=True, kw_only=True)
class BatchNorm(Layer):
    """Per-channel scale and bias, exact product and sum, one conversion to the result."""

    cfg: BatchNormConfig
    type = "batchnorm"

    @property
    def out_format(self) -> FixedType:
        return self.cfg.result

    @property
    def channels(self) -> int:
        return self.in_shape[0]

    def tensors(self) -> tuple[Tensor, ...]:
        c = self.channels
        return (Tensor(self.name, "scale", (c,), self.cfg.scale, 1),
                Tensor(self.name, "bias", (c,), self.cfg.bias, 1))

    def _own(self) -> dict:
        c = self.cfg
        return {"formats": {"scale": str(c.scale), "bias": str(c.bias), "result": str(c.result)}}


class BatchNormKind(LayerKind):
    name = "batchnorm"
    allowed = ("name", "type", "formats") + S.DERIVED
    required = ("name", "type", "formats")

    def parse(self, obj, ctx):
        where = ctx.where
        if ctx.hwc_source is not None and len(ctx.in_shape) == 1:
            raise InputError(f"{where}: batchnorm on the features of an hwc flatten is not "
                             "supported (its scale would be in PyTorch (c, h, w) order); "
                             "normalize the map before the flatten (per channel)")
        fm = obj["formats"]
        S.keys(fm, ("scale", "bias", "result"), ("scale", "bias", "result"), f"{where} formats")
        cfg = BatchNormConfig(in_format=ctx.in_format,
                              scale=S.fixed_format(fm["scale"], "formats.scale", where),
                              bias=S.fixed_format(fm["bias"], "formats.bias", where),
                              result=S.fixed_format(fm["result"], "formats.result", where))
        S.int64_type(lambda: cfg.product_format, f"the product input {ctx.in_format} x scale "
                     f"{cfg.scale}", where)
        st = S.int64_type(lambda: cfg.sum_format, "product + bias", where)
        S.check_convert(st, cfg.result, f"sum {st} into result", where)
        return BatchNorm(**ctx.common(), out_shape=tuple(ctx.in_shape), cfg=cfg)

    def run(self, layer, state, x, io):
        dst = io.dst()
        dst[...] = batchnorm(x, state[0], state[1], layer.cfg)
        return dst

    def run_counted(self, layer, state, x, events):
        """``R(x * scale[c] + bias[c])`` from the exact sums, the conversion counted."""
        from ...layers._counting import convert_events, slot

        cfg = layer.cfg
        p, s = cfg.product_format, cfg.sum_format
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        scale, bias = (np.asarray(v, np.int64).reshape(shape) for v in state)
        sums = ((np.asarray(x, np.int64) * scale) << (s.frac_bits - p.frac_bits)) + (
            bias << (s.frac_bits - cfg.bias.frac_bits))
        return convert_events(sums, s, cfg.result, slot(events, "result"))

    def prepare(self, layer, weights, method):
        return weights[f"{layer.name}.scale"], weights[f"{layer.name}.bias"]

    def run_float(self, layer, x, weights):
        return batchnorm_float(x, weights[f"{layer.name}.scale"], weights[f"{layer.name}.bias"])


KINDS = (BatchNormKind(),)

__all__ = ["BatchNorm", "KINDS"]
