"""The multiply-accumulate datapath shared by conv2d and dense (docs/datapath.md).

:class:`MacConfig` is the ``CONFIG_T`` of one conv2d/dense layer: its input, weight, bias,
accumulator and result formats plus the datapath switches.  The layers compute, per
output, ``acc = A(bias)``, then one step per term in the contract's order, then the
result stage.  Three evaluation paths give the same bits:

- ``"sequential"``: the contract's steps literally, in order (any formats, any modes);
- ``"direct"``: exact int64 sums of products in any order, then ``bias + (sum << s)``;
- ``"gemm"``: the same exact sums from a float64 GEMM of the mantissas.

The order-free paths are used only when :func:`order_free_reason` finds no reason
against them for the actual data: no product is rounded (``F_acc >= F_prod``), and the
accumulator either wraps (AP_WRAP, N = 0: arithmetic modulo 2^W is a ring) or provably
never leaves its range; "gemm" also needs every partial sum below 2^53.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, InputError
from ..fixed import FixedType, check_raw, convert, product_type, sum_type
from ..fixed.format import Overflow
from . import _kernels as K
from .convert import descriptor

METHODS = ("auto", "sequential", "direct", "gemm")
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
    sum_order : "ci_kh_kw" | "kh_kw_ci"   (conv2d only)
    activation : "linear" | "relu" | "leaky_relu"
    alpha_raw : int, alpha_format : FixedType   (leaky_relu only)
    activation_on : "result" | "accum"
    """

    in_format: FixedType
    weight: FixedType
    bias: FixedType | None
    accum: FixedType
    result: FixedType
    product: str = "to_accum"
    sum_order: str = "ci_kh_kw"
    activation: str = "linear"
    alpha_raw: int = 0
    alpha_format: FixedType | None = None
    activation_on: str = "result"

    @property
    def product_format(self) -> FixedType:
        return product_type(self.in_format, self.weight)

    @property
    def shift(self) -> int:
        """Bits a product is shifted left onto the accumulator grid (F_acc - F_prod)."""
        return self.accum.frac_bits - self.product_format.frac_bits


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


def order_free_reason(cfg: MacConfig, xmax: int, w2d: np.ndarray, bias_acc: np.ndarray,
                      need_float: bool) -> str | None:
    """Why the order-free paths would differ from the contract's steps, or None.

    Parameters
    ----------
    xmax : max |input raw| actually present;  w2d : (O, K) raw weights;
    bias_acc : (O,) accumulator start values;  need_float : also check the 2^53 bound.
    """
    acc = cfg.accum
    if cfg.shift < 0:
        return (f"products ({cfg.product_format}) are rounded into the accumulator "
                f"({acc}) at every step")
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
    """Pick the path: ``preferred`` order-free path when exact, else ``"sequential"``."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if method == "sequential":
        return method
    if method == "auto":
        for cand in ((preferred, "direct") if preferred == "gemm" else (preferred,)):
            if order_free_reason(cfg, xmax, w2d, bias_acc, cand == "gemm") is None:
                return cand
        return "sequential"
    reason = order_free_reason(cfg, xmax, w2d, bias_acc, method == "gemm")
    if reason:
        raise FormatError(f"method {method!r} is not provably exact here: {reason}")
    return method


def step_descriptors(cfg: MacConfig):
    """(exact, sp, cp, cs) for the sequential kernels' ``_step``."""
    acc, pt = cfg.accum, cfg.product_format
    if cfg.product == "exact":
        return True, cfg.shift, descriptor(pt, acc), descriptor(sum_type(acc, pt), acc)
    return False, 0, descriptor(pt, acc), descriptor(sum_type(acc, acc), acc)


def finish_sums(cfg: MacConfig, sums: np.ndarray, bias_acc: np.ndarray) -> np.ndarray:
    """Result stage after an order-free path: sums (N, C, P) int64 exact (mod 2^64)."""
    acc = cfg.accum
    cr, ca, act, alpha, on_acc = _stage_descriptors(cfg)
    out = np.empty(sums.shape, np.int64)
    wrap = acc.overflow == Overflow.AP_WRAP
    K._finish(sums, cfg.shift, bias_acc, wrap, acc.width, acc.signed, cr, act, alpha, ca,
              on_acc, out)
    return out


def finish_accumulators(cfg: MacConfig, accs: np.ndarray) -> np.ndarray:
    """Result stage after the sequential path: accs (N, C, P) accumulator raw values."""
    cr, ca, act, alpha, on_acc = _stage_descriptors(cfg)
    out = np.empty(accs.shape, np.int64)
    K._finish_acc(accs, cr, act, alpha, ca, on_acc, out)
    return out
