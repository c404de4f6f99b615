"""Contract-order MAC kernels that count conversion events (private; docs/datapath.md 6.3).

``fixsim profile`` runs its one bit-exact run through these kernels: they compute every
conv2d/dense output in the contract's order, one step per term exactly as the
"ordered" path (``_ordered``: a vector of accumulators per output row, terms in the
given order, zero-padding taps skipped because ``acc + 0`` is ``acc`` in every mode), and
count what each conversion of the run does to its value:

- *rounded*: the source value is off the target's grid (bits below its LSB are dropped,
  whatever the quantization mode does with them);
- *overflow*: the conversion's result differs from the source value rounded onto the
  target's grid with no range limit; the caller names it *saturated* or *wrapped* by the
  target's overflow mode.

"The value rounded with no range limit" is the same conversion into the target's
*twin* (:func:`unlimited_twin`: the target's fraction bits and quantization mode, enough
integer bits, AP_WRAP): the rounding is the headers' port's, not a second reading of
the rules.  Counted conversions (:data:`SLOTS`): the product into the accumulator
(to_accum), the accumulator after each step, the result conversion, the activation's
conversion (leaky relu), and the bias into the accumulator.  Zero-padding taps convert
0 and an in-range accumulator: they are skipped and can have no event.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import FormatError
from ..fixed import FixedType, product_type, sum_type
from ..fixed.format import Overflow
from ._kernels import _cvt, _semantic
from .convert import FAST, SHIFT, descriptor

#: Counter slots of one layer: (rounded, overflow) per conversion.
SLOTS = ("products", "accum", "result", "activation", "bias")
_PROD, _ACC, _RES, _ACT = 0, 2, 4, 6
_N_RES, _N_ACT = 10, 11  # conversions the result stage ran (relu/leaky skip some)

#: Widest twin the int64 kernels take.
_MAX_TWIN = 63


def unlimited_twin(src: FixedType, dst: FixedType) -> FixedType | None:
    """``dst``'s grid and rounding with room for every rounded ``src`` value (AP_WRAP that
    never wraps), or None when that needs more than 63 bits."""
    ib = max(src.int_bits + 2, 2 - dst.frac_bits)  # the rounding carry, a sign bit
    width = ib + dst.frac_bits
    if width > _MAX_TWIN:
        return None
    return FixedType(width, ib, True, dst.quantization, Overflow.AP_WRAP)


def pair(src: FixedType, dst: FixedType) -> np.ndarray | None:
    """(2, DESCRIPTOR_SIZE): the conversion ``dst = src`` and, when it rounds (``F_src >
    F_dst``), its unlimited twin (else the conversion again: a left shift is compared
    with the source directly); None when the twin needs more than 63 bits."""
    conv = descriptor(src, dst)
    if src.frac_bits <= dst.frac_bits:
        return np.stack([conv, conv])
    twin = unlimited_twin(src, dst)
    return None if twin is None else np.stack([conv, descriptor(src, twin)])


@njit(cache=True)
def _port(v, c):
    """``_cvt`` called, not inlined: the headers' port is large, and every counted
    conversion that needs it calls this one compiled copy (a short cold compile)."""
    return _cvt(v, c)


@njit(cache=True, inline="always")
def _convert(v, c):
    """``_cvt(v, c)``: the semantic form inline, the port through :func:`_port`."""
    if c[FAST] == 1:
        return _semantic(v, c)
    return _port(v, c)


@njit(cache=True)
def _cvt_ev(v, c, ev, k):
    """``_cvt(v, c[0])``, counting into ev[k] (off the grid) and ev[k + 1] (limited)."""
    y = _convert(v, c[0])
    d = c[0, SHIFT]
    if d > 0:  # rounds: the twin gives the value rounded with no range limit
        ev[k] += ((v << (64 - d)) != 0) if d < 64 else (v != 0)
        ev[k + 1] += y != _convert(v, c[1])
    elif d > -63:  # exact onto the finer grid: limited unless y == v * 2^-d (no overflow)
        ev[k + 1] += ((y >> -d) != v) | ((y & ((np.int64(1) << -d) - 1)) != 0)
    else:
        ev[k + 1] += (v != 0) | (y != 0)
    return y


@njit(cache=True, inline="always")
def _acc_step(acc, p, exact, sp, cp, cs, ev):
    """One contract step, counted: exact ``A(acc + p)``, to_accum ``A(acc + A(p))``."""
    if exact:
        return _cvt_ev(acc + (p << sp), cs, ev, _ACC)
    return _cvt_ev(acc + _cvt_ev(p, cp, ev, _PROD), cs, ev, _ACC)


@njit(cache=True, nogil=True)
def conv_counted(x, w, bias_acc, terms, ow_lo, ow_hi, sh, sw, ph, pw, exact, sp, cp, cs, ev,
                 out):
    """Accumulators out (N, Cout, OH, OW) after every term of ``terms`` (T, 3) rows
    ``(ci, kh, kw)`` in order; ``ow_lo``/``ow_hi`` the valid output columns per kw."""
    n_n, _, n_h, _ = x.shape
    n_co = w.shape[0]
    n_oh, n_ow = out.shape[2], out.shape[3]
    acc = np.empty(n_ow, np.int64)
    for r in range(n_n * n_co * n_oh):
        n = r // (n_co * n_oh)
        co = (r // n_oh) % n_co
        oh = r % n_oh
        acc[:] = bias_acc[co]
        for t in range(terms.shape[0]):
            ci, kh, kw = terms[t, 0], terms[t, 1], terms[t, 2]
            ih = oh * sh - ph + kh
            if ih < 0 or ih >= n_h:
                continue
            wv = np.int64(w[co, ci, kh, kw])
            row = x[n, ci, ih]
            for i in range(ow_lo[kw], ow_hi[kw]):
                acc[i] = _acc_step(acc[i], np.int64(row[i * sw + kw - pw]) * wv, exact, sp, cp,
                                   cs, ev)
        out[n, co, oh, :] = acc


@njit(cache=True, nogil=True)
def dense_counted(x, w, bias_acc, order, exact, sp, cp, cs, ev, out):
    """Accumulators out (N, O) after every term k of ``order`` in turn: x (N, K), w (O, K)."""
    n_o = w.shape[0]
    acc = np.empty(n_o, np.int64)
    for n in range(x.shape[0]):
        acc[:] = bias_acc
        for t in range(order.shape[0]):
            k = order[t]
            xk = np.int64(x[n, k])
            for o in range(n_o):
                acc[o] = _acc_step(acc[o], xk * np.int64(w[o, k]), exact, sp, cp, cs, ev)
        out[n, :] = acc


@njit(cache=True, nogil=True)
def finish_counted(acc, cr, act, alpha, ca, on_accum, ev, out):
    """Result stage of accumulators acc (N, C, P), as ``_kernels._activate``, counted."""
    n_n, n_c, n_p = acc.shape
    for n in range(n_n):
        for c in range(n_c):
            for i in range(n_p):
                a = acc[n, c, i]
                if on_accum:
                    if act == 1 and a < 0:
                        y = np.int64(0)  # max(acc, 0) = 0: nothing to convert
                    elif act == 2 and a < 0:
                        y = _cvt_ev(a * alpha, ca, ev, _ACT)
                        ev[_N_ACT] += 1
                    else:
                        y = _cvt_ev(a, cr, ev, _RES)
                        ev[_N_RES] += 1
                else:
                    y = _cvt_ev(a, cr, ev, _RES)
                    ev[_N_RES] += 1
                    if act == 1 and y < 0:
                        y = np.int64(0)
                    elif act == 2 and y < 0:
                        y = _cvt_ev(y * alpha, ca, ev, _ACT)
                        ev[_N_ACT] += 1
                out[n, c, i] = y


@njit(cache=True, nogil=True)
def convert_counted(v, c, ev, out):
    """out[k] = the conversion of v[k] (1-D), counted into ev[0] (rounded), ev[1] (limited)."""
    for k in range(v.shape[0]):
        out[k] = _cvt_ev(v[k], c, ev, 0)


class Plan:
    """The descriptor pairs of one MacConfig's counted run (None: not countable, ``why``)."""

    def __init__(self, cfg):
        acc, pt = cfg.accum, cfg.product_format
        self.exact = cfg.product == "exact"
        self.sp = cfg.shift if self.exact else 0
        self.cp = pair(pt, acc)
        self.cs = pair(sum_type(acc, pt) if self.exact else sum_type(acc, acc), acc)
        self.cr = pair(acc, cfg.result)
        self.cb = pair(cfg.bias, acc) if cfg.bias is not None else None
        src = cfg.result if cfg.activation_on == "result" else acc
        self.ca = (pair(product_type(src, cfg.alpha_format), cfg.result)
                   if cfg.activation == "leaky_relu" else self.cr)
        parts = {"product": self.cp, "sum": self.cs, "result": self.cr, "activation": self.ca}
        if cfg.bias is not None:
            parts["bias"] = self.cb
        missing = [k for k, v in parts.items() if v is None]
        self.why = (f"the {', '.join(missing)} conversion needs more than 63 bits to count"
                    if missing else None)


def events_dict(ev: np.ndarray, cfg, n_steps: int, n_bias: int) -> dict:
    """Counter array -> ``{slot: {"n", "rounded", "saturated", "wrapped"}}``."""
    def one(k, fmt, n):
        limited = int(ev[k + 1])
        wraps = fmt.overflow in (Overflow.AP_WRAP, Overflow.AP_WRAP_SM)
        return {"n": int(n), "rounded": int(ev[k]), "saturated": 0 if wraps else limited,
                "wrapped": limited if wraps else 0}

    out = {"products": one(_PROD, cfg.accum, 0 if cfg.product == "exact" else n_steps),
           "accum": one(_ACC, cfg.accum, n_steps),
           "result": one(_RES, cfg.result, ev[_N_RES])}
    if cfg.activation == "leaky_relu":
        out["activation"] = one(_ACT, cfg.result, ev[_N_ACT])
    if cfg.bias is not None:
        out["bias"] = one(8, cfg.accum, n_bias)
    return out


#: Counter array length: (rounded, overflow) for products, accum, result, activation, bias;
#: then the result and activation conversions run.
N_COUNTERS = 12


def convert_events(v: np.ndarray, src: FixedType, dst: FixedType, events: dict) -> np.ndarray:
    """``dst = src`` of raw values ``v`` (any shape), counting its events into ``events``
    (adds ``{"n", "rounded", "saturated", "wrapped"}``); int64 raw in ``dst``.  Between
    identical types C++ copies (no conversion, no event; see
    :func:`fixsim.layers.avgpool.assign_descriptor`)."""
    flat = np.ascontiguousarray(v, np.int64).reshape(-1)
    if src == dst:
        add_events(events, {"n": 0, "rounded": 0, "saturated": 0, "wrapped": 0})
        return flat.reshape(np.shape(v)).copy()
    c = pair(src, dst)
    if c is None:
        raise FormatError(f"conversion events cannot be counted here: {src} -> {dst} needs "
                          f"more than 63 bits to count")
    ev = np.zeros(2, np.int64)
    out = np.empty(flat.size, np.int64)
    convert_counted(flat, c, ev, out)
    wraps = dst.overflow in (Overflow.AP_WRAP, Overflow.AP_WRAP_SM)
    add_events(events, {"n": int(flat.size), "rounded": int(ev[0]),
                        "saturated": 0 if wraps else int(ev[1]),
                        "wrapped": int(ev[1]) if wraps else 0})
    return out.reshape(np.shape(v))


def slot(events: dict, name: str) -> dict:
    """``events[name]``, created with zero counts (so a conversion that never ran shows 0)."""
    return events.setdefault(name, {"n": 0, "rounded": 0, "saturated": 0, "wrapped": 0})


def add_events(total: dict, part: dict) -> dict:
    """Sum nested count dicts (the events of slices of a batch)."""
    for k, v in part.items():
        if isinstance(v, dict):
            add_events(total.setdefault(k, {}), v)
        else:
            total[k] = total.get(k, 0) + v
    return total


__all__ = ["Plan", "pair", "unlimited_twin", "conv_counted", "dense_counted", "finish_counted",
           "convert_counted", "convert_events", "events_dict", "add_events", "slot",
           "N_COUNTERS", "SLOTS"]
