"""Mode-specialized exact kernels (private).

The generic kernels branch on the quantization and overflow modes for every element,
which keeps LLVM from vectorizing them.  Here each (mode, mode) combination gets its own
kernel, built on first use with the modes as closure constants: the dead branches fold
away and the remaining arithmetic is branch-free selects.  Closures capture only plain ints
and bools so that Numba's on-disk cache (keyed by closure values) is reused across runs.
The semantics are those of :func:`fixsim.fixed.kernels._requant` (the tests prove these
kernels equal the register-level header port).
"""

from __future__ import annotations

import types
from functools import lru_cache

import numpy as np
from numba import njit, prange

from .kernels import RND, RND_CONV, SAT_SYM, SAT_ZERO, TRN, WRAP, _inc


def _variant(fn, suffix: str):
    """A copy of ``fn`` under another name: Numba's disk cache keys on the function's
    qualified name and closure values, not on ``parallel=``, so serial and parallel builds
    of one body must not share a name (or one would be served for the other)."""
    new = types.FunctionType(fn.__code__.replace(co_name=fn.__name__ + suffix,
                                                 co_qualname=fn.__qualname__ + suffix),
                             fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    new.__qualname__ = fn.__qualname__ + suffix
    return new


def _jit(fn, parallel: bool):
    # nogil: fixsim's own pool runs these kernels (the model's input quantization) in
    # several threads at once
    return njit(cache=True, nogil=True, parallel=parallel)(_variant(fn, "_par" if parallel else "_ser"))


@njit(cache=True, inline="always")
def _clamp(o, sym_min, sym_rule, y, lo, hi, sh_wrap, s, force):
    """Raw result for overflow mode ``o`` (WRAP means N = 0); ``sh_wrap = 64 - W``.

    ``force`` is +1 / -1 when the value is known to lie beyond int64 (over / under).
    """
    if o == WRAP:
        if s:
            return (y << sh_wrap) >> sh_wrap
        return y & ((np.int64(1) << (64 - sh_wrap)) - 1) if sh_wrap > 0 else y
    over = y > hi or force > 0
    under = y < lo or force < 0
    if o == SAT_ZERO:
        return 0 if (over or under) else y
    sym = sym_min and hi > 0  # the pattern 10..01 is lo + 1, or lo itself for W = 1
    r = hi if over else ((lo + 1 if sym else lo) if under else y)
    if sym_rule and sym and r == lo:
        r = lo + 1
    return r


@njit(cache=True, inline="always")
def _round_shift(q, v, d):
    """``v * 2^-d`` rounded to an integer by mode ``q`` (a constant), for 1 <= d <= 62 and
    ``|v| <= 2^62`` (a source of at most 63 bits).

    Equal to :func:`fixsim.fixed.kernels._requant`'s rounding, without divisions: floor by
    an arithmetic shift; RND adds half first, RND_CONV adds half - 1 plus the kept LSB
    (ties go up exactly when that bit is odd); the other modes take the increment from
    the first dropped bit and the sticky bits.  ``v + half`` stays below 2^63 by the bound.
    """
    if q == TRN:
        return v >> d
    half = np.int64(1) << (d - 1)
    if q == RND:
        return (v + half) >> d
    if q == RND_CONV:
        return (v + (half - 1) + ((v >> d) & 1)) >> d
    y = v >> d
    qb = ((v >> (d - 1)) & 1) != 0
    r = (v & (half - 1)) != 0
    return y + _inc(q, y, v < 0, qb, r)


#: The largest width :func:`quantize_sat_floats` takes: lo, hi and every rounded value
#: are then exact doubles.
FLOAT_SAT_MAX_WIDTH = 53


def float_sat_ok(fmt) -> bool:
    """True when :func:`quantize_sat_floats` gives ``fmt``'s bits: AP_SAT with AP_RND or
    AP_TRN, at most 53 bits, and a grid whose scale 2^F is far from the double range's
    ends (so ``x * 2^F`` is exact, and subnormal inputs round as the headers read them)."""
    from .format import Overflow, Quantization

    return (fmt.overflow == Overflow.AP_SAT and fmt.width <= FLOAT_SAT_MAX_WIDTH
            and fmt.quantization in (Quantization.AP_RND, Quantization.AP_TRN)
            and abs(fmt.frac_bits) <= 64)


@njit(cache=True, nogil=True)
def quantize_sat_floats(x, scale, lo, hi, rnd, out):
    """Finite doubles ``x`` -> raw values of an AP_SAT format with AP_RND (``rnd``) or
    AP_TRN, into ``out`` (any integer dtype that holds [lo, hi]).

    ``v = x * 2^F`` is exact; ``f = floor(v)`` and ``v - f`` are exact too, so AP_RND
    (half up) is ``f + (v - f >= 0.5)`` and AP_TRN is ``f``; saturation clamps in
    doubles (lo and hi are exact), branch-free, so the loop vectorizes.  Returns
    ``(finite, out_of_range, rounded)``: ``finite`` is False when a NaN or inf was seen
    (or ``x * 2^F`` overflowed), and then the caller must use :func:`quantizer` (the
    headers' reading of those values); otherwise the counts are :func:`quantizer`'s.
    """
    n_ovf = 0
    n_rnd = 0
    n_bad = 0
    flo = np.float64(lo)
    fhi = np.float64(hi)
    half = 0.5 if rnd else 2.0  # r < 1 is never >= 2: AP_TRN adds nothing
    for k in range(x.shape[0]):
        v = x[k] * scale
        f = np.floor(v)
        r = v - f
        y = f + (r >= half)
        n_rnd += r != 0.0
        n_ovf += (y > fhi) | (y < flo)
        n_bad += (v - v) != 0.0  # NaN for NaN and inf
        out[k] = min(max(y, flo), fhi)
    return n_bad == 0, n_ovf, n_rnd


@lru_cache(maxsize=None)
def quantizer(q: int, o: int, sym_min: bool, parallel: bool = False):
    """Kernel ``f(bits, F, lo, hi, sh_wrap, signed, out) -> (nan, inf, out_of_range, rounded)``.

    ``rounded``: finite non-zero values off the target's grid (bits below the LSB dropped).

    ``bits``: IEEE-754 words of doubles; the double is read the headers' way (hidden bit
    always set, NaN/inf as +-(1.m)*2^1024), its raw value ``man * 2^e`` rounded once.
    ``sh_wrap = 64 - W``.  Not for 64-bit unsigned targets.
    """
    q, o, sym_min = int(q), int(o), bool(sym_min)  # closure constants: plain values only

    def kernel(bits, fb, lo, hi, sh_wrap, s, out):
        n_nan = 0
        n_inf = 0
        n_ovf = 0
        n_rnd = 0
        for k in prange(bits.shape[0]):
            xb = np.int64(bits[k])
            expo = ((xb >> 52) & 0x7FF) - 1023
            frac = xb & 0xFFFFFFFFFFFFF
            man = frac | (np.int64(1) << 52)
            neg = xb < 0
            v = -man if neg else man
            e = expo - 52 + fb
            special = expo == 1024
            n_nan += special and frac != 0
            n_inf += special and frac == 0
            # right shift (rounding); |v| < 2^53 so any d >= 62 acts like d = 62
            d = min(max(-e, 1), 62)
            y = v >> d
            rem = v - (y << d)
            half = np.int64(1) << (d - 1)
            y = y + _inc(q, y, neg, rem >= half, (rem & (half - 1)) != 0)
            n_rnd += (not special) and e < 0 and rem != 0 and (xb & 0x7FFFFFFFFFFFFFFF) != 0
            force = 0
            if e >= 0:
                if o == WRAP:
                    t = np.uint64(man) << np.uint64(min(e, 63))
                    t = np.uint64(0) if e >= 64 else t
                    y = np.int64((~t) + np.uint64(1)) if neg else np.int64(t)
                else:
                    # |raw| >= 2^63 beyond e = 10: every format here overflows, by sign,
                    # except raw = -2^63 exactly (e = 11, man = 2^52), which int64 holds
                    if e <= 10 or (e == 11 and neg and frac == 0):
                        y = v << e
                    else:
                        y = v
                        force = -1 if neg else 1
            if (xb & 0x7FFFFFFFFFFFFFFF) == 0:
                y = 0
                force = 0
            # AP_SAT_SYM's range is [-hi, hi]: the headers flag lo itself as underflow too
            low_out = y < lo or (o == SAT_SYM and s and y == lo)
            beyond = e > 11 or (e == 11 and not (neg and frac == 0))  # |raw| > 2^63 - ...
            n_ovf += (not special) and (y > hi or low_out or force != 0 or (o == WRAP and beyond))
            out[k] = _clamp(o, sym_min, sym_min, y, lo, hi, sh_wrap, s, force)
        return n_nan, n_inf, n_ovf, n_rnd

    return _jit(kernel, parallel)


@lru_cache(maxsize=None)
def mac_kernel(q: int, o: int, sym_min: bool, sym_rule: bool, parallel: bool):
    """Kernel ``f(a, b, init, sh_acc, sh_prod, d, lo, hi, sh_wrap, signed, out)``.

    ``C[i,j]`` = acc after ``acc = T(acc + a[i,k]*b[k,j])`` for k = 0..K-1 in order; the
    sum grid has ``F_sum = max(F_acc, F_prod)`` and ``d = F_sum - F_acc >= 0`` bits are
    dropped at each step.  Every output keeps its own k order; for each k the loop runs
    over a row of independent accumulators (contiguous in ``b``), rows may run in parallel.
    """
    q, o, sym_min, sym_rule = int(q), int(o), bool(sym_min), bool(sym_rule)

    def body(a, b, init, sh_acc, sh_prod, d, lo, hi, sh_wrap, s, out):
        n_i, n_k = a.shape
        n_j = b.shape[1]
        half = (np.int64(1) << (d - 1)) if d > 0 else np.int64(0)
        for ii in prange(n_i):
            acc = init[ii, :].copy()
            for kk in range(n_k):
                aik = a[ii, kk]
                for jj in range(n_j):
                    v = (acc[jj] << sh_acc) + ((aik * b[kk, jj]) << sh_prod)
                    if d > 0:
                        y = v >> d
                        rem = v - (y << d)
                        y = y + _inc(q, y, v < 0, rem >= half, (rem & (half - 1)) != 0)
                    else:
                        y = v
                    acc[jj] = _clamp(o, sym_min, sym_rule, y, lo, hi, sh_wrap, s, 0)
            out[ii, :] = acc

    return _jit(body, parallel)


def _exact_gemm_body(a, b, out):
    """out = a @ b for integer-valued float64 operands, accumulated in float64.

    Exact when every partial sum stays below 2^53 (checked by the caller); a plain row
    loop that LLVM vectorizes into FMAs, independent of BLAS threading.
    """
    n_i, n_k = a.shape
    n_j = b.shape[1]
    for ii in prange(n_i):
        acc = np.zeros(n_j)
        for kk in range(n_k):
            aik = a[ii, kk]
            for jj in range(n_j):
                acc[jj] += aik * b[kk, jj]
        for jj in range(n_j):
            out[ii, jj] = np.int64(acc[jj])


exact_gemm = _jit(_exact_gemm_body, False)
exact_gemm_parallel = _jit(_exact_gemm_body, True)
