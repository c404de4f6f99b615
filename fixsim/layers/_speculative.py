"""The exact speculative path for saturating accumulators (docs/datapath.md section 6.1).

For a conv2d/dense layer whose accumulator saturates (AP_SAT, AP_SAT_ZERO, AP_SAT_SYM),
each output's terms ``r_t`` (the products, or with ``F_acc < F_prod`` each product
rounded onto A's grid by A's rounding mode) are summed in any order together with a bound
``T >= sum_t |r_t|``.  From ``S = sum_t r_t`` and ``T`` follow ``P <= (T + S) // 2`` (the
sum of the positive terms) and ``N >= -((T - S) // 2)`` (the negative ones); every partial
sum of the contract order is ``A(bias)`` plus a sub-sum of the terms, so it lies in
``[A(bias) + N, A(bias) + P]``.  Where that interval and ``[N, P]`` (each product
converted into A on its own) lie inside A's range, no step of the contract saturates,
every conversion is the identity and the accumulator is ``A(bias) + S``.  The outputs whose
bound fails are recomputed in contract order by the ordered kernels (row by row).

Rounding without a mode branch: for every quantization mode,
``round(p / 2^d) = (p + c0 + (c1 if p < 0 else 0) + (c2 & floor(p / 2^d))) >> d``
(:func:`round_constants`), and ``|round(p / 2^d)| <= ceil(|p| / 2^d) = (|p| + 2^d - 1) >> d``.
One kernel serves every mode and both signs; the sums run in int32 lanes where the
operands, every rounding intermediate and every partial sum provably fit, else int64.
The same kernels without the bound give the "direct" path's sums of products rounded into
a wrapping accumulator (:func:`wrap_plan`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

from ..fixed.format import Overflow, Quantization
from ..fixed.specialized import _variant
from ._ordered import column_ranges, conv_terms

_INT32_MAX = 2 ** 31 - 1
#: Outputs of a conv map that take every term before the next block's: a constant trip
#: count, so LLVM vectorizes the lane loop without a remainder, and the block's s and t
#: (512 B each in int32) stay in the L1 cache across the term loop.  32 lanes were slower
#: (the per-term setup dominates, and a small body is unrolled into scalar code), 256 and
#: 512 no faster (measured on SpeckleNN's conv1 and conv2, docs/datapath.md section 8).
_LANES = 128
_INT64_MAX = 2 ** 63 - 1
#: Scratch arrays up to this many bytes are kept per thread and reused by the next call.
_SCRATCH_MAX = 2 ** 24
_LOCAL = threading.local()
_SATURATING = (Overflow.AP_SAT, Overflow.AP_SAT_ZERO, Overflow.AP_SAT_SYM)


def round_constants(q: Quantization, d: int) -> tuple[int, int, int]:
    """``(c0, c1, c2)`` of mode ``q`` dropping ``d`` bits (all 0 for ``d = 0``).

    ``round_q(p / 2^d) = (p + c0 + (c1 & sign(p)) + (c2 & (p >> d))) >> d`` with
    ``sign(p)`` = -1 for negative p, else 0 (floor shifts throughout):

    >>> c0, c1, c2 = round_constants(Quantization.AP_RND_CONV, 2)
    >>> [(p + c0 + (c1 & (p >> 63)) + (c2 & (p >> 2))) >> 2 for p in (2, 6, -2, -6)]
    [0, 2, 0, -2]
    """
    if d == 0:
        return 0, 0, 0
    half = 1 << (d - 1)
    # no mode has both c1 and c2 (the conv kernel adds one masked shift: _terms32)
    return {
        Quantization.AP_RND: (half, 0, 0),              # ties up: floor(v + 1/2)
        Quantization.AP_RND_ZERO: (half - 1, 1, 0),     # ties toward zero
        Quantization.AP_RND_MIN_INF: (half - 1, 0, 0),  # ties down: ceil(v - 1/2)
        Quantization.AP_RND_INF: (half, -1, 0),         # ties away from zero
        Quantization.AP_RND_CONV: (half - 1, 0, 1),     # ties to the even neighbour
        Quantization.AP_TRN: (0, 0, 0),                 # floor
        Quantization.AP_TRN_ZERO: (0, (1 << d) - 1, 0),  # toward zero: ceil for negatives
    }[Quantization(q)]


@dataclass(frozen=True)
class SpecPlan:
    """How one call of a layer runs the speculative path.

    lanes : np.int32 or np.int64, the dtype of the sums (operands int32 when lanes are)
    d, c0, c1, c2 : bits each product drops onto A's grid and its rounding constants
    check : the per-output bound is needed (False: proved for every output of the call)
    shift : left shift of the sums onto A's grid (``F_acc - F_prod``, or 0 when rounded)
    hi_c, lo_c : (Cout,) int64, the largest P and smallest N each output channel allows
    """

    lanes: type
    d: int
    c0: int
    c1: int
    c2: int
    check: bool
    shift: int
    hi_c: np.ndarray
    lo_c: np.ndarray

    def kernel_args(self) -> tuple:
        return (self.d, self.c0, self.c1, self.c2, self.check, self.shift, self.hi_c, self.lo_c)


def structural_reason(cfg, step_kind: str) -> str | None:
    """Why the formats alone keep a layer off the speculative path, or None
    (``step_kind``: the kind of the layer's ordered step, :func:`fixsim.layers.mac.step_plan`)."""
    acc = cfg.accum
    if acc.overflow not in _SATURATING:
        return f"the accumulator {acc} does not saturate ({acc.overflow.name})"
    if step_kind != "clamp":
        return f"the step into {acc} needs the headers' port (no semantic fast form)"
    if cfg.shift < -62:
        return f"products drop {-cfg.shift} bits into {acc} (more than 62)"
    return None


def _row_l1(w2d: np.ndarray) -> list[int]:
    """sum_k |w[o, k]| of every row, exactly (Python ints)."""
    if w2d.size and int(np.abs(w2d).max()) < 2 ** 40 and w2d.shape[1] < 2 ** 22:
        return [int(v) for v in np.abs(w2d.astype(np.int64)).sum(axis=1)]
    return [sum(abs(int(v)) for v in row) for row in w2d]


def make_plan(cfg, step_kind: str, xmax: int, w2d: np.ndarray,
              bias_acc: np.ndarray) -> tuple[SpecPlan | None, str | None]:
    """``(plan, None)`` for the speculative path on data with ``max|x| = xmax``, or
    ``(None, reason)``.  ``w2d``: (O, K) raw weights; ``bias_acc``: (O,) ``A(bias)``."""
    reason = structural_reason(cfg, step_kind)
    if reason:
        return None, reason
    acc = cfg.accum
    d, shift = max(0, -cfg.shift), max(0, cfg.shift)
    # sum_k |w[o, k]| per row: int64 when it cannot overflow (one pass over the weights on
    # every call, so no Python loop), else exact Python ints
    a = np.abs(w2d.astype(np.int64, copy=False)) if w2d.size else None
    small = a is not None and int(a.max()) < 2 ** 40 and w2d.shape[1] < 2 ** 22
    l1 = a.sum(axis=1) if small else _row_l1(w2d)
    wmax = int(a.max()) if small else (int(np.abs(w2d).max()) if w2d.size else 0)
    l1max = int(max(l1, default=0)) if not small else int(l1.max())
    pmax, smax = xmax * wmax, xmax * l1max
    lanes = _lanes(cfg, d, pmax, smax)
    if lanes is None:
        return None, f"products up to {pmax} and sums up to {smax} (raw) do not fit int64 lanes"
    # Per output channel: P * 2^shift <= hi - max(b, 0) and N * 2^shift >= lo' - min(b, 0)
    # (partial sums and each product alone), as bounds on P and N (floor / ceil).
    raw_max = acc.raw_max
    lo = acc.raw_min + (1 if (acc.overflow == Overflow.AP_SAT_SYM and acc.signed) else 0)
    # The bound for every input of this call: sum_t |r_t| <= (max|x| * L1 + K (2^d - 1)) >> d.
    slack = w2d.shape[1] * ((1 << d) - 1)
    if small and acc.width <= 62 and smax + slack < 2 ** 62:  # every value below fits int64
        b = bias_acc.astype(np.int64, copy=False)
        hi_c = (raw_max - np.maximum(b, 0)) >> shift
        lo_c = -((np.minimum(b, 0) - lo) >> shift)
        check = bool(np.any(((xmax * l1 + slack) >> d) > np.minimum(hi_c, -lo_c)))
    else:
        bias = [int(b) for b in bias_acc]
        hi_c = [(raw_max - max(b, 0)) >> shift for b in bias]
        lo_c = [-((min(b, 0) - lo) >> shift) for b in bias]
        check = any((xmax * int(l) + slack) >> d > min(h, -m)
                    for l, h, m in zip(l1, hi_c, lo_c, strict=True))
    c0, c1, c2 = round_constants(acc.quantization, d)
    return SpecPlan(lanes, d, c0, c1, c2, check, shift, np.array(hi_c, np.int64),
                    np.array(lo_c, np.int64)), None


def _lanes(cfg, d: int, pmax: int, smax: int | None):
    """int32 or int64 lanes for products up to ``pmax`` rounded by ``d`` bits whose
    partial sums stay within ``smax`` (None: the sums may wrap), or None."""
    narrow = cfg.in_format.width <= 32 and cfg.weight.width <= 32
    if (narrow and d <= 30 and pmax + (1 << d) <= _INT32_MAX
            and (cfg.accum.width <= 32 if smax is None else smax <= _INT32_MAX)):
        return np.int32
    if pmax + (1 << d) <= _INT64_MAX and (smax is None or smax <= 2 ** 62):
        return np.int64
    return None


def wrap_plan(cfg, xmax: int, w2d: np.ndarray) -> SpecPlan | None:
    """The kernels without the bound, for products rounded into a wrapping accumulator
    (AP_WRAP, N = 0; :func:`fixsim.layers.mac.rounded_sum_ok`): ``b + sum_t r_t`` modulo
    the lane width, which the caller wraps to A.  int32 lanes need ``W_acc <= 32`` (the sum
    modulo 2^32 fixes the residue modulo 2^W); None when no lane width holds the terms."""
    d = -cfg.shift
    wmax = int(np.abs(w2d).max()) if w2d.size else 0
    lanes = _lanes(cfg, d, xmax * wmax, None)
    if lanes is None or d <= 0:
        return None
    c0, c1, c2 = round_constants(cfg.accum.quantization, d)
    none = np.zeros(0, np.int64)
    return SpecPlan(lanes, d, c0, c1, c2, False, 0, none, none)


# ------------------------------------------------------------------------------ kernels
@njit(cache=True, inline="always")
def _add32(xv, wv, d, c0, c1, c2, check, s, t):
    """``s[j] += round(wv * xv[j] / 2^d)``; with ``check`` also
    ``t[j] += ceil(|wv * xv[j]| / 2^d)``, for j < len(s), in int32 lanes
    (``np.right_shift`` keeps int32 where ``>>`` would widen to int64)."""
    w32, d32, k31 = np.int32(wv), np.int32(d), np.int32(31)
    a0, a1, a2, m32 = np.int32(c0), np.int32(c1), np.int32(c2), np.int32((1 << d) - 1)
    for j in range(s.shape[0]):
        p = np.int32(w32 * xv[j])
        u = np.int32(np.int32(p + a0) + np.int32(np.right_shift(p, k31) & a1)
                     + np.int32(np.right_shift(p, d32) & a2))
        s[j] = np.int32(s[j] + np.right_shift(u, d32))
        if check:
            t[j] = np.int32(t[j] + np.right_shift(np.int32(np.abs(p) + m32), d32))


@njit(cache=True, inline="always")
def _add64(xv, wv, d, c0, c1, c2, check, s, t):
    """:func:`_add32` in int64 lanes."""
    m = (np.int64(1) << d) - 1
    for j in range(s.shape[0]):
        p = wv * xv[j]
        u = p + c0 + (np.right_shift(p, np.int64(63)) & c1) + (np.right_shift(p, d) & c2)
        s[j] += np.right_shift(u, d)
        if check:
            t[j] += np.right_shift(np.abs(p) + m, d)


@njit(cache=True, inline="always")
def _r32(p, a0, k32, aa, d32, general):
    """``round(p / 2^d)`` in int32: ``(p + c0 + ((p >> k) & a)) >> d`` (see :func:`_terms32`)."""
    u = np.int32(p + a0)
    if general:
        u = np.int32(u + np.int32(np.right_shift(p, k32) & aa))
    return np.right_shift(u, d32)


@njit(cache=True, inline="always")
def _terms32(xf, o0, step, wts, offs, n_t, d, c0, k, a, check, general, s, t):
    """For j < _LANES: ``s[j] = sum_i round(p / 2^d)`` of ``p = wts[i] * xf[o0 + offs[i] +
    j*step]`` and, with ``check``, ``t[j] = sum_i |p|`` (which the lane condition keeps in
    range: ``max|x| * sum_k |w[o, k]|``), in int32 lanes.  No mode has both ``c1`` and
    ``c2`` (:func:`round_constants`), so the rounding is ``(p + c0 + ((p >> k) & a)) >> d``
    with ``(k, a) = (31, c1)`` or ``(d, c2)``; ``general`` False when ``a = 0`` (AP_TRN,
    AP_RND, AP_RND_MIN_INF: ``(p + c0) >> d``).  Called with literal flags, so each inlined
    copy folds its branches away.  Four terms per pass over the block: one load and store
    of s (and t) per four products (the stores bound the loop otherwise)."""
    d32, k32 = np.int32(d), np.int32(k)
    a0, aa = np.int32(c0), np.int32(a)
    for j in range(_LANES):
        s[j] = 0
        t[j] = 0
    i = 0
    while i + 4 <= n_t:
        w0, w1, w2, w3 = wts[i], wts[i + 1], wts[i + 2], wts[i + 3]
        q0, q1, q2, q3 = o0 + offs[i], o0 + offs[i + 1], o0 + offs[i + 2], o0 + offs[i + 3]
        for j in range(_LANES):
            js = j * step
            # unsigned indices: no wraparound test (it made every load scalar)
            p0 = np.int32(w0 * xf[np.uint64(q0 + js)])
            p1 = np.int32(w1 * xf[np.uint64(q1 + js)])
            p2 = np.int32(w2 * xf[np.uint64(q2 + js)])
            p3 = np.int32(w3 * xf[np.uint64(q3 + js)])
            r = np.int32(np.int32(_r32(p0, a0, k32, aa, d32, general)
                                  + _r32(p1, a0, k32, aa, d32, general))
                         + np.int32(_r32(p2, a0, k32, aa, d32, general)
                                    + _r32(p3, a0, k32, aa, d32, general)))
            s[j] = np.int32(s[j] + r)
            if check:
                t[j] = np.int32(t[j] + np.int32(np.int32(np.abs(p0) + np.abs(p1))
                                                + np.int32(np.abs(p2) + np.abs(p3))))
        i += 4
    for r in range(i, n_t):
        w32 = wts[r]
        o = o0 + offs[r]
        for j in range(_LANES):
            p = np.int32(w32 * xf[np.uint64(o + j * step)])
            s[j] = np.int32(s[j] + _r32(p, a0, k32, aa, d32, general))
            if check:
                t[j] = np.int32(t[j] + np.abs(p))


@njit(cache=True, inline="always")
def _r64(p, c0, k, a, d, general):
    """:func:`_r32` in int64."""
    u = p + c0
    if general:
        u += np.right_shift(p, k) & a
    return np.right_shift(u, d)


@njit(cache=True, inline="always")
def _terms64(xf, o0, step, wts, offs, n_t, d, c0, k, a, check, general, s, t):
    """:func:`_terms32` in int64 lanes (``k = 63`` for the sign)."""
    for j in range(_LANES):
        s[j] = 0
        t[j] = 0
    i = 0
    while i + 4 <= n_t:
        w0, w1, w2, w3 = wts[i], wts[i + 1], wts[i + 2], wts[i + 3]
        q0, q1, q2, q3 = o0 + offs[i], o0 + offs[i + 1], o0 + offs[i + 2], o0 + offs[i + 3]
        for j in range(_LANES):
            js = j * step
            p0 = w0 * xf[np.uint64(q0 + js)]
            p1 = w1 * xf[np.uint64(q1 + js)]
            p2 = w2 * xf[np.uint64(q2 + js)]
            p3 = w3 * xf[np.uint64(q3 + js)]
            s[j] += (_r64(p0, c0, k, a, d, general) + _r64(p1, c0, k, a, d, general)
                     + _r64(p2, c0, k, a, d, general) + _r64(p3, c0, k, a, d, general))
            if check:
                t[j] += np.abs(p0) + np.abs(p1) + np.abs(p2) + np.abs(p3)
        i += 4
    for r in range(i, n_t):
        wv = wts[r]
        o = o0 + offs[r]
        for j in range(_LANES):
            p = wv * xf[np.uint64(o + j * step)]
            s[j] += _r64(p, c0, k, a, d, general)
            if check:
                t[j] += np.abs(p)


@njit(cache=True, inline="always")
def _failures(s, t, j0, n_j, hi, lo, d=0, n_t=0):
    """How many of the outputs ``j0 .. j0 + n_j - 1`` fail ``(T + s) >> 1 <= hi`` (P) or
    ``-((T - s) >> 1) >= lo`` (N), with ``T = t`` (``d = 0``), else ``T = (t >> d) + n_t``
    for ``t = sum |p|`` over ``n_t`` products (``>= sum ceil(|p| / 2^d)``)."""
    bad = 0
    for i in range(n_j):
        sv, tv = np.int64(s[j0 + i]), np.int64(t[j0 + i])
        if d > 0:
            tv = (tv >> d) + n_t
        bad += (((tv + sv) >> 1) > hi) | (-((tv - sv) >> 1) < lo)
    return bad


def _jit(fn):
    return njit(cache=True, nogil=True)(_variant(fn, "_nogil"))


@lru_cache(maxsize=None)
def kernels(wide: bool):
    """(conv, dense) kernels with int64 (``wide``) or int32 lanes; operands of the same
    dtype.  One build per lane width: the other width's loop is not compiled."""

    def conv(xf, dims, wts, offs, n_terms, bias_acc, d, c0, c1, c2, check, shift, hi_c, lo_c,
             sv, tv, acc, rows):
        """Speculative conv on the flat zero-padded input xf (N * C*Hp*Wp, then at least
        ``_LANES * sw`` zeros); ``dims`` = (C*Hp*Wp, Wp, sh, sw).  Output channel co takes
        the terms ``wts[co, i]`` at input offsets ``offs[co, i]`` (``ci*Hp*Wp + kh*Wp + kw``),
        i < n_terms[co] (the nonzero weights).  acc (N, Cout, OH, OW) int64 gets
        ``A(bias) + (sum << shift)`` on every row whose outputs all pass; the others are
        listed in rows (R_max, 3) as (n, co, oh).  sv, tv: scratch in the lane dtype, at
        least ``(OH - 1) * Wp + OW + _LANES`` long.  Returns (failed rows, failed outputs)."""
        img, n_wp, sh, sw = dims[0], dims[1], dims[2], dims[3]
        n_n, n_co, n_oh, n_ow = acc.shape
        long = sh == 1 and sw == 1  # one vector per map: accumulator j = oh*Wp + ow
        n_j = (n_oh - 1) * n_wp + n_ow if long else n_ow
        general = c1 != 0 or c2 != 0
        # one of c1 (the sign's term) and c2 (the kept LSB's) is 0 in every mode
        k, a = ((63 if wide else 31), c1) if c1 != 0 else (d, c2)
        s, t = sv[n_j:n_j + _LANES], tv[n_j:n_j + _LANES]  # the block, after the map
        n_fail = 0
        n_bad = 0
        for job in range(n_n * (n_co if long else n_co * n_oh)):
            if long:
                n, co, oh0 = job // n_co, job % n_co, 0
            else:
                n, co, oh0 = job // (n_co * n_oh), (job // n_oh) % n_co, job % n_oh
            w_co, o_co, n_t = wts[co], offs[co], n_terms[co]
            base = n * img + oh0 * sh * n_wp
            for jb in range(0, n_j, _LANES):
                o0 = base + jb * sw
                # literal flags: four unrolled bodies for stride 1, one for the others
                if not long:
                    if wide:
                        _terms64(xf, o0, sw, w_co, o_co, n_t, d, c0, k, a, check, general, s, t)
                    else:
                        _terms32(xf, o0, sw, w_co, o_co, n_t, d, c0, k, a, check, general, s, t)
                elif general and check:
                    if wide:
                        _terms64(xf, o0, 1, w_co, o_co, n_t, d, c0, k, a, True, True, s, t)
                    else:
                        _terms32(xf, o0, 1, w_co, o_co, n_t, d, c0, k, a, True, True, s, t)
                elif general:
                    if wide:
                        _terms64(xf, o0, 1, w_co, o_co, n_t, d, c0, k, a, False, True, s, t)
                    else:
                        _terms32(xf, o0, 1, w_co, o_co, n_t, d, c0, k, a, False, True, s, t)
                elif check:
                    if wide:
                        _terms64(xf, o0, 1, w_co, o_co, n_t, d, c0, k, a, True, False, s, t)
                    else:
                        _terms32(xf, o0, 1, w_co, o_co, n_t, d, c0, k, a, True, False, s, t)
                else:
                    if wide:
                        _terms64(xf, o0, 1, w_co, o_co, n_t, d, c0, k, a, False, False, s, t)
                    else:
                        _terms32(xf, o0, 1, w_co, o_co, n_t, d, c0, k, a, False, False, s, t)
                for j in range(min(_LANES, n_j - jb)):
                    sv[jb + j] = s[j]
                    tv[jb + j] = t[j]
            b = bias_acc[co]
            for oh in range(oh0, oh0 + (n_oh if long else 1)):
                j0 = (oh - oh0) * n_wp if long else 0
                bad = _failures(sv, tv, j0, n_ow, hi_c[co], lo_c[co], d, n_t) if check else 0
                if bad:
                    rows[n_fail, 0], rows[n_fail, 1], rows[n_fail, 2] = n, co, oh
                    n_fail += 1
                    n_bad += bad
                else:
                    row = acc[n, co, oh]
                    for i in range(n_ow):
                        row[i] = b + (np.int64(sv[j0 + i]) << shift)
        return n_fail, n_bad

    def dense(x, wt, bias_acc, d, c0, c1, c2, check, shift, hi_c, lo_c, s, t, acc, rows):
        """Speculative dense: x (N, K), wt (K, O); acc (N, O) int64 gets
        ``A(bias) + (sum << shift)`` for every image whose outputs all pass, the others
        are listed in rows (N,).  s, t (O,) scratch in the lane dtype.  Returns (failed
        images, failed outputs)."""
        n_o = wt.shape[1]
        n_fail = 0
        n_bad = 0
        for n in range(x.shape[0]):
            s[:] = 0
            if check:
                t[:] = 0
            for k in range(x.shape[1]):
                xk = x[n, k]
                if xk == 0:
                    continue
                if wide:
                    _add64(wt[k], xk, d, c0, c1, c2, check, s, t)
                else:
                    _add32(wt[k], xk, d, c0, c1, c2, check, s, t)
            bad = 0
            for o in range(n_o if check else 0):
                sv, tv = np.int64(s[o]), np.int64(t[o])
                bad += (((tv + sv) >> 1) > hi_c[o]) | (-((tv - sv) >> 1) < lo_c[o])
            if bad:
                rows[n_fail] = n
                n_fail += 1
                n_bad += bad
            else:
                for o in range(n_o):
                    acc[n, o] = bias_acc[o] + (np.int64(s[o]) << shift)
        return n_fail, n_bad

    return _jit(conv), _jit(dense)


# ---------------------------------------------------------------------------- the layers
def _scratch(name: str, shape, dtype) -> np.ndarray:
    """An uninitialized array for this thread, reused by its next call under ``name``.

    A fresh array of a few MB costs a page fault per 4 kB page on every call (glibc gives
    large blocks back to the system when they are freed): for SpeckleNN's conv1 on 8 frames
    that took longer than the conv kernel.  Only the layer functions' own scratch and
    accumulator arrays go through here; none of them outlives the layer call.
    """
    dt = np.dtype(dtype)
    size = math.prod(shape) if isinstance(shape, tuple) else int(shape)
    if size * dt.itemsize > _SCRATCH_MAX:
        return np.empty(shape, dt)
    bufs = _LOCAL.__dict__.setdefault("bufs", {})
    buf = bufs.get((name, dt.str))
    if buf is None or buf.size < size:
        buf = bufs[(name, dt.str)] = np.empty(max(size, 1), dt)
    return buf[:size].reshape(shape)


def _operands(arr: np.ndarray, plan: SpecPlan) -> np.ndarray:
    return arr.astype(plan.lanes, copy=False)


def _terms_of(w: np.ndarray, hp: int, wp: int, lanes) -> tuple:
    """(wts, offs, n_terms) of a conv weight (Cout, C, KH, KW) int64: per output channel
    its nonzero weights (a zero weight adds 0 to s and t in every mode) and their offsets
    ``ci*Hp*Wp + kh*Wp + kw`` in the flat padded input, packed to the front.  Weights of
    up to 2^16 values are looked up by their bytes (a layer calls this once per slice of
    images with the same weights); the kernels only read the arrays."""
    key = (w.shape, hp, wp, np.dtype(lanes).str)
    if w.size <= 2 ** 16:
        return _terms_cached(np.ascontiguousarray(w, np.int64).tobytes(), *key)
    return _pack_terms(w, *key)


@lru_cache(maxsize=64)
def _terms_cached(raw: bytes, shape, hp, wp, lanes) -> tuple:
    return _pack_terms(np.frombuffer(raw, np.int64).reshape(shape), shape, hp, wp, lanes)


def _pack_terms(w, shape, hp, wp, lanes) -> tuple:
    cout, c, kh, kw = shape
    grid = np.arange(c)[:, None, None] * (hp * wp) + np.arange(kh)[:, None] * wp + np.arange(kw)
    w2 = w.reshape(cout, -1)
    nz = w2 != 0
    order = np.argsort(~nz, axis=1, kind="stable")  # nonzero first, in (ci, kh, kw) order
    wts = np.ascontiguousarray(np.take_along_axis(w2, order, 1), lanes)
    offs = np.ascontiguousarray(grid.reshape(-1)[order], np.int64)
    return wts, offs, nz.sum(axis=1).astype(np.int64)


def conv2d_accumulators(x, w, bias_acc, cfg, plan: SpecPlan, step, stride, padding, out_hw,
                        stats: dict | None = None) -> np.ndarray:
    """The accumulators (N, Cout, OH, OW) of a conv2d layer, as the contract computes them.

    x (N, C, H, W) and w (Cout, C, KH, KW) int64 raw; speculative sums, then the rows that
    fail the bound in contract order (``step``: the layer's
    :class:`~fixsim.layers.mac.StepPlan`, the ordered kernels).  ``stats`` (a dict) receives
    ``outputs``, ``failed`` (outputs whose bound failed) and ``recomputed`` (outputs of the
    recomputed rows).
    """
    n, c, h, wd = x.shape
    cout, _, kh, kw = w.shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    hp, wp = h + 2 * ph, wd + 2 * pw
    # flat zero-padded input, then zeros for the last block's lanes past the map (their
    # products are 0 in every mode, and they are never read back)
    xf = _scratch("xf", n * c * hp * wp + _LANES * max(sw, 1) + wp * sh, plan.lanes)
    body = xf[:n * c * hp * wp].reshape(n, c, hp, wp)
    if ph or pw:
        body[:] = 0
    body[:, :, ph:ph + h, pw:pw + wd] = x
    xf[n * c * hp * wp:] = 0
    wts, offs, n_terms = _terms_of(w, hp, wp, plan.lanes)
    length = (oh - 1) * wp + ow + 2 * _LANES
    s, t = _scratch("s", length, plan.lanes), _scratch("t", length, plan.lanes)
    accs = _scratch("accs", (n, cout, oh, ow), np.int64)
    rows = _scratch("rows", (n * cout * oh, 3), np.int64)
    conv = kernels(plan.lanes is np.int64)[0]
    dims = np.array([c * hp * wp, wp, sh, sw], np.int64)
    n_fail, n_bad = conv(xf, dims, wts, offs, n_terms, bias_acc, *plan.kernel_args(), s, t, accs,
                         rows)
    if n_fail:
        xo = x.astype(np.int32) if cfg.in_format.width <= 32 else x
        wo = w.astype(np.int32) if cfg.weight.width <= 32 else w
        step.conv(xo, wo, bias_acc, conv_terms(c, kh, kw, cfg.sum_order, cfg.reuse_factor),
                  *column_ranges(wd, kw, sw, pw, ow), sh, sw, ph, pw, rows[:n_fail],
                  *step.step_args(), accs)
    if stats is not None:
        stats.update(outputs=accs.size, failed=int(n_bad), recomputed=int(n_fail) * ow)
    return accs


def dense_accumulators(x, w, bias_acc, cfg, plan: SpecPlan, step, order=None,
                       stats: dict | None = None) -> np.ndarray:
    """The accumulators (N, O) of a dense layer (x (N, K), w (O, K) int64 raw), as
    :func:`conv2d_accumulators`; failing images are recomputed in the order ``order``
    (default k = 0..K-1)."""
    n, k = x.shape
    o = w.shape[0]
    xn = _operands(x, plan)
    wt = _scratch("wt", (k, o), xn.dtype)
    wt[:] = w.T
    s, t = np.empty(o, plan.lanes), np.empty(o, plan.lanes)
    accs = _scratch("accs", (n, o), np.int64)
    rows = np.empty(n, np.int64)
    dense = kernels(plan.lanes is np.int64)[1]
    n_fail, n_bad = dense(xn, wt, bias_acc, *plan.kernel_args(), s, t, accs, rows)
    if n_fail:
        xo = x.astype(np.int32) if cfg.in_format.width <= 32 else x
        wo = np.ascontiguousarray(w.T, np.int32 if cfg.weight.width <= 32 else np.int64)
        ks = np.arange(k, dtype=np.int64) if order is None else order
        step.dense(xo, wo, bias_acc, ks, rows[:n_fail], *step.step_args(), accs)
    if stats is not None:
        stats.update(outputs=accs.size, failed=int(n_bad), recomputed=int(n_fail) * o)
    return accs
