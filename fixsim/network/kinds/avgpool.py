"""avgpool2d, global_avgpool2d, global_maxpool2d: average and global pooling of a (C, H, W) map.

Spec (docs/datapath.md, "AvgPool2D and global pooling"):

- avgpool2d: ``kernel``, ``stride`` (default: the kernel), ``padding`` ("valid", "same"
  for odd kernels, or [ph, pw], smaller than the kernel), ``count_pad`` (the divisor
  counts the padding taps; default false: only the elements inside the input),
  ``formats`` {``accum``, ``result``, ``reciprocal`` iff scaling "reciprocal"},
  ``term`` ("exact" | "to_accum"), ``sum_order`` ("sequential" | "tree"), ``scaling``
  ("divide" | "reciprocal").
- global_avgpool2d: the same without the window fields (and without the tree): the
  mean over (H, W) of each channel, output (C,).
- global_maxpool2d: the max over (H, W) of each channel, output (C,); optional
  ``formats`` {``accum``, ``result``} with ``term`` as hls4ml's io_parallel ("exact":
  ``R(A(max x))``) or io_stream ("to_accum": ``R(max A(x))``); without formats the
  output keeps the input format.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import FormatError, InputError
from ...fixed import FixedType
from ...layers.avgpool import (POOL_SUMS, SCALINGS, TERMS, PoolConfig, avgpool2d,
                               avgpool2d_float, global_avgpool2d, global_maxpool,
                               global_pool_float, pool_out_padded)
from .. import schema as S
from ..spec_types import Layer
from .base import LayerKind
from .conv2d import _padding

_AVG_KEYS = ("formats", "term", "sum_order", "scaling")


@dataclass(frozen=True, kw_only=True)
class _AvgLayer(Layer):
    """Fields of an averaging layer: its :class:`~fixsim.layers.avgpool.PoolConfig`."""

    cfg: PoolConfig

    @property
    def out_format(self) -> FixedType:
        return self.cfg.result

    def _avg_fields(self) -> dict:
        c = self.cfg
        fm = {"accum": str(c.accum), "result": str(c.result)}
        if c.reciprocal is not None:
            fm["reciprocal"] = str(c.reciprocal)
        return {"term": c.term, "sum_order": c.sum, "scaling": c.scaling, "formats": fm}


@dataclass(frozen=True, kw_only=True)
class AvgPool2D(_AvgLayer):
    """Average pooling, floor mode, symmetric zero padding."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    type = "avgpool2d"

    def _own(self) -> dict:
        return {"kernel": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding), "count_pad": self.cfg.count_pad,
                **self._avg_fields()}


@dataclass(frozen=True, kw_only=True)
class GlobalAvgPool2D(_AvgLayer):
    """The mean of each channel over (H, W): (C, H, W) -> (C,)."""

    type = "global_avgpool2d"

    def _own(self) -> dict:
        d = self._avg_fields()
        del d["sum_order"]
        return d


@dataclass(frozen=True, kw_only=True)
class GlobalMaxPool2D(Layer):
    """The max of each channel over (H, W): (C, H, W) -> (C,); ``accum``/``result`` None
    without formats (the output keeps the input format)."""

    term: str
    accum: FixedType | None = None
    result: FixedType | None = None
    type = "global_maxpool2d"

    @property
    def out_format(self) -> FixedType:
        return self.in_format if self.result is None else self.result

    def _own(self) -> dict:
        d: dict = {"term": self.term}
        if self.accum is not None:
            d["formats"] = {"accum": str(self.accum), "result": str(self.result)}
        return d


# ------------------------------------------------------------------ parsing
def _check_accum(acc: FixedType, what: str, where: str) -> None:
    if acc.width > (63 if acc.signed else 62):
        raise FormatError(f"{where}: {what} {acc} is {acc.width} bits; the sum of two "
                          "accumulator values must fit int64 (use W <= 63 signed, 62 unsigned)")


def pool_config(obj: dict, ctx, *, tree_allowed: bool, count_pad: bool) -> PoolConfig:
    """The :class:`PoolConfig` of an averaging layer object, every conversion checked."""
    where, x = ctx.where, ctx.in_format
    term = S.choice(obj.get("term", "exact"), TERMS, "term", where)
    order = S.choice(obj.get("sum_order", "sequential"), POOL_SUMS if tree_allowed
                     else ("sequential",), "sum_order", where)
    scaling = S.choice(obj.get("scaling", "divide"), SCALINGS, "scaling", where)
    if order == "tree" and term != "to_accum":
        raise InputError(f"{where}: sum_order 'tree' adds accumulator values (hls4ml's "
                         "io_stream reduce): it needs term 'to_accum'")
    recip = scaling == "reciprocal"
    if "formats" not in obj:
        raise InputError(f"{where}: missing required key 'formats' (accum, result"
                         f"{', reciprocal' if recip else ''})")
    fm = obj["formats"]
    S.keys(fm, ("accum", "result", "reciprocal"),
           ("accum", "result") + (("reciprocal",) if recip else ()), f"{where} formats")
    if not recip and "reciprocal" in fm:
        raise InputError(f"{where}: formats.reciprocal is given but scaling is 'divide' "
                         "(use scaling 'reciprocal')")
    acc = S.fixed_format(fm["accum"], "formats.accum", where)
    res = S.fixed_format(fm["result"], "formats.result", where)
    rec = S.fixed_format(fm["reciprocal"], "formats.reciprocal", where) if recip else None
    _check_accum(acc, "accumulator", where)
    cfg = PoolConfig(in_format=x, accum=acc, result=res, term=term, sum=order, scaling=scaling,
                     reciprocal=rec, count_pad=count_pad)
    st = S.int64_type(lambda: cfg.sum_format, "the sum accumulator + element", where)
    if term == "to_accum":
        S.check_convert(x, acc, f"input {x} into accumulator", where)
    S.check_convert(st, acc, f"sum {st} into accumulator", where)
    sc = S.int64_type(lambda: cfg.scaled_format, "accumulator x reciprocal", where)
    S.check_convert(sc, res, f"{'quotient' if not recip else 'scaled sum'} {sc} into result", where)
    return cfg


class AvgPool2DKind(LayerKind):
    name = "avgpool2d"
    allowed = ("name", "type", "kernel", "stride", "padding", "count_pad") + _AVG_KEYS + S.DERIVED
    required = ("name", "type", "kernel", "formats")

    def parse(self, obj, ctx):
        where = ctx.where
        c, h, w = S.spatial(ctx.in_shape, where, self.name)
        kh, kw = S.pair(obj["kernel"], "kernel", where)
        sh, sw = S.pair(obj.get("stride", [kh, kw]), "stride", where)
        ph, pw = _padding(obj.get("padding", "valid"), kh, kw, where)
        if ph >= kh or pw >= kw:
            raise InputError(f"{where}: padding {[ph, pw]} must be smaller than the kernel "
                             f"{[kh, kw]} (a window of padding only has no elements to average)")
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise InputError(f"{where}: pool kernel {[kh, kw]} is larger than the padded input "
                             f"{[h + 2 * ph, w + 2 * pw]} (shape {tuple(ctx.in_shape)})")
        count_pad = S.boolean(obj.get("count_pad", False), "count_pad", where)
        cfg = pool_config(obj, ctx, tree_allowed=True, count_pad=count_pad)
        out = (c, pool_out_padded(h, kh, sh, ph), pool_out_padded(w, kw, sw, pw))
        return AvgPool2D(**ctx.common(), out_shape=out, kernel=(kh, kw), stride=(sh, sw),
                         padding=(ph, pw), cfg=cfg)

    def run(self, layer, state, x, io):
        dst = io.dst()
        dst[...] = avgpool2d(x, layer.cfg, layer.kernel, layer.stride, layer.padding)
        return dst

    def run_float(self, layer, x, weights):
        return avgpool2d_float(x, layer.kernel, layer.stride, layer.padding, layer.cfg.count_pad)


class GlobalAvgPool2DKind(LayerKind):
    name = "global_avgpool2d"
    allowed = ("name", "type", "formats", "term", "scaling") + S.DERIVED
    required = ("name", "type", "formats")

    def parse(self, obj, ctx):
        c, _, _ = S.spatial(ctx.in_shape, ctx.where, self.name)
        cfg = pool_config(obj, ctx, tree_allowed=False, count_pad=True)
        return GlobalAvgPool2D(**ctx.common(), out_shape=(c,), cfg=cfg)

    def run(self, layer, state, x, io):
        dst = io.dst()
        dst[...] = global_avgpool2d(x, layer.cfg)
        return dst

    def run_float(self, layer, x, weights):
        return global_pool_float(x, "avg")


class GlobalMaxPool2DKind(LayerKind):
    name = "global_maxpool2d"
    allowed = ("name", "type", "formats", "term") + S.DERIVED
    required = ("name", "type")

    def parse(self, obj, ctx):
        where, x = ctx.where, ctx.in_format
        c, _, _ = S.spatial(ctx.in_shape, where, self.name)
        term = S.choice(obj.get("term", "exact"), TERMS, "term", where)
        acc = res = None
        if "formats" in obj:
            fm = obj["formats"]
            S.keys(fm, ("accum", "result"), ("accum", "result"), f"{where} formats")
            acc = S.fixed_format(fm["accum"], "formats.accum", where)
            res = S.fixed_format(fm["result"], "formats.result", where)
            S.check_convert(x, acc, f"input {x} into accumulator", where)
            S.check_convert(acc, res, f"accumulator {acc} into result", where)
        return GlobalMaxPool2D(**ctx.common(), out_shape=(c,), term=term, accum=acc, result=res)

    def run(self, layer, state, x, io):
        dst = io.dst()
        if layer.accum is None:
            dst[...] = x.reshape(len(x), x.shape[1], -1).max(axis=2)
        else:
            dst[...] = global_maxpool(x, layer.in_format, layer.accum, layer.result, layer.term)
        return dst

    def run_float(self, layer, x, weights):
        return global_pool_float(x, "max")


KINDS = (AvgPool2DKind(), GlobalAvgPool2DKind(), GlobalMaxPool2DKind())

__all__ = ["AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "pool_config", "KINDS"]
