"""sigmoid, tanh, softmax: activations through lookup tables (hls4ml's tables, exactly).

Spec (docs/datapath.md, "Lookup-table activations"; every default written out in the
canonical JSON)::

    {"type": "sigmoid" | "tanh", "table_size": 1024, "range": 8 (sigmoid) / 4 (tanh),
     "index": "trunc" | "floor",
     "formats": {"table": "ap_fixed<18,8>", "result": <input format>}}

    {"type": "softmax", "implementation": "stable" | "latency",
     "exp_table_size": ..., "inv_table_size": ..., "exp_scale": 1.0,
     "formats": {"exp_table", "inv_table", "accum", "inv_inp": ap_fixed<18,8,AP_RND,AP_SAT>,
                 "inp_norm" (stable): ap_ufixed<W-s, I-s>, "result": <input format>}}

The defaults are hls4ml 1.3.0's (Vivado backend): table sizes 1024 reduced as its
``FixSoftmaxTableSize`` pass does, ``inp_norm`` as its softmax config template derives it.
Softmax runs over the channels (axis 0 of the per-frame shape; every feature of a flat
input), as PyTorch ``Softmax(dim=1)`` and hls4ml's channels-last last axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import FormatError, InputError
from ...fixed import FixedType, difference_type, product_type, sum_type
from ...layers import lut as L
from ...layers.convert import descriptor
from .. import schema as S
from ..spec_types import Layer
from .base import LayerKind

#: hls4ml's table format of sigmoid/tanh (``table_t``) and softmax's four formats.
HLS4ML_TABLE = FixedType.parse("ap_fixed<18,8>")
HLS4ML_SOFTMAX = FixedType.parse("ap_fixed<18,8,AP_RND,AP_SAT>")
#: hls4ml's table size and input ranges (sigmoid: [-8, 8), tanh: [-4, 4)).
HLS4ML_TABLE_SIZE = 1024
HLS4ML_RANGE = {"sigmoid": 8, "tanh": 4}
#: The index computation's C ``int``: |x| * table_size must stay below this.
INT32 = 1 << 31


def _formats(obj, roles, where: str) -> dict:
    fm = obj.get("formats", {})
    S.keys(fm, roles, (), f"{where} formats")
    return {k: S.fixed_format(v, f"formats.{k}", where) for k, v in fm.items()}


def _table_size(value, what: str, where: str, power_of_two: bool) -> int:
    n = S.integer(value, what, where, minimum=2)
    if n > L.MAX_TABLE_SIZE:
        raise InputError(f"{where}: {what} {n} exceeds {L.MAX_TABLE_SIZE} entries")
    if power_of_two and n & (n - 1):
        lo = 1 << (n.bit_length() - 1)
        raise InputError(f"{where}: {what} {n} must be a power of two (its index is the top "
                         f"log2(size) bits of a value), e.g. {lo} or {2 * lo}")
    return n


# ------------------------------------------------------------------ sigmoid / tanh
@dataclass(frozen=True, kw_only=True)
class LutActivation(Layer):
    """sigmoid or tanh through one table of ``table_size`` entries over [-range, range)."""

    function: str
    table_size: int
    range: int
    index: str
    table: FixedType
    result: FixedType

    @property
    def type(self) -> str:  # type: ignore[override]
        return self.function

    @property
    def out_format(self) -> FixedType:
        return self.result

    @property
    def index_format(self) -> FixedType:
        """The input with at least the integer LSB (exact): the "floor" index's quotient."""
        f = self.in_format
        return FixedType(f.width + max(0, -f.frac_bits), f.int_bits, f.signed)

    def _own(self) -> dict:
        return {"table_size": self.table_size, "range": self.range, "index": self.index,
                "formats": {"table": str(self.table), "result": str(self.result)}}


class LutKind(LayerKind):
    """sigmoid and tanh: ``R(table[clamp(q(x) + N//2, 0, N - 1)])``."""

    allowed = ("name", "type", "table_size", "range", "index", "formats") + S.DERIVED
    elementwise = True

    def __init__(self, name: str):
        self.name = name

    def parse(self, obj, ctx):
        where, fin = ctx.where, ctx.in_format
        size = _table_size(obj.get("table_size", HLS4ML_TABLE_SIZE), "table_size", where, False)
        rng = S.integer(obj.get("range", HLS4ML_RANGE[self.name]), "range", where)
        if rng > 1 << 20:
            raise InputError(f"{where}: range {rng} exceeds {1 << 20}")
        index = S.choice(obj.get("index", "trunc"), L.INDEX_MODES, "index", where)
        fm = _formats(obj, ("table", "result"), where)
        table, result = fm.get("table", HLS4ML_TABLE), fm.get("result", fin)
        S.check_convert(table, result, "table entry into the result format", where)
        top = max(-fin.min, fin.max)
        if top * size >= INT32:
            raise InputError(f"{where}: input {fin} reaches {top:g}, and {top:g} * table_size "
                             f"{size} does not fit the C int of the table index (< 2^31); "
                             "narrow the input's integer bits or the table")
        mul, den = L.index_scale(fin, size, rng)
        if max(-fin.raw_min, fin.raw_max) * mul >= 1 << 62 or den >= 1 << 62:
            raise FormatError(f"{where}: input {fin} has too many fraction bits for the "
                              "index computation in int64")
        return LutActivation(**ctx.common(), out_shape=tuple(ctx.in_shape), function=self.name,
                             table_size=size, range=rng, index=index, table=table, result=result)

    def prepare(self, layer, weights, method):
        raw = L.lut_table(layer.function, layer.table_size, layer.range, layer.table)
        return L.converted(raw, layer.table, layer.result)

    def run_counted(self, layer, state, x, events):
        raw = L.lut_table(layer.function, layer.table_size, layer.range, layer.table)
        return L.lut_counted(x, layer.in_format, raw, layer.table, layer.result, layer.range,
                             layer.index, events)

    def run(self, layer, state, x, io):
        dst = io.dst()
        dst[...] = L.lut_activation(x, layer.in_format, state, layer.range, layer.index)
        return dst

    def run_float(self, layer, x, weights):
        return L.lut_float(x, layer.function)


# ------------------------------------------------------------------ softmax
@dataclass(frozen=True, kw_only=True)
class Softmax(Layer):
    """Softmax over the channels through an exp table and an inverse table (hls4ml)."""

    implementation: str
    exp_table_size: int
    inv_table_size: int
    exp_scale: float
    exp_table: FixedType
    inv_table: FixedType
    accum: FixedType
    inv_inp: FixedType
    inp_norm: FixedType | None
    result: FixedType
    type = "softmax"

    @property
    def out_format(self) -> FixedType:
        return self.result

    @property
    def channels(self) -> int:
        """Values per softmax (the channels; every feature of a flat input)."""
        return self.in_shape[0]

    @property
    def positions(self) -> int:
        """Independent softmaxes per frame (the spatial positions)."""
        return int(np.prod(self.in_shape[1:], dtype=np.int64))

    @property
    def exp_index_format(self) -> FixedType:
        """The format whose top bits address the exp table."""
        return self.inp_norm if self.implementation == "stable" else self.in_format

    @property
    def exp_index_bits(self) -> int:
        return L.index_bits(self.exp_table_size)

    @property
    def inv_index_bits(self) -> int:
        return L.index_bits(self.inv_table_size)

    def _own(self) -> dict:
        fm = {"exp_table": str(self.exp_table), "inv_table": str(self.inv_table),
              "accum": str(self.accum), "inv_inp": str(self.inv_inp)}
        if self.inp_norm is not None:
            fm["inp_norm"] = str(self.inp_norm)
        fm["result"] = str(self.result)
        return {"implementation": self.implementation, "exp_table_size": self.exp_table_size,
                "inv_table_size": self.inv_table_size, "exp_scale": self.exp_scale,
                "formats": fm}


def default_inp_norm(fin: FixedType, where: str) -> FixedType:
    """hls4ml's ``inp_norm_t``: ``ap_ufixed<W - s, I - s>`` of the input (s: signed)."""
    if fin.width - fin.signed < 1:
        raise FormatError(f"{where}: the input {fin} leaves no bits for the default "
                          "inp_norm format; give formats.inp_norm")
    return FixedType(fin.width - fin.signed, fin.int_bits - fin.signed, False)


def default_table_size(fin: FixedType, inv_table: FixedType) -> int:
    """hls4ml's ``FixSoftmaxTableSize``: 1024, or 2^min(input width, inv_table width)."""
    return min(HLS4ML_TABLE_SIZE, 1 << min(fin.width, inv_table.width, 30))


def _index_format(fmt: FixedType, size: int, what: str, where: str) -> None:
    """The top ``log2(size)`` bits of ``fmt`` address a table built from normal floats."""
    n = L.index_bits(size)
    if n > fmt.width:
        raise InputError(f"{where}: {what} {size} needs {n} index bits, but its index format "
                         f"{fmt} has {fmt.width}; use at most {1 << fmt.width} entries")
    if fmt.width > 63:
        raise FormatError(f"{where}: the index format {fmt} of {what} is wider than 63 bits")
    if not -126 + n <= fmt.int_bits <= 127:
        raise FormatError(f"{where}: the table points of {what} ({fmt}, top {n} bits) are "
                          "not normal floats (needs -126 + log2(size) <= I <= 127)")


class SoftmaxKind(LayerKind):
    name = "softmax"
    allowed = ("name", "type", "implementation", "exp_table_size", "inv_table_size",
               "exp_scale", "formats") + S.DERIVED
    elementwise = True  # values keep their positions

    def parse(self, obj, ctx):
        where, fin = ctx.where, ctx.in_format
        impl = S.choice(obj.get("implementation", "stable"), L.SOFTMAX_IMPLEMENTATIONS,
                        "implementation", where)
        roles = ("exp_table", "inv_table", "accum", "inv_inp", "result")
        fm = _formats(obj, roles + (("inp_norm",) if impl == "stable" else ()), where)
        exp_t, inv_t, acc, inv_inp = (fm.get(k, HLS4ML_SOFTMAX) for k in roles[:4])
        result = fm.get("result", fin)
        norm = fm.get("inp_norm") or (default_inp_norm(fin, where) if impl == "stable" else None)
        index_fmt = norm if impl == "stable" else fin
        size = default_table_size(fin, inv_t)
        n_exp = _table_size(obj.get("exp_table_size", min(size, 1 << min(index_fmt.width, 30))),
                            "exp_table_size", where, True)
        n_inv = _table_size(obj.get("inv_table_size", min(size, 1 << min(inv_inp.width, 30))),
                            "inv_table_size", where, True)
        _index_format(index_fmt, n_exp, "exp_table_size", where)
        _index_format(inv_inp, n_inv, "inv_table_size", where)
        scale = obj.get("exp_scale", 1.0)
        if (isinstance(scale, bool) or not isinstance(scale, (int, float))
                or not math.isfinite(scale) or not abs(scale) <= float(np.finfo(np.float32).max)):
            raise InputError(f"{where}: exp_scale must be a finite number (a C float), "
                             f"got {scale!r}")
        if impl == "stable":
            d = S.int64_type(lambda: difference_type(fin, fin), "max - x difference", where)
            S.check_convert(d, norm, "max - x into inp_norm", where)
        S.check_convert(exp_t, acc, "exp table entry into accum", where)
        st = S.int64_type(lambda: sum_type(acc, acc), "accum + accum", where)
        S.check_convert(st, acc, "accum + accum into accum", where)
        S.check_convert(acc, inv_inp, "accum into inv_inp", where)
        pt = S.int64_type(lambda: product_type(acc, inv_t), "accum * inv_table product", where)
        S.check_convert(pt, result, "accum * inv_table into the result format", where)
        return Softmax(**ctx.common(), out_shape=tuple(ctx.in_shape), implementation=impl,
                       exp_table_size=n_exp, inv_table_size=n_inv, exp_scale=float(scale),
                       exp_table=exp_t, inv_table=inv_t, accum=acc, inv_inp=inv_inp,
                       inp_norm=norm, result=result)

    def prepare(self, layer, weights, method):
        stable = layer.implementation == "stable"
        ix = layer.exp_index_format
        et = L.exp_table(ix, layer.exp_table_size, layer.exp_scale, stable, layer.exp_table)
        it = L.inv_table(layer.inv_inp, layer.inv_table_size, layer.inv_table)
        left, right = L.reduce_schedule(layer.channels)
        fin, acc = layer.in_format, layer.accum
        c_norm = (descriptor(difference_type(fin, fin), layer.inp_norm) if stable
                  else descriptor(fin, fin))
        return dict(
            stable=stable, c_norm=c_norm, norm_w=ix.width,
            exp_shift=ix.width - layer.exp_index_bits,
            exp_acc=L.converted(et, layer.exp_table, acc), left=left, right=right,
            c_sum=descriptor(sum_type(acc, acc), acc), c_inv_inp=descriptor(acc, layer.inv_inp),
            inv_w=layer.inv_inp.width,
            inv_shift=layer.inv_inp.width - layer.inv_index_bits, invt=it,
            c_res=descriptor(product_type(acc, layer.inv_table), layer.result))

    def run(self, layer, state, x, io):
        dst = io.dst()
        xs = np.ascontiguousarray(x, np.int64).reshape(len(x), layer.channels, layer.positions)
        out = np.empty(xs.shape, np.int64)
        L._softmax(xs, state["stable"], state["c_norm"], state["norm_w"], state["exp_shift"],
                   state["exp_acc"], state["left"], state["right"], state["c_sum"],
                   state["c_inv_inp"], state["inv_w"], state["inv_shift"], state["invt"],
                   state["c_res"], out)
        dst[...] = out.reshape(dst.shape)
        return dst

    def run_counted(self, layer, state, x, events):
        """:meth:`run` in numpy over all positions at once, every conversion counted:
        ``norm`` (stable: max - x into inp_norm), ``exp`` (each looked-up entry into A),
        ``accum`` (each tree node), ``inv_inp`` (the sum into inv_inp), ``result``."""
        from ...layers._counting import convert_events, slot

        fin, acc = layer.in_format, layer.accum
        xs = np.asarray(x, np.int64).reshape(len(x), layer.channels, layer.positions)
        v = xs
        if state["stable"]:
            v = convert_events(xs.max(axis=1, keepdims=True) - xs, difference_type(fin, fin),
                               layer.inp_norm, slot(events, "norm"))

        def top_bits(raw, width, shift):
            return ((raw.astype(np.uint64) & np.uint64((1 << width) - 1))
                    >> np.uint64(shift)).astype(np.int64)

        ix = layer.exp_index_format
        et = L.exp_table(ix, layer.exp_table_size, layer.exp_scale, state["stable"],
                         layer.exp_table)
        e = convert_events(et[top_bits(v, state["norm_w"], state["exp_shift"])],
                           layer.exp_table, acc, slot(events, "exp"))
        buf = list(np.moveaxis(e, 1, 0))  # C arrays (N, P), then the tree's nodes
        for a, b in zip(state["left"], state["right"], strict=True):
            buf.append(convert_events(buf[a] + buf[b], sum_type(acc, acc), acc,
                                      slot(events, "accum")))
        s = convert_events(buf[-1], acc, layer.inv_inp, slot(events, "inv_inp"))
        inv = state["invt"][top_bits(s, state["inv_w"], state["inv_shift"])]
        y = convert_events(e * inv[:, None, :], product_type(acc, layer.inv_table),
                           layer.result, slot(events, "result"))
        return y.reshape(len(x), *layer.out_shape)

    def run_float(self, layer, x, weights):
        return L.softmax_float(x)


KINDS = (LutKind("sigmoid"), LutKind("tanh"), SoftmaxKind())
