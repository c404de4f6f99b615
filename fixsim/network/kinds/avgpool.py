"""avgpool2d/1d, global_avgpool2d/1d, global_maxpool2d/1d: average and global pooling of
a (C, H, W) or (C, L) map.

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
- avgpool1d, global_avgpool1d, global_maxpool1d: the same on a (C, L) map (``kernel``,
  ``stride`` and ``padding`` are integers; it is the 2-D layer on the (C, 1, L) map with a
  (1, K) window, in both twins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import FormatError, InputError, closest
from ...fixed import FixedType
from ...layers.avgpool import (POOL_SUMS, SCALINGS, TERMS, PoolConfig, avgpool2d,
                               avgpool2d_counted, avgpool2d_float, global_avgpool,
                               global_avgpool_counted, global_maxpool, global_maxpool_counted,
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
class AvgPool1D(_AvgLayer):
    """Average pooling of a (C, L) map, floor mode, symmetric zero padding."""

    kernel: int
    stride: int
    padding: int
    type = "avgpool1d"

    def _own(self) -> dict:
        return {"kernel": self.kernel, "stride": self.stride, "padding": self.padding,
                "count_pad": self.cfg.count_pad, **self._avg_fields()}


@dataclass(frozen=True, kw_only=True)
class GlobalAvgPool2D(_AvgLayer):
    """The mean of each channel over (H, W): (C, H, W) -> (C,)."""

    type = "global_avgpool2d"

    def _own(self) -> dict:
        d = self._avg_fields()
        del d["sum_order"]
        return d


@dataclass(frozen=True, kw_only=True)
class GlobalAvgPool1D(GlobalAvgPool2D):
    """The mean of each channel over L: (C, L) -> (C,)."""

    type = "global_avgpool1d"


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


@dataclass(frozen=True, kw_only=True)
class GlobalMaxPool1D(GlobalMaxPool2D):
    """The max of each channel over L: (C, L) -> (C,)."""

    type = "global_maxpool1d"


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
        _check_window((h, w), (kh, kw), (ph, pw), ctx)
        cfg = pool_config(obj, ctx, tree_allowed=True, count_pad=_count_pad(obj, where))
        out = (c, pool_out_padded(h, kh, sh, ph), pool_out_padded(w, kw, sw, pw))
        return AvgPool2D(**ctx.common(), out_shape=out, kernel=(kh, kw), stride=(sh, sw),
                         padding=(ph, pw), cfg=cfg)

    def run(self, layer, state, x, io):
        dst = io.dst()
        dst[...] = avgpool2d(x, layer.cfg, layer.kernel, layer.stride, layer.padding)
        return dst

    def run_counted(self, layer, state, x, events):
        return avgpool2d_counted(x, layer.cfg, layer.kernel, layer.stride, layer.padding, events)

    def run_float(self, layer, x, weights):
        return avgpool2d_float(x, layer.kernel, layer.stride, layer.padding, layer.cfg.count_pad)


class AvgPool1DKind(LayerKind):
    name = "avgpool1d"
    allowed = AvgPool2DKind.allowed
    required = AvgPool2DKind.required

    def parse(self, obj, ctx):
        where = ctx.where
        c, length = S.sequence(ctx.in_shape, where, self.name)
        k = S.integer(obj["kernel"], "kernel", where)
        s = S.integer(obj.get("stride", k), "stride", where)
        pad = obj.get("padding", "valid")
        if pad == "same" and k % 2 == 0:
            raise InputError(f"{where}: padding 'same' needs an odd kernel (symmetric zero "
                             f"padding), got {k}; give the padding as an integer")
        if isinstance(pad, str):
            p = {"valid": 0, "same": (k - 1) // 2}.get(pad)
            if p is None:
                raise InputError(f"{where}: padding {pad!r} is not 'valid', 'same' or an "
                                 f"integer{closest(pad, ('valid', 'same'))}")
        else:
            p = S.integer(pad, "padding", where, minimum=0)
        _check_window((length,), (k,), (p,), ctx)
        cfg = pool_config(obj, ctx, tree_allowed=True, count_pad=_count_pad(obj, where))
        return AvgPool1D(**ctx.common(), out_shape=(c, pool_out_padded(length, k, s, p)),
                         kernel=k, stride=s, padding=p, cfg=cfg)

    def run(self, layer, state, x, io):
        dst = io.dst()
        n, c, length = x.shape
        y = avgpool2d(x.reshape(n, c, 1, length), layer.cfg, (1, layer.kernel),
                      (1, layer.stride), (0, layer.padding))
        dst[...] = y.reshape(dst.shape)
        return dst

    def run_counted(self, layer, state, x, events):
        n, c, length = x.shape
        y = avgpool2d_counted(x.reshape(n, c, 1, length), layer.cfg, (1, layer.kernel),
                              (1, layer.stride), (0, layer.padding), events)
        return y.reshape(n, *layer.out_shape)

    def run_float(self, layer, x, weights):
        x = np.asarray(x, np.float64)
        y = avgpool2d_float(x[:, :, None, :], (1, layer.kernel), (1, layer.stride),
                            (0, layer.padding), layer.cfg.count_pad)
        return y[:, :, 0, :]


def _count_pad(obj, where):
    return S.boolean(obj.get("count_pad", False), "count_pad", where)


def _check_window(size, kernel, pad, ctx) -> None:
    """Every window holds an input element, and the kernel fits the padded input."""
    where = ctx.where
    if any(p >= k for p, k in zip(pad, kernel, strict=True)):
        raise InputError(f"{where}: padding {list(pad)} must be smaller than the kernel "
                         f"{list(kernel)} (a window of padding only has no elements to average)")
    padded = [n + 2 * p for n, p in zip(size, pad, strict=True)]
    if any(n < k for n, k in zip(padded, kernel, strict=True)):
        raise InputError(f"{where}: pool kernel {list(kernel)} is larger than the padded input "
                         f"{padded} (shape {tuple(ctx.in_shape)})")


def _global_shape(ctx, name: str, rank: int) -> int:
    """The channel count of a global pool's (C, H, W) or (C, L) input."""
    if rank == 2:
        return S.spatial(ctx.in_shape, ctx.where, name)[0]
    return S.sequence(ctx.in_shape, ctx.where, name)[0]


class GlobalAvgPoolKind(LayerKind):
    """global_avgpool2d (rank 2: (C, H, W)) and global_avgpool1d (rank 1: (C, L))."""

    allowed = ("name", "type", "formats", "term", "scaling") + S.DERIVED
    required = ("name", "type", "formats")

    def __init__(self, name: str, rank: int, cls):
        self.name, self.rank, self.cls = name, rank, cls

    def parse(self, obj, ctx):
        c = _global_shape(ctx, self.name, self.rank)
        cfg = pool_config(obj, ctx, tree_allowed=False, count_pad=True)
        return self.cls(**ctx.common(), out_shape=(c,), cfg=cfg)

    def run(self, layer, state, x, io):
        dst = io.dst()
        dst[...] = global_avgpool(x, layer.cfg)
        return dst

    def run_counted(self, layer, state, x, events):
        return global_avgpool_counted(x, layer.cfg, events)

    def run_float(self, layer, x, weights):
        return global_pool_float(x, "avg")


class GlobalMaxPoolKind(LayerKind):
    """global_maxpool2d (rank 2: (C, H, W)) and global_maxpool1d (rank 1: (C, L))."""

    allowed = ("name", "type", "formats", "term") + S.DERIVED
    required = ("name", "type")

    def __init__(self, name: str, rank: int, cls):
        self.name, self.rank, self.cls = name, rank, cls

    def parse(self, obj, ctx):
        where, x = ctx.where, ctx.in_format
        c = _global_shape(ctx, self.name, self.rank)
        term = S.choice(obj.get("term", "exact"), TERMS, "term", where)
        acc = res = None
        if "formats" in obj:
            fm = obj["formats"]
            S.keys(fm, ("accum", "result"), ("accum", "result"), f"{where} formats")
            acc = S.fixed_format(fm["accum"], "formats.accum", where)
            res = S.fixed_format(fm["result"], "formats.result", where)
            S.check_convert(x, acc, f"input {x} into accumulator", where)
            S.check_convert(acc, res, f"accumulator {acc} into result", where)
        return self.cls(**ctx.common(), out_shape=(c,), term=term, accum=acc, result=res)

    def run(self, layer, state, x, io):
        dst = io.dst()
        if layer.accum is None:
            dst[...] = x.reshape(len(x), x.shape[1], int(np.prod(x.shape[2:]))).max(axis=2)
        else:
            dst[...] = global_maxpool(x, layer.in_format, layer.accum, layer.result, layer.term)
        return dst

    def run_counted(self, layer, state, x, events):
        if layer.accum is None:
            return None  # the max in the input format: nothing converted
        return global_maxpool_counted(x, layer.in_format, layer.accum, layer.result, layer.term,
                                      events)

    def run_float(self, layer, x, weights):
        return global_pool_float(x, "max")


KINDS = (AvgPool2DKind(), GlobalAvgPoolKind("global_avgpool2d", 2, GlobalAvgPool2D),
         GlobalMaxPoolKind("global_maxpool2d", 2, GlobalMaxPool2D), AvgPool1DKind(),
         GlobalAvgPoolKind("global_avgpool1d", 1, GlobalAvgPool1D),
         GlobalMaxPoolKind("global_maxpool1d", 1, GlobalMaxPool1D))

__all__ = ["AvgPool2D", "AvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool1D", "GlobalMaxPool2D",
           "GlobalMaxPool1D", "pool_config", "KINDS"]
