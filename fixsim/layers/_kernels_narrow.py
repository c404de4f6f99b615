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

import llvmlite.binding as llb
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import intrinsic, overload

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


# ------------------------------------------------------------------ tap pairs (int16)
# Stride 1, int32 sums, int16 maps and int16 weights: two taps kw, kw+1 of a kernel row
# are one pmaddwd (16 int16 products summed in pairs into 8 int32 lanes).  For an even
# output p = 2q the pair x[p+kw]*w0 + x[p+kw+1]*w1 is lane q of pmaddwd(x[2q+kw ..], (w0,
# w1) repeated); for an odd output the same from x[2q+kw+1 ..].  A tile of 16 outputs of
# up to _NC output channels keeps its even and odd sums in registers through all taps
# (each pair of loads of x serves every channel of the tile) and interleaves them once,
# when it stores.  An odd kernel width gets a last pair (w[KW-1], 0).  pmaddwd wraps
# modulo 2^32 like the int32 lanes of _add32 (only (-2^15)^2 + (-2^15)^2 leaves int32),
# so every grouping gives the same int32 sums.

#: Output channels per tile (2 accumulators each: 8 of the 16 AVX2 registers).
_NC = 4


def _native_avx2() -> bool:
    """Numba's target CPU has AVX2 (then llvm.x86.avx2.pmadd.wd, else generic IR)."""
    if config.CPU_NAME and config.CPU_NAME != "host":
        return "+avx2" in (config.CPU_FEATURES or "").split(",")
    try:
        return bool(llb.get_host_cpu_features().get("avx2", False))
    except RuntimeError:  # (no feature query on this host)
        return False


_AVX2 = _native_avx2()
_I16, _I32 = ir.IntType(16), ir.IntType(32)
_V16, _V8 = ir.VectorType(_I16, 16), ir.VectorType(_I32, 8)


def _lanes(*idx):
    return ir.Constant(ir.VectorType(_I32, len(idx)), [ir.Constant(_I32, i) for i in idx])


def _pmaddwd(builder, a, b):
    """<8 x i32> lanes a[2i]*b[2i] + a[2i+1]*b[2i+1] of two <16 x i16> (wrapping)."""
    if _AVX2:
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V8, [_V16, _V16]),
                                            "llvm.x86.avx2.pmadd.wd")
        return builder.call(fn, [a, b])
    terms = [builder.mul(builder.sext(builder.shuffle_vector(a, a, m), _V8),
                         builder.sext(builder.shuffle_vector(b, b, m), _V8))
             for m in (_lanes(*range(0, 16, 2)), _lanes(*range(1, 16, 2)))]
    return builder.add(*terms)


@intrinsic(prefer_literal=True)
def _pair_tile(typingctx, xs, offs, wpair, co0, sums, q0, nc):
    """sums[co0 + c, 2*q0 .. 2*q0 + 15] for c < nc (a literal): over the tap pairs t,
    pmaddwd(xs[offs[t] + 2*q0 (+1 for odd outputs) ..], wpair[t, co0 + c]) (xs int16,
    C-contiguous, read flat; wpair (T, Cout) two int16 weights packed in an int32)."""
    arrays = (xs, offs, wpair, sums)
    if not (isinstance(nc, types.IntegerLiteral) and all(isinstance(a, types.Array) and a.layout == "C"
                                                         for a in arrays)
            and [a.dtype for a in arrays] == [types.int16, types.int64, types.int32, types.int32]
            and (offs.ndim, wpair.ndim, sums.ndim) == (1, 2, 2)):
        return None
    n_ch = nc.literal_value
    sig = types.none(xs, offs, wpair, types.intp, sums, types.intp, nc)

    def codegen(context, builder, signature, args):
        xa, offa, wpa, co0v, sa, q0v, _ = args
        xt, ot, wt, _, st, _, _ = signature.args
        xd = context.make_array(xt)(context, builder, xa).data
        oarr = context.make_array(ot)(context, builder, offa)
        warr = context.make_array(wt)(context, builder, wpa)
        sarr = context.make_array(st)(context, builder, sa)
        i64 = q0v.type
        nt = builder.extract_value(oarr.shape, 0)
        n_co = builder.extract_value(warr.shape, 1)
        zero = ir.Constant(_V8, None)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(2 * n_ch)]
        start = builder.add(q0v, q0v)
        with cgutils.for_range(builder, nt) as loop:
            t = loop.index
            i = builder.add(start, builder.load(builder.gep(oarr.data, [t])))
            xv = [builder.load(builder.bitcast(builder.gep(xd, [builder.add(i, ir.Constant(i64, k))]),
                                               _V16.as_pointer()), align=2) for k in (0, 1)]
            wrow = builder.add(builder.mul(t, n_co), co0v)
            for c in range(n_ch):
                wv = builder.load(builder.gep(warr.data, [builder.add(wrow, ir.Constant(i64, c))]))
                wv = builder.insert_element(zero, wv, ir.Constant(_I32, 0))
                wv = builder.bitcast(builder.shuffle_vector(wv, wv, _lanes(*[0] * 8)), _V16)
                for k in (0, 1):
                    acc = accs[2 * c + k]
                    builder.store(builder.add(builder.load(acc), _pmaddwd(builder, xv[k], wv)), acc)
        row = builder.extract_value(sarr.shape, 1)
        for c in range(n_ch):
            even, odd = builder.load(accs[2 * c]), builder.load(accs[2 * c + 1])
            at = builder.add(builder.mul(builder.add(co0v, ir.Constant(i64, c)), row), start)
            for h in (0, 1):  # outputs 2q, 2q + 1 in order: even/odd lanes interleaved
                v = builder.shuffle_vector(even, odd, _lanes(*[j for k in range(4 * h, 4 * h + 4)
                                                               for j in (k, k + 8)]))
                ptr = builder.gep(sarr.data, [builder.add(at, ir.Constant(i64, 8 * h))])
                builder.store(v, builder.bitcast(ptr, _V8.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


def _pairs(x, w):
    """(stub) True when the maps and weights are int16: the tap pairs of _plane_pairs
    then replace _conv_plane (which is not compiled for that case)."""


def _plane_pairs(x, n, w, n_sums, tile):
    """(stub) tile[co, p] = sums[p] of _conv_plane for p < n_sums and every co; nothing
    for other dtypes."""


def _plane_other(x, n, w, co, sums):
    """(stub) _conv_plane, except for int16 maps and weights (nothing: _plane_pairs)."""


def _is16(a) -> bool:
    return isinstance(a, types.Array) and a.dtype == types.int16


@overload(_pairs, jit_options={"cache": True})
def _pairs_ol(x, w):
    if _is16(x) and _is16(w):
        return lambda x, w: True
    return lambda x, w: False


@overload(_plane_other, jit_options={"cache": True})
def _plane_other_ol(x, n, w, co, sums):
    if _is16(x) and _is16(w):
        return lambda x, n, w, co, sums: None
    return lambda x, n, w, co, sums: _conv_plane(x, n, w, co, sums)


@njit(cache=True, nogil=True)
def _tiles(xs, offs, wpair, tile, n_q):
    """_pair_tile for every channel group and every q0 < n_q in steps of 8 (the last tile
    moved back to end at n_q: it may overlap the one before)."""
    n_co = tile.shape[0]
    q_max = max(n_q - 8, 0)
    for co0 in range(0, n_co, _NC):
        nc = min(_NC, n_co - co0)
        for q in range(0, n_q, 8):
            q0 = min(q, q_max)
            if nc == 4:
                _pair_tile(xs, offs, wpair, co0, tile, q0, 4)
            elif nc == 3:
                _pair_tile(xs, offs, wpair, co0, tile, q0, 3)
            elif nc == 2:
                _pair_tile(xs, offs, wpair, co0, tile, q0, 2)
            else:
                _pair_tile(xs, offs, wpair, co0, tile, q0, 1)


@overload(_plane_pairs, jit_options={"cache": True})
def _plane_pairs_ol(x, n, w, n_sums, tile):
    if not (_is16(x) and _is16(w) and tile.dtype == types.int32):
        return lambda x, n, w, n_sums, tile: None

    def impl(x, n, w, n_sums, tile):
        n_c, n_h, n_wp = x.shape[1], x.shape[2], x.shape[3]
        n_co, n_kh, n_kw = w.shape[0], w.shape[2], w.shape[3]
        # The image's planes, flat, each followed by 32 zeros: a tile at q0 reads up to
        # (KH-1)*Wp + 2*ceil(KW/2) - 2 + 2*q0 + 16 <= H*Wp + 15 of its plane (2*q0 <=
        # n_sums - 15 when n_sums >= 15, else q0 = 0; OW + KW - 1 <= Wp).
        n_hw = n_h * n_wp
        n_ps = n_hw + 32
        xs = np.empty((n_c, n_ps), np.int16)
        for ci in range(n_c):
            d = xs[ci]
            xf = x[n, ci].ravel()  # a view of a contiguous map (a copy otherwise)
            for i in range(n_hw):
                d[i] = xf[i]
            for i in range(n_hw, n_ps):
                d[i] = 0
        # tap pair t = (ci, kh, kw even): its offset and (w[kw], w[kw+1] or 0) packed
        n_t = n_c * n_kh * ((n_kw + 1) // 2)
        offs = np.empty(n_t, np.int64)
        wpair = np.empty((n_t, n_co), np.int32)
        t = 0
        for ci in range(n_c):
            for kh in range(n_kh):
                for kw in range(0, n_kw, 2):
                    offs[t] = ci * n_ps + kh * n_wp + kw
                    for co in range(n_co):
                        w0 = np.int64(w[co, ci, kh, kw])
                        w1 = np.int64(w[co, ci, kh, kw + 1]) if kw + 1 < n_kw else np.int64(0)
                        wpair[t, co] = np.int32((w0 & 0xFFFF) | (w1 << 16))
                    t += 1
        _tiles(xs, offs, wpair, tile, (n_sums + 1) // 2)
    return impl


# Per-image helpers are called, not inlined at Numba IR level: one call per image costs
# nothing, and the fused kernel compiles about 30% faster (docs/install.md).
@njit(cache=True, nogil=True)
def _conv_image(x, n, w, bias_acc, sh, sw, shift, wrap_acc, acc_w, acc_s, cr, relu, fin32, acc, out):
    """One image's conv + result stage into out (Cout, OH, OW).

    Stride 1 with int32 sums: :func:`_conv_plane` (a whole output plane per pass), or
    with int16 maps and weights the tap pairs of :func:`_plane_pairs` (all planes).
    """
    n_co, n_oh, n_ow, n_wp = w.shape[0], out.shape[1], out.shape[2], x.shape[3]
    plane = acc.itemsize == 4 and sh == 1 and sw == 1
    n_sums = (n_oh - 1) * n_wp + n_ow
    pairs = plane and _pairs(x, w)
    sums = np.empty(n_sums if plane and not pairs else 0, acc.dtype)
    # whole tiles: 2 * ceil(n_sums / 2) columns, and 16 at least
    tile = np.empty((n_co if pairs else 0, max(n_sums + 1, 16)), acc.dtype)
    if pairs:
        _plane_pairs(x, n, w, n_sums, tile)
    for co in range(n_co):
        src = tile[co] if pairs else sums
        if plane and not pairs:
            _plane_other(x, n, w, co, sums)
        for oh in range(n_oh):
            if plane:
                row = src[oh * n_wp:oh * n_wp + n_ow]
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
