"""Private Numba kernels of the prepared model's narrow path (order-free layers only).

Used by :mod:`fixsim.network.prepared` for a conv2d/dense layer whose accumulation is
order-free (docs/datapath.md section 6: no product rounded, the accumulator wraps or
provably never leaves its range) and whose result stage is the semantic conversion with
relu or linear.  The exact sum of the products is accumulated in the dtype of the
``acc`` scratch row the caller passes:

- int32 when the caller has proved ``max|x| * max_o sum_k |w[o, k]| < 2^31`` (every
  partial sum in any order then fits, so the 32-bit sum is the exact sum);
- int64 otherwise (exact modulo 2^64, as the direct path of ``_kernels``).

Operands are read from whatever integer arrays are given (int16 maps when the format
fits, int64 taps otherwise).  Each kernel then runs the result stage of the contract,
``acc = A(bias) + (sum << shift)`` (wrapped when A wraps), ``R(acc)``, relu, and writes
into a preallocated output of any integer dtype.  ``_conv_pool`` also max-pools each
image while its conv map is still in the cache (conv + activation + pool fused).

A result descriptor ``cr`` is :func:`fixsim.layers.convert.descriptor` (fast form only;
the caller checks ``cr[FAST] == 1``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..fixed.format import Overflow, Quantization
from ..fixed.kernels import _mask, _requant, _to_int64

# Slots of a conversion descriptor (layout in fixsim.layers._kernels).
FAST, D, LO, HI, Q, O, SYM_MIN, SYM_RULE, W, S = range(10)
# Mode codes from the enums; the common pair gets a loop of its own so that LLVM folds
# the mode branches of _requant.
_RND, _SAT, _WRAP = int(Quantization.AP_RND), int(Overflow.AP_SAT), int(Overflow.AP_WRAP)


@njit(cache=True, inline="always")
def _result(s, b, shift, wrap_acc, acc_w, acc_s, d, lo, hi, q, o, sym_min, sym_rule, w, sg,
            relu):
    """``act(R(A(bias) + (s << shift)))`` for an exact sum ``s`` (semantic conversion)."""
    acc = b + (np.int64(s) << shift)
    if wrap_acc:
        acc = _to_int64(np.uint64(acc) & _mask(acc_w), acc_w, acc_s)
    y = _requant(acc, d, lo, hi, q, o, sym_min, sym_rule)
    if o == _WRAP:
        y = _to_int64(np.uint64(y) & _mask(w), w, sg)
    if relu and y < 0:
        y = 0
    return y


@njit(cache=True, inline="always")
def _finish_row(acc, b, shift, wrap_acc, acc_w, acc_s, cr, relu, fin32, out):
    """out[i] = result stage of acc[i] (the RND/SAT pair specialized).

    AP_RND into AP_SAT from a non-wrapping accumulator of at most 62 bits is
    ``clamp((v + 2^(d-1)) >> d)``: the floor plus the first dropped bit, which is
    _requant's RND rule, and ``v + 2^(d-1)`` cannot overflow (|v| < 2^61, d <= 61);
    written branch-free so that LLVM vectorizes it.  ``fin32``: the caller proved that
    the shift is 0, the accumulator never wraps, ``|bias| + |sum| + 2^(d-1) < 2^31`` and
    the result fits int32, so the same formula runs in 32-bit lanes (AVX2 has no 64-bit
    arithmetic right shift).
    """
    d, lo, hi, q, o = cr[D], cr[LO], cr[HI], cr[Q], cr[O]
    sym_min, sym_rule, w, sg = cr[SYM_MIN] != 0, cr[SYM_RULE] != 0, cr[W], cr[S] != 0
    if fin32 and q == _RND and o == _SAT and 1 <= d <= 30:
        bh = np.int32(b + (np.int64(1) << (d - 1)))
        d32 = np.int32(d)
        lo32 = np.int32(max(lo, np.int64(0)) if relu else lo)
        hi32 = np.int32(hi)
        for i in range(out.shape[0]):
            y = np.int32(np.int32(np.int32(acc[i]) + bh) >> d32)
            out[i] = np.int32(min(np.int32(max(y, lo32)), hi32))
    elif q == _RND and o == _SAT and not wrap_acc and acc_w <= 62 and 1 <= d <= 61:
        half = np.int64(1) << (d - 1)
        floor = lo if not relu else max(lo, np.int64(0))
        for i in range(out.shape[0]):
            y = (b + (np.int64(acc[i]) << shift) + half) >> d
            out[i] = min(max(y, floor), hi)
    elif q == _RND and o == _SAT:
        for i in range(out.shape[0]):
            out[i] = _result(acc[i], b, shift, wrap_acc, acc_w, acc_s, d, lo, hi, _RND, _SAT,
                             sym_min, sym_rule, w, sg, relu)
    else:
        for i in range(out.shape[0]):
            out[i] = _result(acc[i], b, shift, wrap_acc, acc_w, acc_s, d, lo, hi, q, o,
                             sym_min, sym_rule, w, sg, relu)


@njit(cache=True, inline="always")
def _add32(acc, r, w0, w1, w2, w3, w4, cnt):
    """acc[ow] += sum over j < cnt of w_j * r[ow + j] in int32 lanes (cnt = 1..5, unrolled)."""
    if cnt == 5:
        for ow in range(acc.shape[0]):
            acc[ow] = np.int32(acc[ow] + np.int32(w0 * r[ow]) + np.int32(w1 * r[ow + 1])
                               + np.int32(w2 * r[ow + 2]) + np.int32(w3 * r[ow + 3])
                               + np.int32(w4 * r[ow + 4]))
    elif cnt == 4:
        for ow in range(acc.shape[0]):
            acc[ow] = np.int32(acc[ow] + np.int32(w0 * r[ow]) + np.int32(w1 * r[ow + 1])
                               + np.int32(w2 * r[ow + 2]) + np.int32(w3 * r[ow + 3]))
    elif cnt == 3:
        for ow in range(acc.shape[0]):
            acc[ow] = np.int32(acc[ow] + np.int32(w0 * r[ow]) + np.int32(w1 * r[ow + 1])
                               + np.int32(w2 * r[ow + 2]))
    elif cnt == 2:
        for ow in range(acc.shape[0]):
            acc[ow] = np.int32(acc[ow] + np.int32(w0 * r[ow]) + np.int32(w1 * r[ow + 1]))
    else:
        for ow in range(acc.shape[0]):
            acc[ow] = np.int32(acc[ow] + np.int32(w0 * r[ow]))


@njit(cache=True, inline="always")
def _conv_row(x, n, w, co, oh, sh, sw, acc):
    """acc[ow] = sum over (ci, kh, kw) of x[n, ci, oh*sh+kh, ow*sw+kw] * w[co, ci, kh, kw].

    The strided and int64 cases (stride 1 with int32 sums runs :func:`_conv_plane`; its
    five-tap loop is not inlined here a second time, which would lengthen the cold
    compile).  acc may be longer than OW (whole vectors; the caller pads x to match): the
    result stage reads only the first OW sums.
    """
    n_c = x.shape[1]
    n_kh, n_kw = w.shape[2], w.shape[3]
    n_ow = acc.shape[0]
    acc[:] = 0
    for ci in range(n_c):
        for kh in range(n_kh):
            row = x[n, ci, oh * sh + kh]
            wr = w[co, ci, kh]
            for kw in range(n_kw):
                wv = wr[kw]
                if acc.itemsize == 4:
                    for ow in range(n_ow):
                        acc[ow] = np.int32(acc[ow] + np.int32(wv * row[ow * sw + kw]))
                elif sw == 1:
                    for ow in range(n_ow):
                        acc[ow] += wv * row[ow + kw]
                else:
                    for ow in range(n_ow):
                        acc[ow] += wv * row[ow * sw + kw]


@njit(cache=True, inline="always")
def _conv_plane(x, n, w, co, sums):
    """sums[p] = sum over (ci, kh, kw) of xf_ci[p + kh*Wp + kw] * w[co, ci, kh, kw] in int32
    lanes, xf_ci the channel plane x[n, ci] read flat (Wp = x.shape[3], stride 1).

    Output (oh, ow) is sums[oh*Wp + ow]: the whole plane is one long row, so each pass of
    five kw taps runs over OH*Wp sums instead of one output row (the columns ow >= OW mix
    two input rows and are never read).  ``len(sums) = (OH-1)*Wp + OW``: the last read is
    ``(OH-1)*Wp + OW - 1 + (KH-1)*Wp + KW - 1 = H*Wp - 1`` (H = OH + KH - 1 and
    OW + KW - 1 <= Wp), inside the plane.
    """
    n_c, n_wp = x.shape[1], x.shape[3]
    n_kh, n_kw = w.shape[2], w.shape[3]
    sums[:] = 0
    for ci in range(n_c):
        xf = x[n, ci].ravel()  # a view of a contiguous map (a copy otherwise)
        for kh in range(n_kh):
            wr = w[co, ci, kh]
            for k0 in range(0, n_kw, 5):
                _add32(sums, xf[kh * n_wp + k0:], np.int32(wr[k0]),
                       np.int32(wr[min(k0 + 1, n_kw - 1)]), np.int32(wr[min(k0 + 2, n_kw - 1)]),
                       np.int32(wr[min(k0 + 3, n_kw - 1)]), np.int32(wr[min(k0 + 4, n_kw - 1)]),
                       min(5, n_kw - k0))


# Per-image helpers are called, not inlined at Numba IR level: one call per image costs
# nothing, and the fused kernel compiles about 30% faster (docs/install.md).
@njit(cache=True, nogil=True)
def _conv_image(x, n, w, bias_acc, sh, sw, shift, wrap_acc, acc_w, acc_s, cr, relu, fin32, acc, out):
    """One image's conv + result stage into out (Cout, OH, OW).

    Stride 1 with int32 sums: :func:`_conv_plane` (a whole output plane per pass).
    """
    n_oh, n_ow, n_wp = out.shape[1], out.shape[2], x.shape[3]
    plane = acc.itemsize == 4 and sh == 1 and sw == 1
    sums = np.empty((n_oh - 1) * n_wp + n_ow if plane else 0, acc.dtype)
    for co in range(w.shape[0]):
        if plane:
            _conv_plane(x, n, w, co, sums)
        for oh in range(n_oh):
            if plane:
                row = sums[oh * n_wp:oh * n_wp + n_ow]
            else:
                _conv_row(x, n, w, co, oh, sh, sw, acc)
                row = acc[:n_ow]
            # one inlined copy of the result stage for both paths (compile time)
            _finish_row(row, bias_acc[co], shift, wrap_acc, acc_w, acc_s, cr, relu, fin32,
                        out[co, oh])


@njit(cache=True, nogil=True)
def _pool_image(x, n_kh, n_kw, sh, sw, rowmax, out):
    """Max over each window's valid elements of one image x (C, H, W) into out (C, OH, OW).

    The rows of a window are reduced first (contiguous, vectorized), then the columns.
    """
    n_c, n_h, n_w = x.shape
    n_oh, n_ow = out.shape[1], out.shape[2]
    for c in range(n_c):
        for oh in range(n_oh):
            h0 = oh * sh
            h1 = min(h0 + n_kh, n_h)
            for iw in range(n_w):
                rowmax[iw] = x[c, h0, iw]
            for ih in range(h0 + 1, h1):
                r = x[c, ih]
                for iw in range(n_w):
                    rowmax[iw] = max(rowmax[iw], r[iw])
            o = out[c, oh]
            first = 0
            if n_kw == 2 and sw == 2:  # the common 2x2 window: pairs, vectorized
                first = min(n_ow, (n_w - 2) // 2 + 1)
                for ow in range(first):
                    o[ow] = max(rowmax[2 * ow], rowmax[2 * ow + 1])
            for ow in range(first, n_ow):
                w0 = ow * sw
                m = rowmax[w0]
                for iw in range(w0 + 1, min(w0 + n_kw, n_w)):
                    m = max(m, rowmax[iw])
                o[ow] = m


@njit(cache=True, nogil=True)
def _conv(x, w, bias_acc, sh, sw, shift, wrap_acc, acc_w, acc_s, cr, relu, fin32, acc, out):
    """Conv2D + result stage of a batch: x padded (N, C, H, W), out (N, Cout, OH, OW)."""
    for n in range(x.shape[0]):
        _conv_image(x, n, w, bias_acc, sh, sw, shift, wrap_acc, acc_w, acc_s, cr, relu, fin32, acc,
                    out[n])


@njit(cache=True, nogil=True)
def _conv_pool(x, w, bias_acc, sh, sw, shift, wrap_acc, acc_w, acc_s, cr, relu, fin32, acc, conv_out,
               keep, p_kh, p_kw, p_sh, p_sw, rowmax, pool_out):
    """Conv2D + result stage + max pool, image by image.

    conv_out is (N, Cout, OH, OW) when ``keep`` (the conv tap), else one image's scratch
    (1, Cout, OH, OW) reused while its values are still in the cache.
    """
    for n in range(x.shape[0]):
        cm = conv_out[n] if keep else conv_out[0]
        _conv_image(x, n, w, bias_acc, sh, sw, shift, wrap_acc, acc_w, acc_s, cr, relu, fin32, acc, cm)
        _pool_image(cm, p_kh, p_kw, p_sh, p_sw, rowmax, pool_out[n])


@njit(cache=True, nogil=True)
def _maxpool(x, n_kh, n_kw, sh, sw, rowmax, out):
    """Max pool of a batch x (N, C, H, W) into out (N, C, OH, OW), any integer dtypes."""
    for n in range(x.shape[0]):
        _pool_image(x[n], n_kh, n_kw, sh, sw, rowmax, out[n])


@njit(cache=True, nogil=True)
def _dense(x, w, bias_acc, shift, wrap_acc, acc_w, acc_s, cr, relu, fin32, acc, out):
    """Dense + result stage: x (N, K), w (O, K), out (N, O); sums in acc's dtype (acc (O,))."""
    n_k = x.shape[1]
    for n in range(x.shape[0]):
        xr = x[n]
        for o in range(w.shape[0]):
            wr = w[o]
            if acc.itemsize == 4:
                s32 = np.int32(0)
                for k in range(n_k):
                    s32 = np.int32(s32 + np.int32(wr[k] * xr[k]))
                acc[o] = s32
            else:
                s = np.int64(0)
                for k in range(n_k):
                    s += wr[k] * xr[k]
                acc[o] = s
        d, lo, hi, q, oo = cr[D], cr[LO], cr[HI], cr[Q], cr[O]
        sym_min, sym_rule, wd, sg = cr[SYM_MIN] != 0, cr[SYM_RULE] != 0, cr[W], cr[S] != 0
        for o in range(w.shape[0]):
            out[n, o] = _result(acc[o], bias_acc[o], shift, wrap_acc, acc_w, acc_s, d, lo, hi,
                                q, oo, sym_min, sym_rule, wd, sg, relu)
