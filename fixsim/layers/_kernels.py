"""Private Numba kernels of the layers (integer-only, int64 raw mantissas).

A *conversion descriptor* (``int64[DESCRIPTOR_SIZE]``, built by
:func:`fixsim.layers.convert.descriptor`, read through its named slots) carries one
``dst = src`` conversion: either the semantic fast form (``_requant``, valid for
SAT/SAT_ZERO/SAT_SYM and WRAP without N bits when the shifted source fits int64) or the
full port of the headers' ``operator=`` (``_convert_pattern``) for every other case.

The kernels are serial and release the GIL (``nogil``): the engine runs slices of the
batch in threads, so every image is computed by exactly the same code whatever the
thread count, and there is one thread start per call instead of one per kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..fixed.kernels import (RND, RND_CONV, RND_INF, RND_MIN_INF, RND_ZERO, SAT, SAT_ZERO, TRN,
                             TRN_ZERO, WRAP, _convert_pattern, _mask, _requant, _to_int64)
from .convert import (DST_I, DST_N, DST_SIGNED, DST_W, FAST, HI, LO, OMODE, QMODE, SHIFT,
                      SRC_I, SRC_SIGNED, SRC_W, SYM_MIN, SYM_RULE)


@njit(cache=True, inline="always")
def _semantic(v, c):
    """The semantic form of a FAST descriptor ``c`` (``_requant``, then W-bit wrap)."""
    y = _requant(v, c[SHIFT], c[LO], c[HI], c[QMODE], c[OMODE], c[SYM_MIN] != 0,
                 c[SYM_RULE] != 0)
    if c[OMODE] == WRAP:
        y = _to_int64(np.uint64(y) & _mask(c[DST_W]), c[DST_W], c[DST_SIGNED] != 0)
    return y


@njit(cache=True, inline="always")
def _cvt(v, c):
    """``dst(src(v))`` for an exact int64 source value ``v``, per descriptor ``c``."""
    if c[FAST] == 1:
        return _semantic(v, c)
    pat, _ = _convert_pattern(np.uint64(v), c[SRC_W], c[SRC_I], c[SRC_SIGNED] != 0, c[DST_W],
                              c[DST_I], c[DST_SIGNED] != 0, c[QMODE], c[OMODE], c[DST_N], False)
    return _to_int64(pat, c[DST_W], c[DST_SIGNED] != 0)


@njit(cache=True, nogil=True)
def convert_array(v, c, out):
    """``out[k] = _cvt(v[k], c)`` for every k of the 1-D arrays (``out`` may be ``v``).

    The semantic form runs as whole-array passes without per-element branches: the
    rounding by the constants of :func:`fixsim.layers._speculative.round_constants`
    (``(v + c0 + (c1 & sign) + (c2 & (v >> d))) >> d``; |v| < 2^62 by the descriptor's
    FAST condition, so nothing overflows), then the overflow mode as selects (clamp,
    zero, or the W-bit sign extension).  Other descriptors take :func:`_cvt` per element.
    """
    n = v.shape[0]
    if c[FAST] != 1:
        for k in range(n):
            out[k] = _cvt(v[k], c)
        return
    d, lo, hi, q, o = c[SHIFT], c[LO], c[HI], c[QMODE], c[OMODE]
    if d > 0:
        half = np.int64(1) << (d - 1)
        c0, c1, c2 = half, np.int64(0), np.int64(0)
        if q == RND_ZERO:
            c0, c1 = half - 1, np.int64(1)
        elif q == RND_MIN_INF:
            c0 = half - 1
        elif q == RND_INF:
            c1 = np.int64(-1)
        elif q == RND_CONV:
            c0, c2 = half - 1, np.int64(1)
        elif q == TRN:
            c0 = np.int64(0)
        elif q == TRN_ZERO:
            c0, c1 = np.int64(0), (np.int64(1) << d) - 1
        for k in range(n):
            x = v[k]
            out[k] = (x + c0 + (c1 & (x >> 63)) + (c2 & (x >> d))) >> d
    else:
        for k in range(n):
            out[k] = v[k] << -d
    if o == WRAP:
        w = c[DST_W]
        if c[DST_SIGNED] != 0:
            sh = 64 - w
            for k in range(n):
                out[k] = (out[k] << sh) >> sh
        else:
            m = np.int64(_mask(w))
            for k in range(n):
                out[k] = out[k] & m
    elif o == SAT_ZERO:
        for k in range(n):
            y = out[k]
            out[k] = 0 if (y > hi) | (y < lo) else y
    else:  # SAT, SAT_SYM: the minimum is lo + 1 for a signed SAT_SYM target (hi > 0)
        sym = c[SYM_MIN] != 0 and hi > 0
        below = lo + 1 if sym else lo
        floor_ = lo + 1 if sym and c[SYM_RULE] != 0 else lo  # an in-range lo too
        for k in range(n):
            y = out[k]
            y = below if y < lo else y
            out[k] = min(max(y, floor_), hi)


@njit(cache=True)
def _step(acc, p, exact, sp, cp, cs):
    """One accumulation step.

    to_accum: ``acc = A(acc + A(p))`` (cp: product -> A, cs: A + A -> A);
    exact: ``acc = A(acc + p)`` on the accumulator grid (p shifted left by sp; cs: sum -> A).
    """
    if exact:
        return _cvt(acc + (p << sp), cs)
    return _cvt(acc + _cvt(p, cp), cs)


@njit(cache=True, nogil=True)
def _conv_sequential(x, w, bias_acc, sh, sw, ph, pw, khkwci, exact, sp, cp, cs, out):
    """Contract-order conv accumulation: out[n,co,oh,ow] = acc after every term in order.

    Terms run over (ci, kh, kw) or, with ``khkwci``, (kh, kw, ci); taps in the zero
    padding are skipped because ``acc + 0 == acc`` in every mode (docs/datapath.md).
    """
    n_n, n_c, n_h, n_w = x.shape
    n_co, _, n_kh, n_kw = w.shape
    n_oh, n_ow = out.shape[2], out.shape[3]
    n_t = n_c * n_kh * n_kw
    for job in range(n_n * n_co):
        n = job // n_co
        co = job % n_co
        for oh in range(n_oh):
            for ow in range(n_ow):
                acc = bias_acc[co]
                for t in range(n_t):
                    if khkwci:
                        kh = t // (n_kw * n_c)
                        kw = (t // n_c) % n_kw
                        ci = t % n_c
                    else:
                        ci = t // (n_kh * n_kw)
                        kh = (t // n_kw) % n_kh
                        kw = t % n_kw
                    ih = oh * sh - ph + kh
                    iw = ow * sw - pw + kw
                    if ih < 0 or ih >= n_h or iw < 0 or iw >= n_w:
                        continue
                    acc = _step(acc, x[n, ci, ih, iw] * w[co, ci, kh, kw], exact, sp, cp, cs)
                out[n, co, oh, ow] = acc


@njit(cache=True, nogil=True)
def _dense_sequential(x, w, bias_acc, exact, sp, cp, cs, out):
    """Contract-order dense accumulation over k = 0..K-1: x (N,K), w (O,K), out (N,O)."""
    n_n, n_k = x.shape
    n_o = w.shape[0]
    for job in range(n_n * n_o):
        n = job // n_o
        o = job % n_o
        acc = bias_acc[o]
        for k in range(n_k):
            acc = _step(acc, x[n, k] * w[o, k], exact, sp, cp, cs)
        out[n, o] = acc


@njit(cache=True, nogil=True)
def _conv_sum_direct(x, w, sh, sw, out):
    """out[n,co,oh,ow] = sum of x*w over the window, exact modulo 2^64 (any order).

    ``x`` is already zero-padded (zero terms add nothing to an exact sum).
    """
    n_c = x.shape[1]
    n_co, _, n_kh, n_kw = w.shape
    n_n, n_oh, n_ow = out.shape[0], out.shape[2], out.shape[3]
    for job in range(n_n * n_co):
        n = job // n_co
        co = job % n_co
        o = out[n, co]
        o[:, :] = 0
        for ci in range(n_c):
            for kh in range(n_kh):
                for kw in range(n_kw):
                    wv = w[co, ci, kh, kw]
                    for oh in range(n_oh):
                        row = x[n, ci, oh * sh + kh]
                        orow = o[oh]
                        if sw == 1:  # contiguous and vectorizable
                            for ow in range(n_ow):
                                orow[ow] += wv * row[ow + kw]
                        else:
                            for ow in range(n_ow):
                                orow[ow] += wv * row[ow * sw + kw]


@njit(cache=True, nogil=True)
def _dense_sum_direct(x, w, out):
    """out[n,o] = sum_k x[n,k]*w[o,k], exact modulo 2^64."""
    n_n, n_k = x.shape
    n_o = w.shape[0]
    for n in range(n_n):
        for o in range(n_o):
            s = np.int64(0)
            for k in range(n_k):
                s += x[n, k] * w[o, k]
            out[n, o] = s


@njit(cache=True, nogil=True)
def _im2col_t(x, n_kh, n_kw, sh, sw, ph, pw, n_oh, n_ow, cols):
    """cols[(ci,kh,kw), (n,oh,ow)] = padded input as float64 (exact: |raw| < 2^53)."""
    n_n, n_c, n_h, n_w = x.shape
    for r in range(n_c * n_kh * n_kw):
        ci = r // (n_kh * n_kw)
        kh = (r // n_kw) % n_kh
        kw = r % n_kw
        j = 0
        for n in range(n_n):
            for oh in range(n_oh):
                ih = oh * sh - ph + kh
                for ow in range(n_ow):
                    iw = ow * sw - pw + kw
                    if ih < 0 or ih >= n_h or iw < 0 or iw >= n_w:
                        cols[r, j] = 0.0
                    else:
                        cols[r, j] = np.float64(x[n, ci, ih, iw])
                    j += 1


@njit(cache=True, inline="always")
def _acc_value(b, sv, shift, wrap_acc, acc_w, acc_s):
    acc = b + (sv << shift)
    if wrap_acc:
        acc = _to_int64(np.uint64(acc) & _mask(acc_w), acc_w, acc_s)
    return acc


@njit(cache=True, inline="always")
def _hot(acc, d, lo, hi, q, o, sym_min, sym_rule, w, sg, relu):
    """Fast result conversion and relu/linear; literal ``q``/``o`` fold the mode branches."""
    y = _requant(acc, d, lo, hi, q, o, sym_min, sym_rule)
    if o == WRAP:
        y = _to_int64(np.uint64(y) & _mask(w), w, sg)
    if relu and y < 0:
        y = 0
    return y


def _finish(s, shift, bias_acc, wrap_acc, acc_w, acc_s, cr, act, alpha, ca, on_accum, out):
    """Accumulator and result stage, elementwise over s (N, C, P) exact sums.

    acc = bias + (s << shift) [wrapped to the accumulator if ``wrap_acc``], then
    the activation (0 linear, 1 relu, 2 leaky) on the result (cr: acc -> result,
    ca: alpha product -> result) or, with ``on_accum``, on the accumulator.

    One kernel per path, picked here: Numba compiles a kernel on its first call, so a
    spec compiles only the paths its formats use (the general path, which inlines the
    full ``operator=`` port, takes most of a cold run's compile time and is rarely needed).
    """
    hot = cr[FAST] == 1 and not on_accum and act != 2
    if hot and cr[QMODE] == RND and cr[OMODE] == SAT:
        kernel = _finish_rnd_sat
    elif hot and cr[QMODE] == TRN and cr[OMODE] == WRAP:
        kernel = _finish_trn_wrap
    elif hot:
        kernel = _finish_hot
    else:
        kernel = _finish_general
    kernel(s, shift, bias_acc, wrap_acc, acc_w, acc_s, cr, act, alpha, ca, on_accum, out)


@njit(cache=True, nogil=True)
def _finish_rnd_sat(s, shift, bias_acc, wrap_acc, acc_w, acc_s, cr, act, alpha, ca, on_accum, out):
    """:func:`_finish` for a fast AP_RND/AP_SAT result conversion, linear or relu."""
    n_n, n_c, n_p = s.shape
    d, lo, hi, w, sg = cr[SHIFT], cr[LO], cr[HI], cr[DST_W], cr[DST_SIGNED] != 0
    sym_min, sym_rule, relu = cr[SYM_MIN] != 0, cr[SYM_RULE] != 0, act == 1
    for job in range(n_n * n_c):
        n, c = job // n_c, job % n_c
        b = bias_acc[c]
        for i in range(n_p):
            acc = _acc_value(b, s[n, c, i], shift, wrap_acc, acc_w, acc_s)
            out[n, c, i] = _hot(acc, d, lo, hi, RND, SAT, sym_min, sym_rule, w, sg, relu)


@njit(cache=True, nogil=True)
def _finish_trn_wrap(s, shift, bias_acc, wrap_acc, acc_w, acc_s, cr, act, alpha, ca, on_accum, out):
    """:func:`_finish` for a fast AP_TRN/AP_WRAP result conversion, linear or relu."""
    n_n, n_c, n_p = s.shape
    d, lo, hi, w, sg = cr[SHIFT], cr[LO], cr[HI], cr[DST_W], cr[DST_SIGNED] != 0
    sym_min, sym_rule, relu = cr[SYM_MIN] != 0, cr[SYM_RULE] != 0, act == 1
    for job in range(n_n * n_c):
        n, c = job // n_c, job % n_c
        b = bias_acc[c]
        for i in range(n_p):
            acc = _acc_value(b, s[n, c, i], shift, wrap_acc, acc_w, acc_s)
            out[n, c, i] = _hot(acc, d, lo, hi, TRN, WRAP, sym_min, sym_rule, w, sg, relu)


@njit(cache=True, nogil=True)
def _finish_hot(s, shift, bias_acc, wrap_acc, acc_w, acc_s, cr, act, alpha, ca, on_accum, out):
    """:func:`_finish` for any other fast result conversion, linear or relu."""
    n_n, n_c, n_p = s.shape
    q, o = cr[QMODE], cr[OMODE]
    d, lo, hi, w, sg = cr[SHIFT], cr[LO], cr[HI], cr[DST_W], cr[DST_SIGNED] != 0
    sym_min, sym_rule, relu = cr[SYM_MIN] != 0, cr[SYM_RULE] != 0, act == 1
    for job in range(n_n * n_c):
        n, c = job // n_c, job % n_c
        b = bias_acc[c]
        for i in range(n_p):
            acc = _acc_value(b, s[n, c, i], shift, wrap_acc, acc_w, acc_s)
            out[n, c, i] = _hot(acc, d, lo, hi, q, o, sym_min, sym_rule, w, sg, relu)


@njit(cache=True, nogil=True)
def _finish_general(s, shift, bias_acc, wrap_acc, acc_w, acc_s, cr, act, alpha, ca, on_accum, out):
    """:func:`_finish` for every other case: leaky relu, activation on the accumulator,
    or a conversion that needs the full port of the headers' ``operator=``."""
    n_n, n_c, n_p = s.shape
    for job in range(n_n * n_c):
        n, c = job // n_c, job % n_c
        b = bias_acc[c]
        for i in range(n_p):
            acc = _acc_value(b, s[n, c, i], shift, wrap_acc, acc_w, acc_s)
            out[n, c, i] = _activate(acc, cr, act, alpha, ca, on_accum)


@njit(cache=True, inline="always")
def _activate(acc, cr, act, alpha, ca, on_accum):
    """Result conversion and activation of one accumulator value (docs/datapath.md)."""
    if on_accum:
        if act == 1 and acc < 0:
            return np.int64(0)  # max(acc, 0) = 0 converts to 0 in every format
        if act == 2 and acc < 0:
            return _cvt(acc * alpha, ca)
        return _cvt(acc, cr)
    y = _cvt(acc, cr)
    if act == 1 and y < 0:
        return np.int64(0)
    if act == 2 and y < 0:
        return _cvt(y * alpha, ca)
    return y


@njit(cache=True, nogil=True)
def _finish_acc(acc, cr, act, alpha, ca, on_accum, out):
    """Result stage for accumulators already computed step by step: acc, out (N, C, P)."""
    n_n, n_c, n_p = acc.shape
    for job in range(n_n * n_c):
        n = job // n_c
        c = job % n_c
        for i in range(n_p):
            out[n, c, i] = _activate(acc[n, c, i], cr, act, alpha, ca, on_accum)


@njit(cache=True, nogil=True)
def _elementwise_activation(x, act, alpha, ca, out):
    """Standalone activation in the input format: relu max(x, 0), leaky x<0 -> T(x*alpha)."""
    for i in range(x.shape[0]):
        v = x[i]
        if v < 0 and act == 1:
            v = 0
        elif v < 0 and act == 2:
            v = _cvt(v * alpha, ca)
        out[i] = v


@njit(cache=True, nogil=True)
def _maxpool(x, n_kh, n_kw, sh, sw, out):
    """Max over each window's valid elements (partial windows at the edge in ceil mode)."""
    n_n, n_c, n_h, n_w = x.shape
    n_oh, n_ow = out.shape[2], out.shape[3]
    for job in range(n_n * n_c):
        n = job // n_c
        c = job % n_c
        for oh in range(n_oh):
            h1 = min(oh * sh + n_kh, n_h)
            for ow in range(n_ow):
                w1 = min(ow * sw + n_kw, n_w)
                m = x[n, c, oh * sh, ow * sw]
                for ih in range(oh * sh, h1):
                    for iw in range(ow * sw, w1):
                        if x[n, c, ih, iw] > m:
                            m = x[n, c, ih, iw]
                out[n, c, oh, ow] = m
