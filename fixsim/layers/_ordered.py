"""Mode-specialized MAC kernels for conv2d and dense (private; docs/datapath.md section 6).

One loop structure serves three kinds of accumulation, each compiled per combination of
modes with the modes as closure constants (plain ints and bools, so Numba's disk cache
keys on them and the dead branches fold away):

- ``SUM``: ``acc += R(p)``, no overflow handling: the order-free path for a wrapping
  accumulator (AP_WRAP, N = 0) whose products are rounded (``R`` = A's rounding of the
  product onto A's grid); the caller wraps once at the end.
- ``CLAMP``: ``acc = A(acc + A(p))`` (to_accum) or ``acc = A(acc + p)`` (exact) with A's
  semantic modes (SAT, SAT_ZERO, SAT_SYM, or WRAP with N = 0), step by step.
- ``GENERIC``: the same step through conversion descriptors (any mode, including WRAP
  with N > 0 and AP_WRAP_SM, via the port of the headers' ``operator=``).

Loop order (the same for all kinds): per image and output channel and output row, a
vector of accumulators (one per output column; for dense, one per output feature) takes
term ``t`` before term ``t + 1``, so each output sees its terms in exactly the given order
while the innermost loop runs over independent accumulators (vectorizable; no divisions).
The term order is a parameter: ``terms`` (T, 3) rows ``(ci, kh, kw)`` for conv2d,
``order`` (T,) input indices for dense.  Zero-padding taps are skipped through per-``kh``
row checks and per-``kw`` column ranges (``acc + 0`` is ``acc`` in every mode).
``rows`` selects the outputs to compute: conv (R, 3) rows ``(n, co, oh)``, dense (R,) images;
an empty array means all of them (the speculative path, ``_speculative``, recomputes only
the rows whose range check failed, writing into its accumulator array).
Every kernel is serial and releases the GIL.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from ..fixed.format import Quantization
from ..fixed.kernels import SAT_SYM, SAT_ZERO, WRAP
from ..fixed.specialized import _clamp, _round_shift, _variant
from . import _kernels as K

SUM, CLAMP, GENERIC = 0, 1, 2
KINDS = {"sum": SUM, "clamp": CLAMP, "generic": GENERIC}


def _jit(fn):
    return njit(cache=True, nogil=True)(_variant(fn, "_nogil"))


@njit(cache=True, inline="always")
def _limit(o, sym_min, rule, y, lo, hi, sh_wrap, s):
    """A's overflow mode on an exact value: :func:`fixsim.fixed.specialized._clamp` as
    min/max selects (no short-circuit branches, so the loops vectorize).  AP_SAT_SYM on a
    signed A here has W >= 2 (the 1-bit case runs the headers' port, kind GENERIC): its
    range is [lo + 1, hi], and ``rule`` (the headers' minimum rule) also maps lo itself."""
    if o == WRAP:
        return _clamp(o, sym_min, rule, y, lo, hi, sh_wrap, s, 0)
    if o == SAT_ZERO:
        return y if (y >= lo) & (y <= hi) else y - y
    if o == SAT_SYM and sym_min:
        if rule:
            return min(max(y, lo + 1), hi)
        t = min(y, hi)
        return lo + 1 if t < lo else t
    return min(max(y, lo), hi)


@njit(cache=True, inline="always")
def _step(kind, q, o, exact, round_p, sym, acc, p, shift, lo, hi, sh_wrap, s, qr, sym_min,
          rule_p, rule_s, cp, cs):
    """One accumulation step of ``kind``.

    ``kind``, ``q``, ``o``, ``exact``, ``round_p``, ``sym`` are compile-time constants
    (``q`` < 0: the rounding mode is the run-time ``qr``; ``sym`` >= 0: the AP_SAT_SYM flags
    as bits, else the run-time ``sym_min``, ``rule_p``, ``rule_s``); the rest are run-time.
    """
    if sym >= 0:
        sym_min, rule_p, rule_s = (sym & 1) != 0, (sym & 2) != 0, (sym & 4) != 0
    if kind == GENERIC:
        return K._step(acc, p, exact, shift, cp, cs)
    if round_p:
        r = _round_shift(q if q >= 0 else qr, p, -shift)
    else:
        r = p << shift
    if kind == SUM:
        return acc + r
    if not exact:
        r = _limit(o, sym_min, rule_p, r, lo, hi, sh_wrap, s)
    return _limit(o, sym_min, rule_s, acc + r, lo, hi, sh_wrap, s)


#: Rounding modes compiled into their own kernels; the others share one (mode at run time).
COMPILED_Q = (int(Quantization.AP_TRN), int(Quantization.AP_RND), int(Quantization.AP_RND_CONV))


def kernels(kind: int, q: int = -1, o: int = 0, exact: bool = False, round_p: bool = False,
            sym_flags=(False, False, False)):
    """(conv_kernel, dense_kernel) for one kind and mode combination.

    The arguments are canonicalized first so that combinations that compile to the same
    code share one kernel: ``q`` only matters when products are rounded (``round_p``) and
    only the common modes (:data:`COMPILED_Q`) get their own; ``o`` does not matter to
    SUM; GENERIC reads everything from its descriptors; the AP_SAT_SYM flags
    ``sym_flags`` = (sym_min, rule_p, rule_s) are compiled in for that mode only.
    """
    if not round_p or kind == GENERIC:
        q = -1
    elif int(q) not in COMPILED_Q:
        q = -1
    if kind != CLAMP:
        o = 0
    sym = -1  # the AP_SAT_SYM flags as constants: (sym_min, rule_p, rule_s) in 3 bits
    if kind == CLAMP and int(o) == SAT_SYM:
        sym = int(sym_flags[0]) + 2 * int(sym_flags[1]) + 4 * int(sym_flags[2])
    return _kernels(int(kind), int(q), int(o), bool(exact), bool(round_p), sym)


@lru_cache(maxsize=None)
def _kernels(kind, q, o, exact, round_p, sym):
    """Build the pair.  Step arguments shared by both kernels: ``shift`` = F_acc - F_prod
    (a right shift of ``-shift`` bits with rounding when ``round_p``, else a left shift),
    ``lo``, ``hi`` the accumulator's raw range, ``sh_wrap`` = 64 - W_acc, ``s`` its
    signedness, ``qr`` the run-time rounding mode, ``sym_min`` (AP_SAT_SYM on a signed A),
    ``rule_p``/``rule_s`` (the AP_SAT_SYM minimum rule applies to the product / sum
    conversion into A), ``cp``/``cs`` the step descriptors (GENERIC only; see
    :func:`fixsim.layers.mac.step_descriptors`).
    """

    def conv(x, w, bias_acc, terms, ow_lo, ow_hi, sh, sw, ph, pw, rows, shift, lo, hi, sh_wrap, s,
             qr, sym_min, rule_p, rule_s, cp, cs, out):
        n_n, _, n_h, _ = x.shape
        n_co = w.shape[0]
        n_oh, n_ow = out.shape[2], out.shape[3]
        n_t = terms.shape[0]
        n_w = x.shape[3]
        n_rows = rows.shape[0]
        if n_rows == 0 and sh == 1 and sw == 1 and ph == 0 and pw == 0:
            # One long vector per channel: accumulator j = oh*W + ow (ow < OW; the columns
            # OW..W-1 of each row are scratch, never read back) takes x[ci].flat[j + kh*W + kw].
            n_j = (n_oh - 1) * n_w + n_ow
            accf = np.empty(n_j, np.int64)
            for job in range(n_n * n_co):
                n = job // n_co
                co = job - n * n_co
                b = bias_acc[co]
                for j in range(n_j):
                    accf[j] = b
                for t in range(n_t):
                    ci, kh, kw = terms[t, 0], terms[t, 1], terms[t, 2]
                    wv = np.int64(w[co, ci, kh, kw])
                    off = kh * n_w + kw
                    xv = x[n, ci].reshape(n_h * n_w)[off:off + n_j]
                    for j in range(n_j):
                        accf[j] = _step(kind, q, o, exact, round_p, sym, accf[j], xv[j] * wv, shift,
                                        lo, hi, sh_wrap, s, qr, sym_min, rule_p, rule_s, cp, cs)
                for oh in range(n_oh):
                    for i in range(n_ow):
                        out[n, co, oh, i] = accf[oh * n_w + i]
            return
        acc = np.empty(n_ow, np.int64)
        for r in range(n_rows if n_rows > 0 else n_n * n_co * n_oh):
            if n_rows > 0:  # the listed rows only (the speculative path's fallback)
                n, co, oh = rows[r, 0], rows[r, 1], rows[r, 2]
            else:
                n = r // (n_co * n_oh)
                co = (r // n_oh) % n_co
                oh = r % n_oh
            b = bias_acc[co]
            for i in range(n_ow):
                acc[i] = b
            for t in range(n_t):
                ci, kh, kw = terms[t, 0], terms[t, 1], terms[t, 2]
                ih = oh * sh - ph + kh
                if ih < 0 or ih >= n_h:
                    continue
                wv = np.int64(w[co, ci, kh, kw])
                a, e = ow_lo[kw], ow_hi[kw]
                # zero-based loops over views: no negative-index checks, vectorizable
                av = acc[a:e]
                if sw == 1:  # contiguous
                    xv = x[n, ci, ih, a + kw - pw:e + kw - pw]
                    for i in range(e - a):
                        av[i] = _step(kind, q, o, exact, round_p, sym, av[i], xv[i] * wv, shift,
                                      lo, hi, sh_wrap, s, qr, sym_min, rule_p, rule_s, cp, cs)
                elif e > a:
                    xs = x[n, ci, ih, a * sw + kw - pw:(e - 1) * sw + kw - pw + 1:sw]
                    for i in range(e - a):
                        av[i] = _step(kind, q, o, exact, round_p, sym, av[i], xs[i] * wv, shift,
                                      lo, hi, sh_wrap, s, qr, sym_min, rule_p, rule_s, cp, cs)
            for i in range(n_ow):
                out[n, co, oh, i] = acc[i]

    def dense(x, wt, bias_acc, order, rows, shift, lo, hi, sh_wrap, s, qr, sym_min, rule_p,
              rule_s, cp, cs, out):
        n_o = wt.shape[1]
        n_t = order.shape[0]
        n_rows = rows.shape[0]
        acc = np.empty(n_o, np.int64)
        for r in range(n_rows if n_rows > 0 else x.shape[0]):
            n = rows[r] if n_rows > 0 else r  # the listed images only (speculative fallback)
            for i in range(n_o):
                acc[i] = bias_acc[i]
            for t in range(n_t):
                k = order[t]
                xk = np.int64(x[n, k])
                row = wt[k]
                for i in range(n_o):
                    acc[i] = _step(kind, q, o, exact, round_p, sym, acc[i], xk * row[i], shift, lo,
                                   hi, sh_wrap, s, qr, sym_min, rule_p, rule_s, cp, cs)
            for i in range(n_o):
                out[n, i] = acc[i]

    return _jit(conv), _jit(dense)


def column_ranges(n_w: int, n_kw: int, sw: int, pw: int, n_ow: int):
    """Per kw, the output columns whose input column ``ow*sw - pw + kw`` is inside 0..W-1."""
    lo = np.zeros(n_kw, np.int64)
    hi = np.zeros(n_kw, np.int64)
    for kw in range(n_kw):
        first = max(0, -(-(pw - kw) // sw))  # ceil((pw - kw) / sw)
        last = (n_w - 1 + pw - kw) // sw  # floor
        lo[kw], hi[kw] = first, max(first, min(n_ow, last + 1))
    return lo, hi


def conv_terms(n_c: int, n_kh: int, n_kw: int, sum_order: str,
               reuse_factor: int = 1) -> np.ndarray:
    """The (T, 3) term order (ci, kh, kw) of a conv2d sum order (docs/datapath.md 3).

    "resource": the kh_kw_ci terms (hls4ml's index ``k = (kh*KW + kw)*C + ci``) in the
    order of :func:`resource_order`.
    """
    ci, kh, kw = np.meshgrid(np.arange(n_c), np.arange(n_kh), np.arange(n_kw), indexing="ij")
    terms = np.stack([ci.ravel(), kh.ravel(), kw.ravel()], axis=1)  # ci_kh_kw
    if sum_order in ("kh_kw_ci", "resource"):
        terms = terms[np.lexsort((terms[:, 0], terms[:, 2], terms[:, 1]))]
    if sum_order == "resource":
        terms = terms[resource_order(len(terms), reuse_factor)]
    return np.ascontiguousarray(terms, dtype=np.int64)


def resource_order(n_terms: int, reuse_factor: int) -> np.ndarray:
    """hls4ml's Resource-strategy order of the terms k = 0..K-1 of one output: ``k = ir +
    R*j`` for ir = 0..R-1 (outer), j = 0, 1, ... while k < K (``nnet_dense_resource.h``:
    the ReuseLoop over ir, the unrolled MultLoop over j).

    >>> resource_order(16, 4).tolist()
    [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]
    """
    k = np.arange(n_terms, dtype=np.int64)
    return np.ascontiguousarray(k[np.lexsort((k // reuse_factor, k % reuse_factor))])
