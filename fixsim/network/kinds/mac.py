"""What conv2d and dense share: MAC spec fields and format checks, the prepared step.

:class:`MacKind` is the base of a multiply-accumulate layer kind: the spec fields
(``bias``, ``activation``, ``formats``, datapath options), the format checks of
docs/datapath.md ("Formats"), and the prepared :class:`MacStep` that chooses, per call,
between the layer functions of :mod:`fixsim.layers` and the narrow kernels of
:mod:`fixsim.layers._kernels_narrow` (docs/datapath.md, "Speed").  A subclass gives its
shape rules (:meth:`MacKind.parse`), its layer function (:meth:`MacKind.exact`) and its
narrow kernel call (:meth:`MacKind.narrow`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import FormatError, InputError
from ...fixed import FixedType, product_type, sum_type
from ...fixed.format import Overflow
from ...layers import MacConfig, activation_float, hwc_permutation, order_free_reason
from ...layers import _kernels_narrow as KN
from ...layers.convert import headers_check_overflow
from ...layers.mac import bias_in_accum
from .. import dialect as D
from .. import schema as S
from ..spec_types import LayerFormats, MacLayer, Options
from .base import LayerKind, ParseContext

_INT32_LIMIT = 2 ** 31 - 1
#: Spec keys of every MAC layer (its own keys follow).
MAC_KEYS = ("name", "type", "bias", "activation", "formats", "options", "product",
            "sum_order", "activation_on", "reuse_factor", "strategy") + S.DERIVED


def mac_config(layer: MacLayer) -> MacConfig:
    """The :class:`~fixsim.layers.MacConfig` (``CONFIG_T``) of a conv2d/dense spec layer."""
    act = layer.activation
    return MacConfig(in_format=layer.in_format, weight=layer.formats.weight,
                     bias=layer.formats.bias, accum=layer.formats.accum,
                     result=layer.formats.result, product=layer.options.product,
                     sum_order=layer.options.sum_order, activation=act.kind,
                     alpha_raw=act.alpha_raw or 0, alpha_format=act.alpha_format,
                     activation_on=layer.options.activation_on,
                     reuse_factor=layer.options.reuse_factor)


# ------------------------------------------------------------------ spec
def mac_fields(obj: dict, base: Options, where: str, dialect=None) -> dict:
    """``bias``, ``activation``, ``formats`` and ``options`` of a MAC layer object (and,
    in a ``dialect`` spec, its ``strategy`` and ``reuse_factor``: see
    :mod:`fixsim.network.dialect`; there the layer's ``reuse_factor`` is hls4ml's)."""
    bias = S.boolean(obj.get("bias", True), "bias", where)
    fm = obj["formats"]
    req = ("weight", "accum", "result") + (("bias",) if bias else ())
    S.keys(fm, ("weight", "bias", "accum", "result"), req, f"{where} formats")
    if not bias and "bias" in fm:
        raise InputError(f"{where}: formats.bias is given but the layer has bias: false")
    formats = LayerFormats(
        weight=S.fixed_format(fm["weight"], "formats.weight", where),
        bias=S.fixed_format(fm["bias"], "formats.bias", where) if bias else None,
        accum=S.fixed_format(fm["accum"], "formats.accum", where),
        result=S.fixed_format(fm["result"], "formats.result", where))
    shorthand = ("product", "sum_order", "activation_on") + (() if dialect else ("reuse_factor",))
    own = {k: obj[k] for k in shorthand if k in obj}
    nested = obj.get("options", {})
    if not isinstance(nested, dict):
        raise InputError(f"{where}: options must be a JSON object, got {nested!r}")
    both = set(own) & set(nested)
    if both:
        raise InputError(f"{where}: option {sorted(both)[0]!r} is given twice "
                         "(in the layer and in its options)")
    fields = dict(bias=bias, activation=S.activation(obj.get("activation", "linear"), where),
                  formats=formats)
    if dialect is not None:
        return {**fields, **D.mac_fields(obj, {**nested, **own}, dialect, where)}
    if "strategy" in obj:
        raise InputError(f"{where}: strategy belongs to a spec in the hls4ml dialect "
                         "(\"dialect\": \"hls4ml\"); without it use options.sum_order 'resource'")
    return {**fields, "options": S.options({**nested, **own}, base, where)}


def check_mac_formats(layer: MacLayer, where: str) -> None:
    """Reject formats the datapath cannot evaluate exactly (see docs/datapath.md, 'Formats')."""
    f = layer.formats
    pt = S.int64_type(lambda: layer.product_format,
                      f"the product input {layer.in_format} x weight {f.weight}", where)
    acc = f.accum
    if layer.options.product == "exact":
        if acc.frac_bits < pt.frac_bits or acc.int_bits < pt.int_bits or (pt.signed and not acc.signed):
            raise FormatError(
                f"{where}: accumulator {acc} cannot hold a product {pt} with product='exact' "
                f"(needs F >= {pt.frac_bits}, I >= {pt.int_bits}{', signed' if pt.signed else ''}); "
                "widen it or use product='to_accum'")
        S.int64_type(lambda: sum_type(acc, pt), "accumulator + product", where)
    else:
        S.check_convert(pt, acc, f"product {pt} into accumulator", where)
    if acc.width > (63 if acc.signed else 62):
        raise FormatError(f"{where}: accumulator {acc} is {acc.width} bits; the sum of two "
                          "accumulator values must fit int64 (use W <= 63 signed, 62 unsigned)")
    if f.bias is not None:
        S.check_convert(f.bias, acc, "bias into accumulator", where)
    S.check_convert(acc, f.result, "accumulator into result", where)
    act = layer.activation
    if act.kind == "leaky_relu":
        src = f.result if layer.options.activation_on == "result" else acc
        ap = S.int64_type(lambda: product_type(src, act.alpha_format), "leaky_relu alpha product",
                          where)
        S.check_convert(ap, f.result, "alpha product into result", where)


# ------------------------------------------------------------------ prepared step
@dataclass
class MacStep:
    """A MAC layer with everything its weights determine (the ``state`` of its kind)."""

    layer: MacLayer
    cfg: MacConfig
    method: str
    w: np.ndarray          # int64 raw, dense columns permuted after an hwc flatten
    bias: np.ndarray | None
    bias_acc: np.ndarray   # A(bias), int64
    narrow: bool           # structurally fit for the narrow kernels
    wn: np.ndarray | None  # int16/int32 weights for the narrow kernels (narrow_weight_dtype)
    l1: int                # max_o sum_k |w[o, k]| (raw)
    free_any_input: bool   # order-free for every input of the format
    int32_any_input: bool  # int32 sums exact for every input of the format
    cr: np.ndarray | None  # result descriptor (accumulator -> result)
    static: tuple | None = None  # narrow_acc for every input, when the formats prove it
    _finish: dict = field(default_factory=dict)

    def plan(self, x: np.ndarray):
        """:meth:`narrow_acc` when the method allows the narrow kernels, else None."""
        return self.narrow_acc(x) if self.method in ("auto", "direct") else None

    def narrow_acc(self, x: np.ndarray):
        """``(sum dtype, fin32)`` for the narrow kernels on input ``x``, or None.

        None: not provably exact here, the layer functions run.  int32 sums when
        ``l1 * max|x| < 2^31``; ``fin32`` (result stage in 32-bit lanes) under the
        conditions of ``_kernels_narrow._finish_row``.
        """
        if not self.narrow:
            return None
        if self.static is not None:
            return self.static
        xmax = int(np.abs(x).max()) if x.size else 0
        if not self.free_any_input and order_free_reason(
                self.cfg, xmax, self.w.reshape(len(self.w), -1), self.bias_acc, False):
            return None
        return self._sums(xmax)

    def _sums(self, xmax: int):
        cfg = self.cfg
        psum = self.l1 * xmax
        if psum > _INT32_LIMIT:
            return np.int64, False
        d = cfg.accum.frac_bits - cfg.result.frac_bits
        total = psum + (int(np.abs(self.bias_acc).max()) if self.bias_acc.size else 0)
        fin32 = (cfg.shift == 0 and 1 <= d <= 30 and total + (1 << (d - 1)) <= _INT32_LIMIT
                 and total <= cfg.accum.raw_max and -total >= cfg.accum.raw_min
                 and cfg.result.width <= 32)
        return np.int32, fin32

    def finish_args(self, fin32: bool):
        """The result-stage arguments of the narrow kernels (built once per value of fin32)."""
        cached = self._finish.get(fin32)
        if cached is None:
            acc = self.cfg.accum
            wrap = acc.overflow == Overflow.AP_WRAP
            cached = self._finish[fin32] = (self.cfg.shift, wrap, acc.width, acc.signed, self.cr,
                                            self.cfg.activation == "relu", fin32)
        return cached


_SEMANTIC = (Overflow.AP_SAT, Overflow.AP_SAT_ZERO, Overflow.AP_SAT_SYM)


def result_descriptor(acc: FixedType, res: FixedType) -> np.ndarray | None:
    """``res = acc`` packed for the narrow kernels' semantic conversion, or None.

    None when the semantic form does not apply (WRAP with N bits, WRAP_SM, a 1-bit
    SAT_SYM target, or values that a shift could push past int64); the slots are
    :data:`fixsim.layers._kernels_narrow.FAST` .. ``S``.
    """
    d = acc.frac_bits - res.frac_bits
    semantic = res.overflow in _SEMANTIC or (res.overflow == Overflow.AP_WRAP and res.sat_bits == 0)
    sym_min = res.overflow == Overflow.AP_SAT_SYM and res.signed
    if (not semantic or (sym_min and res.width == 1) or acc.width + max(0, -d) > 63
            or res.width > 63):
        return None
    sym_rule = sym_min and acc.signed and headers_check_overflow(acc, res)
    c = np.zeros(KN.S + 1, np.int64)
    c[KN.FAST], c[KN.D], c[KN.LO], c[KN.HI] = 1, d, res.raw_min, res.raw_max
    c[KN.Q], c[KN.O] = int(res.quantization), int(res.overflow)
    c[KN.SYM_MIN], c[KN.SYM_RULE] = sym_min, sym_rule
    c[KN.W], c[KN.S] = res.width, res.signed
    return c


def _max_abs_raw(fmt: FixedType) -> int:
    return max(-fmt.raw_min, fmt.raw_max)


def memory_weight(layer: MacLayer, raw: dict) -> np.ndarray:
    """The layer's raw weight in the order its kernels read it (hwc-permuted dense columns)."""
    t = layer.tensors()[0]
    w = raw[t.name]
    if t.order == "dense_hwc":
        w = np.ascontiguousarray(w[:, hwc_permutation(*t.chw)])
    return w


def narrow_weight_dtype(fmt: FixedType):
    """int16 when every raw value of the weight format fits int16, else int32.

    int16 weights let LLVM use 16-bit multiplies that sum pairs (pmaddwd) in the narrow
    kernels (dense dot products; conv tap pairs when the map is int16 too)."""
    info = np.iinfo(np.int16)
    return np.int16 if info.min <= fmt.raw_min and fmt.raw_max <= info.max else np.int32


def prepare_mac(layer: MacLayer, raw: dict, method: str) -> MacStep:
    """The :class:`MacStep` of ``layer`` for the checked raw weights ``raw``."""
    cfg = mac_config(layer)
    w = memory_weight(layer, raw)
    bias = raw.get(f"{layer.name}.bias")
    bias_acc = bias_in_accum(cfg, bias, w.shape[0])
    w2d = w.reshape(w.shape[0], -1)
    l1 = int(np.abs(w2d).sum(axis=1).max()) if w2d.size else 0
    acc = cfg.accum
    cr = result_descriptor(acc, cfg.result)
    narrow = (method in ("auto", "direct") and cfg.shift >= 0 and cr is not None
              and cfg.activation in ("linear", "relu")
              and (cfg.activation_on == "result" or cfg.activation == "linear")
              and (acc.overflow != Overflow.AP_WRAP or acc.sat_bits == 0)
              and w2d.size > 0 and int(np.abs(w2d).max()) <= _INT32_LIMIT)
    xbound = _max_abs_raw(cfg.in_format)
    free = order_free_reason(cfg, xbound, w2d, bias_acc, False) is None
    wn = w.astype(narrow_weight_dtype(cfg.weight)) if narrow else None
    step = MacStep(layer=layer, cfg=cfg, method=method, w=w, bias=bias, bias_acc=bias_acc,
                   narrow=narrow, wn=wn, l1=l1,
                   free_any_input=free, int32_any_input=l1 * xbound <= _INT32_LIMIT, cr=cr)
    if narrow and free and step.int32_any_input:
        step.static = step._sums(xbound)
    return step


# ------------------------------------------------------------------ kind
class MacKind(LayerKind):
    """Base of conv2d/dense-like kinds: MAC spec fields, prepared step, two exact paths."""

    def mac_layer(self, cls, obj: dict, ctx: ParseContext, **own) -> MacLayer:
        """``cls(**own)`` with the MAC fields of ``obj``, its formats checked."""
        layer = cls(**ctx.common(), **own,
                    **mac_fields(obj, ctx.options, ctx.where, getattr(ctx, "dialect", None)))
        check_mac_formats(layer, ctx.where)
        if layer.strategy is not None:
            D.check_mac_layer(layer, ctx.dialect, ctx.where)
        return layer

    def prepare(self, layer, weights, method) -> MacStep:
        return prepare_mac(layer, weights, method)

    def exact(self, layer, step: MacStep, x: np.ndarray,
              events: dict | None = None) -> tuple[np.ndarray, str]:
        """The layer function of :mod:`fixsim.layers`: ``(int64 output, method that ran)``;
        with ``events``, its counted path (the counts added to that dict)."""
        raise NotImplementedError

    def narrow(self, layer, step: MacStep, x: np.ndarray, plan, dst: np.ndarray) -> None:
        """The narrow kernel (exact under ``plan``, see :meth:`MacStep.narrow_acc`) into ``dst``."""
        raise NotImplementedError

    def run(self, layer, step: MacStep, x, io):
        dst = io.dst()
        if io.events is not None:  # the counted run: contract order, events counted
            res, io.used[layer.name] = self.exact(layer, step, x,
                                                  io.events.setdefault(layer.name, {}))
            dst[...] = res
            return dst
        plan = step.plan(x)
        if plan is None:
            res, io.used[layer.name] = self.exact(layer, step, x)
            dst[...] = res
        else:
            self.narrow(layer, step, x, plan, dst)
            io.used[layer.name] = "direct"
        return dst

    @staticmethod
    def activate_float(layer: MacLayer, y: np.ndarray) -> np.ndarray:
        """The fused activation of the float twin."""
        return activation_float(y, layer.activation.kind, layer.activation.alpha or 0.0)


__all__ = ["MAC_KEYS", "MacKind", "MacStep", "mac_config", "mac_fields", "check_mac_formats",
           "prepare_mac", "result_descriptor", "memory_weight", "narrow_weight_dtype"]
