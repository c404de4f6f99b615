"""The narrow conv kernel's int16 tap pairs (pmaddwd) against the int32 formula, and the
int16 weight copy of the prepared MAC layers (only when the weight format fits int16)."""

from __future__ import annotations

import numpy as np
import pytest

from fixsim.fixed import FixedType
from fixsim.fixed.format import Overflow, Quantization
from fixsim.layers import _kernels_narrow as KN
from fixsim.network import load_spec, prepare
from fixsim.network.kinds.mac import narrow_weight_dtype
from fixsim.network.weights import random_weights
from helpers import assert_bits_equal

# result stage = the identity on the int32-wrapped sum: accumulator ap_fixed<32, .., WRAP>
# (wrap_acc, 32 bits), result d = 0 bits dropped, TRN, SAT with limits beyond int32
_CR = np.zeros(KN.S + 1, np.int64)
_CR[KN.FAST], _CR[KN.D], _CR[KN.LO], _CR[KN.HI] = 1, 0, -2 ** 40, 2 ** 40
_CR[KN.Q], _CR[KN.O], _CR[KN.W], _CR[KN.S] = int(Quantization.AP_TRN), int(Overflow.AP_SAT), 48, 1
_FINISH = (0, True, 32, True, _CR, False, False)  # shift, wrap_acc, acc_w, acc_s, cr, relu, fin32


def _wrapped_sums(x, w):
    """sum over (ci, kh, kw) of x[n, ci, oh+kh, ow+kw] * w[co, ci, kh, kw] modulo 2^32."""
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    s = np.zeros((n, co, oh, ow), np.int64)
    x64, w64 = x.astype(np.int64), w.astype(np.int64)
    for i in range(kh):
        for j in range(kw):
            s += np.einsum("nchw,oc->nohw", x64[:, :, i:i + oh, j:j + ow], w64[:, :, i, j])
    return (s & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.int64)


def _conv(x, w):
    out = np.zeros((x.shape[0], w.shape[0], x.shape[2] - w.shape[2] + 1,
                    x.shape[3] - w.shape[3] + 1), np.int64)
    KN._conv(x, w, np.zeros(w.shape[0], np.int64), 1, 1, *_FINISH,
             np.empty(out.shape[3], np.int32), out)
    return out


def _case(rng, c, kh, kw, h, wd, cout, edge):
    x = rng.integers(-32768, 32768, (2, c, h, wd)).astype(np.int16)
    if edge:  # the extreme raw values, products up to 2^30, pair sums up to 2^31 (wraps)
        w = rng.choice(np.array([-32768, 32767, -32767, -1, 0, 1], np.int16), (cout, c, kh, kw))
        x[0, :, ::3] = -32768
    else:
        w = rng.integers(-32768, 32768, (cout, c, kh, kw)).astype(np.int16)
    return x, w


@pytest.mark.parametrize("kw", range(1, 8))
def test_tap_pairs_equal_the_int32_formula(kw):
    """Every kernel width (pairs and the last single tap), odd and even plane sizes, every
    channel group size (tiles of up to 4 output channels), planes smaller than a tile."""
    rng = np.random.default_rng(100 + kw)
    sizes = [(kw + 40, kw + 36), (kw + 9, kw + 12), (kw + 25, kw + 2), (kw, kw), (kw + 1, kw + 4),
             (kw + 3, kw)]
    for t, (h, wd) in enumerate(sizes):
        kh = 1 + (t + kw) % 7
        h = max(h, kh)
        cout = 1 + (3 * t + kw) % 9
        c = 1 + t % 3
        x, w = _case(rng, c, kh, kw, h, wd, cout, edge=t % 2 == 0)
        ref = _wrapped_sums(x, w)
        got = _conv(x, w)
        # the same kernel with int32 weights runs the int32 formula (_conv_plane)
        assert_bits_equal(ref, _conv(x, w.astype(np.int32)), context=f"int32 {x.shape} {w.shape}")
        assert_bits_equal(ref, got, context=f"pairs {x.shape} {w.shape}")


def test_tap_pairs_on_rows_that_are_not_contiguous():
    rng = np.random.default_rng(7)
    for h, wd, kh, kw in [(23, 19, 5, 5), (9, 11, 3, 7), (4, 6, 2, 3)]:
        x, w = _case(rng, 3, kh, kw, h, wd + 3, 5, edge=True)
        view = x[..., 1:wd + 1]
        assert not view.flags.c_contiguous
        assert_bits_equal(_wrapped_sums(view, w), _conv(view, w), context=f"view {view.shape}")


def test_fused_conv_pool_with_int16_weights_equals_int32_weights():
    """_conv_pool with the 32-bit result stage (fin32) and relu, as the bundled spec runs."""
    rng = np.random.default_rng(5)
    x = rng.integers(-2000, 2000, (3, 2, 33, 31)).astype(np.int16)
    w = rng.integers(-600, 600, (7, 2, 5, 5)).astype(np.int16)
    cr = np.zeros(KN.S + 1, np.int64)
    cr[KN.FAST], cr[KN.D], cr[KN.LO], cr[KN.HI] = 1, 10, -32768, 32767
    cr[KN.Q], cr[KN.O], cr[KN.W], cr[KN.S] = int(Quantization.AP_RND), int(Overflow.AP_SAT), 16, 1
    bias = rng.integers(-2 ** 20, 2 ** 20, 7)
    outs = []
    for wt in (w, w.astype(np.int32)):
        conv = np.zeros((3, 7, 29, 27), np.int16)
        pool = np.zeros((3, 7, 14, 13), np.int16)
        KN._conv_pool(x, wt, bias, 1, 1, 0, False, 32, True, cr, True, True,
                      np.empty(27, np.int32), conv, True, 2, 2, 2, 2, np.empty(27, np.int16), pool)
        outs.append((conv, pool))
    assert_bits_equal(outs[1][0], outs[0][0], context="conv")
    assert_bits_equal(outs[1][1], outs[0][1], context="pool")


@pytest.mark.parametrize("fmt, dtype", [
    ("ap_fixed<16,4>", np.int16), ("ap_fixed<8,2>", np.int16), ("ap_ufixed<15,3>", np.int16),
    ("ap_fixed<17,4>", np.int32), ("ap_ufixed<16,4>", np.int32), ("ap_fixed<24,8>", np.int32)])
def test_int16_weights_only_when_the_format_fits(fmt, dtype):
    assert narrow_weight_dtype(FixedType.parse(fmt)) is dtype


def test_bundled_spec_has_int16_narrow_weights():
    spec = load_spec("specklenn-snl")
    model = prepare(spec, random_weights(spec, seed=3))
    wn = {s.layer.name: s.wn for s in model._steps if getattr(s, "wn", None) is not None}
    assert set(wn) == {"conv1", "conv2", "fc1", "fc2"}
    assert all(v.dtype == np.int16 for v in wn.values())


def _tile_reference(xs, offs, wpair, q0, co):
    """Column 2*q0 + j (j < 16) of _pair_tile's output for channel co, modulo 2^32."""
    w0 = (wpair[:, co].astype(np.int64) << 48) >> 48  # low int16 of the packed pair
    w1 = wpair[:, co].astype(np.int64) >> 16
    x = xs.astype(np.int64)
    cols = [sum(int(x[o + 2 * q0 + j] * a + x[o + 2 * q0 + j + 1] * b)
                for o, a, b in zip(offs, w0, w1)) for j in range(16)]
    return np.array(cols, np.int64).astype(np.uint32).view(np.int32)


def test_portable_vector_code_equals_avx2(monkeypatch):
    """The generic LLVM vector code (no AVX2 on Numba's target) gives the AVX2 sums."""
    from numba import njit

    def compiled():  # a fresh function: the intrinsic's code is generated when it compiles
        @njit
        def tiles(xs, offs, wpair, tile):
            KN._pair_tile(xs, offs, wpair, 0, tile, 0, 4)
            KN._pair_tile(xs, offs, wpair, 4, tile, 3, 3)
            KN._pair_tile(xs, offs, wpair, 7, tile, 8, 2)
            KN._pair_tile(xs, offs, wpair, 9, tile, 5, 1)
        return tiles

    rng = np.random.default_rng(9)
    xs = rng.integers(-32768, 32768, 200).astype(np.int16)
    xs[::5] = -32768
    offs = np.array([0, 2, 31, 60, 77, 150], np.int64)
    wpair = rng.integers(-2 ** 31, 2 ** 31, (6, 10)).astype(np.int32)
    wpair[0] = np.int32(-2 ** 31 + 2 ** 15)  # both weights -32768
    got = {}
    for avx2 in (KN._AVX2, False):
        monkeypatch.setattr(KN, "_AVX2", avx2)
        tile = np.zeros((10, 40), np.int32)
        compiled()(xs, offs, wpair, tile)
        got[avx2] = tile
    for co, q0 in [(c, 0) for c in range(4)] + [(c, 3) for c in (4, 5, 6)] + [(7, 8), (8, 8), (9, 5)]:
        ref = _tile_reference(xs, offs, wpair, q0, co)
        for avx2, tile in got.items():
            assert_bits_equal(ref, tile[co, 2 * q0:2 * q0 + 16], context=f"avx2={avx2} co={co}")
