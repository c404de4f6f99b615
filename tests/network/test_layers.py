"""Layer kernels: sequential == slow naive reference; order-free paths == sequential."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from fixsim.errors import FormatError, InputError, UndefinedInHeaders
from fixsim.fixed import FixedType, convert, product_type
from fixsim.layers import MacConfig, activation, conv2d, dense, maxpool2d, order_free_reason
from fixsim.network import load_spec
from fixsim.network.engine import mac_config
from helpers import assert_bits_equal

from .layer_strategies import conv_case, dense_case, fmt
from .naive_layers import naive_activation, naive_conv2d, naive_dense, naive_maxpool2d


def _describe(spec, x, w, b):
    note(spec.to_json(indent=None))
    note(f"x={x.tolist()} w={w.tolist()} b={None if b is None else b.tolist()}")


@given(conv_case())
def test_conv_sequential_equals_naive(case):
    spec, lay, x, w, b = case
    _describe(spec, x, w, b)
    cfg = mac_config(lay)
    got = conv2d(x, w, b, cfg, stride=lay.stride, padding=lay.padding, method="sequential")
    want = naive_conv2d(x, w, b, cfg, lay.stride, lay.padding)
    assert_bits_equal(want, got, context=f"conv {cfg}")


@given(conv_case())
def test_random_specs_round_trip(case):
    spec = case[0]
    assert load_spec(spec.to_json(resolved=True)) == spec
    assert load_spec(spec.to_json()).spec_hash() == spec.spec_hash()


@given(dense_case())
def test_dense_sequential_equals_naive(case):
    spec, lay, x, w, b = case
    _describe(spec, x, w, b)
    cfg = mac_config(lay)
    assert_bits_equal(naive_dense(x, w, b, cfg), dense(x, w, b, cfg, method="sequential"),
                      context=f"dense {cfg}")


def _order_free_paths(run, cfg, x, w2d, bias_acc):
    out = {"sequential": run("sequential")}
    for m in ("direct", "gemm"):
        if order_free_reason(cfg, int(np.abs(x).max()), w2d, bias_acc, m == "gemm") is None:
            out[m] = run(m)
    return out


@given(conv_case(order_free=True))
def test_conv_order_free_paths_equal_sequential(case):
    spec, lay, x, w, b = case
    _describe(spec, x, w, b)
    cfg = mac_config(lay)

    def run(m):
        return conv2d(x, w, b, cfg, stride=lay.stride, padding=lay.padding, method=m,
                      return_method=True)

    from fixsim.layers.mac import bias_in_accum
    outs = _order_free_paths(run, cfg, x, w.reshape(w.shape[0], -1),
                             bias_in_accum(cfg, b, w.shape[0]))
    assert "direct" in outs  # a wrapping accumulator without rounding is always order-free
    for m, (got, used) in outs.items():
        assert used == m
        assert_bits_equal(outs["sequential"][0], got, context=f"conv {m} {cfg}")
    auto, used = run("auto")
    assert used == "direct"
    assert_bits_equal(outs["sequential"][0], auto, context="auto")


@given(dense_case(order_free=True))
def test_dense_order_free_paths_equal_sequential(case):
    spec, lay, x, w, b = case
    _describe(spec, x, w, b)
    cfg = mac_config(lay)

    def run(m):
        return dense(x, w, b, cfg, method=m, return_method=True)

    from fixsim.layers.mac import bias_in_accum
    outs = _order_free_paths(run, cfg, x, w, bias_in_accum(cfg, b, w.shape[0]))
    for m, (got, _) in outs.items():
        assert_bits_equal(outs["sequential"][0], got, context=f"dense {m} {cfg}")
    assert_bits_equal(naive_dense(x, w, b, cfg), outs["sequential"][0], context="naive")


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(1, 3), st.booleans(), st.integers(0, 2 ** 32 - 1))
def test_maxpool_equals_naive(h, w, kh, kw, sh, sw, ceil_mode, seed):
    if h < kh or w < kw:
        with pytest.raises(InputError, match="larger than the input"):
            maxpool2d(np.zeros((1, 1, h, w), np.int64), (kh, kw), (sh, sw), ceil_mode)
        return
    x = np.random.default_rng(seed).integers(-50, 50, (2, 2, h, w))
    assert_bits_equal(naive_maxpool2d(x, (kh, kw), (sh, sw), ceil_mode),
                      maxpool2d(x, (kh, kw), (sh, sw), ceil_mode))


@given(fmt(wmax=20), fmt(wmin=2, wmax=10, signed=True, overflow="AP_SAT"),
       st.sampled_from(["relu", "linear", "leaky_relu"]), st.integers(0, 2 ** 32 - 1))
def test_standalone_activation_equals_naive(f, af, kind, seed):
    f, af = FixedType.parse(f), FixedType.parse(af)
    rng = np.random.default_rng(seed)
    x = rng.integers(f.raw_min, f.raw_max, 50, endpoint=True)
    alpha = int(rng.integers(af.raw_min, af.raw_max, endpoint=True))
    if kind == "leaky_relu":
        try:  # the spec loader refuses these layers; so does the test
            convert(np.zeros(1, np.int64), product_type(f, af), f)
        except (FormatError, UndefinedInHeaders):
            return
    assert_bits_equal(naive_activation(x, f, kind, alpha, af), activation(x, f, kind, alpha, af))


def _cfg(**kw):
    base = dict(in_format=FixedType.parse("ap_fixed<8,4>"), weight=FixedType.parse("ap_fixed<8,2>"),
                bias=None, accum=FixedType.parse("ap_fixed<10,6,AP_TRN,AP_SAT>"),
                result=FixedType.parse("ap_fixed<8,4>"))
    base.update(kw)
    return MacConfig(**base)


def test_saturating_accumulator_is_order_dependent_and_forced_fast_path_refused():
    # 6 + 6 - 6 in ap_fixed<14,4,AP_TRN,AP_SAT>: 6 + 6 saturates to 7.999, minus 6 is 1.999
    # (an order-free sum would give 6).
    cfg = _cfg(accum=FixedType.parse("ap_fixed<14,4,AP_TRN,AP_SAT>"))
    x = np.array([[6 * 16, 6 * 16, -6 * 16]])  # 6, 6, -6 in ap_fixed<8,4>
    w = np.array([[64, 64, 64]])  # 1.0 in ap_fixed<8,2>
    out = dense(x, w, None, cfg, method="sequential")
    assert out.tolist() == [[31]]  # 1.9375 * 16
    with pytest.raises(FormatError, match="may overflow"):
        dense(x, w, None, cfg, method="direct")
    out_auto, used = dense(x, w, None, cfg, return_method=True)
    assert used == "speculative" and out_auto.tolist() == out.tolist()  # its bound fails here


def test_bad_inputs_raise_input_error():
    cfg = _cfg()
    with pytest.raises(InputError, match="outside the raw range"):
        dense(np.array([[1000]]), np.array([[1]]), None, cfg)
    with pytest.raises(InputError, match=r"\(N, K\)"):
        dense(np.zeros((2, 3), np.int64), np.zeros((2, 4), np.int64), None, cfg)
    with pytest.raises(InputError, match="has no bias"):
        dense(np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int64), np.zeros(1, np.int64), cfg)
    with pytest.raises(InputError, match="unknown method"):
        dense(np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int64), None, cfg, method="fast")
    with pytest.raises(InputError, match="does not fit"):
        conv2d(np.zeros((1, 1, 2, 2), np.int64), np.zeros((1, 1, 3, 3), np.int64), None, cfg)


def test_one_bit_sat_sym_result_keeps_minus_one():
    # Found by hypothesis: the headers saturate a 1-bit signed AP_SAT_SYM value to the
    # pattern "sign | 1" = -1, not to lo + 1 = 0.
    cfg = _cfg(in_format=FixedType.parse("ap_ufixed<1,1,AP_RND,AP_SAT>"),
               weight=FixedType.parse("ap_ufixed<1,0,AP_RND,AP_SAT>"),
               accum=FixedType.parse("ap_fixed<2,0,AP_RND>"),
               result=FixedType.parse("ap_fixed<1,0,AP_RND,AP_SAT_SYM>"))
    x = np.array([[[[1, 1], [1, 0]]]])
    w = np.array([[[[1]]]])
    want = naive_conv2d(x, w, None, cfg)
    assert want.tolist() == [[[[-1, -1], [-1, 0]]]]
    assert_bits_equal(want, conv2d(x, w, None, cfg, method="sequential"))
