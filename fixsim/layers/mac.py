"""The multiply-accumulate datapath shared by conv2d and dense (docs/datapath.md).

:class:`MacConfig` is the ``CONFIG_T`` of one conv2d/dense layer: its input, weight, bias,
accumulator and result formats plus the datapath switches.  The layers compute, per
output, ``acc = A(bias)``, then one step per term in the contract's order, then the
result stage.  Five evaluation paths give the same bits:

- ``"sequential"``: the contract's steps literally, one output at a time (the reference);
- ``"ordered"``: the same steps in each output's contract order, applied term by term to
  a vector of accumulators, with A's modes compiled into the kernel (any format);
- ``"speculative"``: for a saturating accumulator, order-free sums of the (rounded)
  products with a per-output bound proving that no partial sum leaves A; the outputs
  whose bound fails are recomputed by the ordered kernels (``_speculative``);
- ``"direct"``: order-free sums: exact int64 products, or, when A wraps (N = 0) and
  products are rounded into it, A's rounding of each product; then ``bias + sum``;
- ``"gemm"``: the exact sums from a float64 GEMM of the mantissas.

The layer functions' ``events=`` argument runs a sixth, the *counted* path
(:func:`counted`, :mod:`fixsim.layers._counting`): the ordered path's steps with a
counter on every conversion (``fixsim profile``); "auto" never picks it.

The order-free paths are used only when :func:`order_free_reason` finds no reason
against them for the actual data: either the accumulator wraps (AP_WRAP, N = 0:
arithmetic modulo 2^W is a ring), or no product is rounded (``F_acc >= F_prod``) and the
accumulator provably never leaves its range; "gemm" also needs unrounded products and
every partial sum below 2^53.  Saturating accumulators otherwise run "speculative" where
its sums fit int64 lanes; everything else runs "ordered", except accumulators that need
the headers' port (WRAP with N > 0, WRAP_SM), which run "sequential".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

import numpy as np

from .._validate import check_choice
from ..errors import FormatError, InputError
from ..fixed import FixedType, check_raw, convert, product_type, sum_type
from ..fixed.format import Overflow
from . import _counting as C
from . import _kernels as K
from . import _ordered as O
from . import _speculative as S
from .convert import FAST, SYM_MIN, SYM_RULE, descriptor

METHODS = ("auto", "sequential", "ordered", "speculative", "direct", "gemm")
PRODUCTS = ("to_accum", "exact")
SUM_ORDERS = ("ci_kh_kw", "kh_kw_ci", "resource")
ACTIVATIONS = ("relu", "linear", "leaky_relu")
ACTIVATION_ON = ("result", "accum")
_ACT_CODES = {"linear": 0, "relu": 1, "leaky_relu": 2}


@dataclass(frozen=True)
class MacConfig:
    """Formats and switches of one conv2d/dense layer.

    Parameters
    ----------
    in_format, weight, accum, result : FixedType
    bias : FixedType or None
        None when the layer has no bias (the accumulator starts at 0).
    product : "to_accum" | "exact"
    sum_order : "ci_kh_kw" | "kh_kw_ci" (conv2d only) | "resource"
        "resource": hls4ml's Resource strategy, the terms of the flattened index k (dense:
        the input index; conv2d: ``(kh*KW + kw)*C + ci``) in the order ``k = ir + R*j``
        (ir = 0..R-1 outer, j inner) with R = ``reuse_factor``.
    reuse_factor : int >= 1  (sum_order "resource" only; 1 is the natural order)
    activation : "linear" | "relu" | "leaky_relu"
    alpha_raw : int, alpha_format : FixedType   (leaky_relu only)
    activation_on : "result" | "accum"

    Raises
    ------
    InputError
        An option outside its choices (naming the closest), a format that is not a
        FixedType, leaky_relu without an alpha_format.
    FormatError
        ``product="exact"`` with an accumulator whose grid is coarser than the product's.

    >>> MacConfig(FixedType(8, 4), FixedType(8, 2), None, FixedType(16, 8), FixedType(8, 4),
    ...           product="exakt")
    Traceback (most recent call last):
    ...
    fixsim.errors.InputError: unknown product 'exakt' (did you mean 'exact'?); choose from to_accum, exact
    """

    in_format: FixedType
    weight: FixedType
    bias: FixedType | None
    accum: FixedType
    result: FixedType
    product: Literal["to_accum", "exact"] = "to_accum"
    sum_order: Literal["ci_kh_kw", "kh_kw_ci", "resource"] = "ci_kh_kw"
    activation: Literal["linear", "relu", "leaky_relu"] = "linear"
    alpha_raw: int = 0
    alpha_format: FixedType | None = None
    activation_on: Literal["result", "accum"] = "result"
    reuse_factor: int = 1

    def __post_init__(self):
        for name in ("in_format", "weight", "accum", "result"):
            if not isinstance(getattr(self, name), FixedType):
                raise InputError(f"MacConfig.{name} must be a FixedType, got {getattr(self, name)!r}")
        for name in ("bias", "alpha_format"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, FixedType):
                raise InputError(f"MacConfig.{name} must be a FixedType or None, got {value!r}")
        check_choice("product", self.product, PRODUCTS)
        check_choice("sum_order", self.sum_order, SUM_ORDERS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("activation_on", self.activation_on, ACTIVATION_ON)
        if (not isinstance(self.reuse_factor, int) or isinstance(self.reuse_factor, bool)
                or self.reuse_factor < 1 or (self.reuse_factor > 1 and self.sum_order != "resource")):
            raise InputError(f"MacConfig: reuse_factor must be an integer >= 1 (above 1 only "
                             f"with sum_order 'resource'), got {self.reuse_factor!r}")
        if self.activation == "leaky_relu" and self.alpha_format is None:
            raise InputError("MacConfig: leaky_relu needs an alpha_format")
        if self.product == "exact" and self.shift < 0:
            raise FormatError(f"product 'exact' needs an accumulator at least as fine as the "
                              f"product {self.product_format}, got {self.accum}")

    @cached_property
    def product_format(self) -> FixedType:
        # cached: the layer functions ask for it (through shift) several times per call
        return product_type(self.in_format, self.weight)

    @property
    def interleaved(self) -> bool:
        """The terms are added in a Resource-strategy order (sum_order "resource", R > 1)."""
        return self.sum_order == "resource" and self.reuse_factor > 1

    @property
    def shift(self) -> int:
        """Bits a product is shifted left onto the accumulator grid (F_acc - F_prod)."""
        return self.accum.frac_bits - self.product_format.frac_bits


@lru_cache(maxsize=256)
def _stage_descriptors(cfg: MacConfig):
    acc, res = cfg.accum, cfg.result
    cr = descriptor(acc, res)
    if cfg.activation == "leaky_relu":
        src = res if cfg.activation_on == "result" else acc
        ca = descriptor(product_type(src, cfg.alpha_format), res)
    else:
        ca = cr
    return cr, ca, _ACT_CODES[cfg.activation], int(cfg.alpha_raw), cfg.activation_on == "accum"


def bias_in_accum(cfg: MacConfig, bias, n_out: int) -> np.ndarray:
    """The accumulator's start values: ``A(bias)`` (zeros without a bias)."""
    if cfg.bias is None:
        if bias is not None:
            raise InputError("the layer has no bias but a bias array was given")
        return np.zeros(n_out, np.int64)
    if bias is None:
        raise InputError("the layer has a bias but none was given")
    b = check_raw(bias, cfg.bias, "bias")
    if b.shape != (n_out,):
        raise InputError(f"bias has shape {b.shape}, expected {(n_out,)}")
    return convert(b, cfg.bias, cfg.accum).astype(np.int64)


def rounded_sum_ok(cfg: MacConfig) -> bool:
    """True when products rounded into A can be summed in any order (then wrapped once).

    to_accum with ``F_acc < F_prod`` into an AP_WRAP accumulator with N = 0:
    ``A(x*w)`` is elementwise and the sums modulo 2^W are order-free.
    """
    acc = cfg.accum
    return (cfg.product == "to_accum" and cfg.shift < 0 and acc.overflow == Overflow.AP_WRAP
            and acc.sat_bits == 0 and bool(descriptor(cfg.product_format, acc)[FAST]))


def order_free_reason(cfg: MacConfig, xmax: int, w2d: np.ndarray, bias_acc: np.ndarray,
                      need_float: bool) -> str | None:
    """Why the order-free paths would differ from the contract's steps, or None.

    Parameters
    ----------
    xmax : max |input raw| actually present;  w2d : (O, K) raw weights;
    bias_acc : (O,) accumulator start values;  need_float : the float64 GEMM path.
    """
    acc = cfg.accum
    if cfg.shift < 0:
        if need_float or not rounded_sum_ok(cfg):
            return (f"products ({cfg.product_format}) are rounded into the accumulator "
                    f"({acc}) at every step")
        return None
    # Bound on |every partial sum| (any order) on the product grid, in exact integers.
    psum = _l1_max(w2d) * int(xmax)
    if need_float and psum >= 2 ** 53:
        return "a partial sum may reach 2^53 (float64 GEMM would round)"
    if acc.overflow == Overflow.AP_WRAP and acc.sat_bits == 0:
        return None
    bound = (psum << cfg.shift) + (int(np.abs(bias_acc).max()) if bias_acc.size else 0)
    lo = acc.raw_min + (1 if (acc.overflow == Overflow.AP_SAT_SYM and acc.signed) else 0)
    if bound <= acc.raw_max and -bound >= lo:
        return None
    return f"the accumulator {acc} may overflow ({acc.overflow.name}, order-dependent)"


def _l1_max(w2d: np.ndarray) -> int:
    """max over rows of sum |w|, exactly (int64 when it cannot overflow, else Python ints)."""
    if w2d.size == 0:
        return 0
    if -(2 ** 40) < int(w2d.min()) and int(w2d.max()) < 2 ** 40 and w2d.shape[1] < 2 ** 22:
        return int(np.abs(w2d.astype(np.int64)).sum(axis=1).max())
    return max(sum(int(v) for v in row) for row in w2d)


def resolve_method(cfg: MacConfig, method: str, xmax: int, w2d: np.ndarray,
                   bias_acc: np.ndarray, preferred: str) -> str:
    """The path :func:`choose_path` picks (without its speculative plan)."""
    return choose_path(cfg, method, xmax, w2d, bias_acc, preferred)[0]


def choose_path(cfg: MacConfig, method: str, xmax: int, w2d: np.ndarray, bias_acc: np.ndarray,
                preferred: str) -> tuple[str, S.SpecPlan | None]:
    """Pick the path and, for "speculative", its plan.

    "auto": the ``preferred`` order-free path (then "direct") when exact, else
    "speculative" where it applies (a saturating accumulator whose sums fit int64), else
    "ordered" ("sequential" where A needs the headers' port).  "sequential" and "ordered"
    are exact for every configuration; a forced path that does not apply raises
    :class:`FormatError` with the reason.
    """
    check_choice("method", method, METHODS)
    if method == "sequential" and cfg.interleaved:
        raise InputError("the sequential reference runs the ci_kh_kw and kh_kw_ci orders only; "
                         "sum_order 'resource' runs method='ordered'")
    if method in ("sequential", "ordered"):
        return method, None
    if method == "speculative":
        plan, reason = S.make_plan(cfg, step_plan(cfg).kind, xmax, w2d, bias_acc)
        if reason:
            raise FormatError(f"method 'speculative' does not apply here: {reason}")
        return method, plan
    if method == "auto":
        for cand in ((preferred, "direct") if preferred == "gemm" else (preferred,)):
            if order_free_reason(cfg, xmax, w2d, bias_acc, cand == "gemm") is None:
                return cand, None
        kind = step_plan(cfg).kind
        plan, _ = S.make_plan(cfg, kind, xmax, w2d, bias_acc)
        if plan is not None:
            return "speculative", plan
        # Where A needs the headers' port (WRAP with N > 0, WRAP_SM) the port dominates the
        # step and the vector loop gains nothing (measured: WRAP_SM 104-128 ns/MAC ordered,
        # 62 sequential): run the reference kernel.
        return ("sequential" if kind == "generic" and not cfg.interleaved else "ordered"), None
    reason = order_free_reason(cfg, xmax, w2d, bias_acc, method == "gemm")
    if reason:
        raise FormatError(f"method {method!r} is not provably exact here: {reason}")
    return method, None


@dataclass(frozen=True)
class StepPlan:
    """The compiled step of one layer: the kernel kind, its kernels and their step arguments
    (``shift, lo, hi, sh_wrap, signed, q, sym_min, rule_p, rule_s, cp, cs``; see
    :func:`fixsim.layers._ordered.kernels`)."""

    kind: str  # "clamp" (A's semantic modes compiled in), "generic" (descriptors), "sum"
    conv: object
    dense: object
    args: tuple

    def step_args(self):
        return self.args


@lru_cache(maxsize=256)
def step_plan(cfg: MacConfig, order_free: bool = False) -> StepPlan:
    """The kernel for the "ordered" path (or, with ``order_free``, the rounded-product
    sum of the "direct" path; requires :func:`rounded_sum_ok`)."""
    acc = cfg.accum
    exact, sp, cp, cs = step_descriptors(cfg)
    round_p = not exact and cfg.shift < 0
    if order_free:
        assert rounded_sum_ok(cfg)
        kind = "sum"
    elif cs[FAST] and (exact or cp[FAST]):
        kind = "clamp"
    else:
        kind = "generic"
    conv, dense = O.kernels(O.KINDS[kind], int(acc.quantization), int(acc.overflow), exact,
                            round_p and kind != "generic",
                            (bool(cs[SYM_MIN]), bool(cp[SYM_RULE]), bool(cs[SYM_RULE])))
    shift = sp if (exact or kind == "generic") else cfg.shift
    return StepPlan(kind, conv, dense, (int(shift), acc.raw_min, acc.raw_max, 64 - acc.width,
                                        acc.signed, int(acc.quantization), bool(cs[SYM_MIN]),
                                        bool(cp[SYM_RULE]), bool(cs[SYM_RULE]), cp, cs))


@lru_cache(maxsize=256)
def step_descriptors(cfg: MacConfig):
    """(exact, sp, cp, cs) for the sequential kernels' ``_step``."""
    acc, pt = cfg.accum, cfg.product_format
    if cfg.product == "exact":
        return True, cfg.shift, descriptor(pt, acc), descriptor(sum_type(acc, pt), acc)
    return False, 0, descriptor(pt, acc), descriptor(sum_type(acc, acc), acc)


def finish_sums(cfg: MacConfig, sums: np.ndarray, bias_acc: np.ndarray, *,
                shift: int | None = None) -> np.ndarray:
    """Result stage after an order-free path: sums (N, C, P) int64 exact (mod 2^64).

    ``acc = bias + (sums << shift)`` (default shift: F_acc - F_prod; 0 for sums already on
    A's grid), wrapped when A wraps, then the result conversion and activation.
    """
    acc = cfg.accum
    cr, ca, act, alpha, on_acc = _stage_descriptors(cfg)
    out = np.empty(sums.shape, np.int64)
    wrap = acc.overflow == Overflow.AP_WRAP
    K._finish(sums, cfg.shift if shift is None else shift, bias_acc, wrap, acc.width,
              acc.signed, cr, act, alpha, ca, on_acc, out)
    return out


def finish_accumulators(cfg: MacConfig, accs: np.ndarray) -> np.ndarray:
    """Result stage after a contract-order path: accs (N, C, P) accumulator raw values."""
    cr, ca, act, alpha, on_acc = _stage_descriptors(cfg)
    out = np.empty(accs.shape, np.int64)
    # acc = 0 + (accs << 0), never wrapped: the values are A's already.
    K._finish(accs, 0, np.zeros(accs.shape[1], np.int64), False, cfg.accum.width,
              cfg.accum.signed, cr, act, alpha, ca, on_acc, out)
    return out


@lru_cache(maxsize=256)
def count_plan(cfg: MacConfig) -> C.Plan:
    """The descriptor pairs of the counted run (:mod:`fixsim.layers._counting`)."""
    plan = C.Plan(cfg)
    if plan.why:
        raise FormatError(f"conversion events cannot be counted here: {plan.why}")
    return plan


def counted(cfg: MacConfig, bias, steps, shape: tuple, n_terms: int, events: dict) -> np.ndarray:
    """The contract-order run that counts its conversion events (the "counted" path).

    ``steps(plan, ev, accs)`` fills the accumulators ``accs`` (int64, ``shape`` = (N, C,
    ...)) with a counting kernel of :mod:`fixsim.layers._counting`; then the bias and the
    result stage are counted too.  ``n_terms``: terms per output (zero-padding taps
    included: the contract's step count).  ``events`` receives (adds) ``{"products",
    "accum", "result", ["activation"], ["bias"]: {"n", "rounded", "saturated",
    "wrapped"}}``.  Returns the result (N, C, P) raw in ``cfg.result``.
    """
    plan = count_plan(cfg)
    ev = np.zeros(C.N_COUNTERS, np.int64)
    accs = np.empty(shape, np.int64)
    steps(plan, ev, accs)
    n, c = shape[0], shape[1]
    accs = accs.reshape(n, c, -1)
    per_channel = n * accs.shape[2]  # A(bias[c]) starts each of these outputs
    if cfg.bias is not None:
        evb = np.zeros(2, np.int64)
        C.convert_counted(np.asarray(bias, np.int64), plan.cb, evb, np.empty(c, np.int64))
        ev[8:10] = evb * per_channel
    _, _, act, alpha, on_acc = _stage_descriptors(cfg)
    out = np.empty(accs.shape, np.int64)
    C.finish_counted(accs, plan.cr, act, alpha, plan.ca, on_acc, ev, out)
    C.add_events(events, C.events_dict(ev, cfg, accs.size * n_terms, accs.size))
    return out
