"""matmul: every path equals the naive sequential reference and the headers' acc += a*b chain."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import naive
from fixsim.csim.oracle import Case, Oracle, bits_to_raw, raw_to_bits
from fixsim.errors import FormatError, InputError
from fixsim.fixed import matmul
from fixsim.fixed.format import FixedType, Overflow
from helpers import assert_bits_equal
from strategies import formats

ACCS = ["ap_fixed<40,20>", "ap_fixed<24,12,AP_TRN,AP_SAT>", "ap_fixed<20,8,AP_RND_CONV,AP_SAT_SYM>",
        "ap_fixed<18,6,AP_RND_INF,AP_WRAP>", "ap_fixed<18,6,AP_TRN_ZERO,AP_SAT_ZERO>",
        "ap_fixed<16,5,AP_RND_ZERO,AP_WRAP,3>", "ap_fixed<14,4,AP_RND,AP_WRAP_SM,1>",
        "ap_ufixed<20,10,AP_RND,AP_SAT>"]
OPS = "ap_fixed<8,3>"


@pytest.fixture(scope="module")
def chain_oracle(need_oracle):
    cases = [Case("mac", (acc, OPS, OPS)) for acc in ACCS]
    return Oracle(cases), cases


@pytest.mark.parametrize("acc", ACCS)
def test_matmul_equals_header_chain(chain_oracle, acc):
    """Drive the headers' acc += a*b step k by k over whole arrays; compare every path."""
    oracle, _ = chain_oracle
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (6, 40))
    b = rng.integers(-128, 128, (40, 5))
    facc = FixedType.parse(acc)
    state = np.zeros((6, 5), np.int64)
    for k in range(40):
        ak = np.repeat(a[:, k:k + 1], 5, axis=1)
        bk = np.repeat(b[k:k + 1, :], 6, axis=0)
        words = oracle.run(Case("mac", (acc, OPS, OPS)), raw_to_bits(state.ravel()),
                           raw_to_bits(ak.ravel()), raw_to_bits(bk.ravel()))
        state = bits_to_raw(words, facc).reshape(6, 5).astype(np.int64)
    fast = facc.overflow != Overflow.AP_WRAP_SM and facc.sat_bits == 0
    for method in ("auto", "generic") + (("fast",) if fast else ()):
        assert_bits_equal(state, matmul(a, OPS, b, OPS, acc, method=method), context=f"{acc} {method}")


@given(facc=formats(max_width=24, min_width=2, int_spread=6), data=st.data())
def test_paths_agree_with_naive(facc, data):
    fa = FixedType(6, 2)
    fb = FixedType(5, 1, False)
    m, k, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 3))
    a = np.array(data.draw(st.lists(st.integers(fa.raw_min, fa.raw_max),
                                    min_size=m * k, max_size=m * k))).reshape(m, k)
    b = np.array(data.draw(st.lists(st.integers(fb.raw_min, fb.raw_max),
                                    min_size=k * n, max_size=k * n))).reshape(k, n)
    init = np.array(data.draw(st.lists(st.integers(facc.raw_min, facc.raw_max), min_size=m * n,
                                       max_size=m * n)), dtype=facc.raw_dtype).reshape(m, n)
    try:
        expected = naive.matmul(a.tolist(), fa, b.tolist(), fb, facc, init.tolist())
    except FormatError:
        return  # sum type wider than 64 bits: fixsim refuses too (tested below)
    for method in ("auto", "generic", "fast"):
        try:
            got = matmul(a, fa, b, fb, facc, init, method=method)
        except FormatError:
            assert method == "fast"
            continue
        assert_bits_equal(np.array(expected, dtype=object), got, context=f"{facc} {method}")
        if method == "fast":
            assert_bits_equal(got, matmul(a, fa, b, fb, facc, init, method=method, parallel=False))


def test_gemm_path_used_only_when_exact():
    rng = np.random.default_rng(0)
    a = rng.integers(-2 ** 15, 2 ** 15, (32, 256))
    b = rng.integers(-2 ** 15, 2 ** 15, (256, 16))
    exact = matmul(a, "ap_fixed<16,6>", b, "ap_fixed<16,6>", "ap_fixed<48,28>", method="gemm")
    assert_bits_equal((a.astype(object) @ b.astype(object)), exact.astype(object))
    with pytest.raises(FormatError, match="not provably exact"):
        matmul(a, "ap_fixed<16,6>", b, "ap_fixed<16,6>", "ap_fixed<24,12,AP_TRN,AP_SAT>", method="gemm")


def test_matmul_input_errors():
    with pytest.raises(InputError, match=r"\(M,K\) x \(K,N\)"):
        matmul(np.zeros((2, 3), int), "ap_fixed<8,4>", np.zeros((2, 3), int), "ap_fixed<8,4>",
               "ap_fixed<24,12>")
    with pytest.raises(InputError, match="outside the raw range"):
        matmul(np.full((1, 1), 300), "ap_fixed<8,4>", np.ones((1, 1), int), "ap_fixed<8,4>",
               "ap_fixed<24,12>")
    with pytest.raises(FormatError, match="needs W=80 bits"):
        matmul(np.ones((1, 1), int), "ap_fixed<40,4>", np.ones((1, 1), int), "ap_fixed<40,4>",
               "ap_fixed<64,12>")


def test_requantizers_handle_one_bit_sat_sym_even_if_flagged():
    """For a signed 1-bit AP_SAT_SYM type the symmetric minimum is -1 itself."""
    from fixsim.fixed import kernels as K
    out = np.empty(3, np.int64)
    K._requant_array(np.array([-5, -1, 3]), 0, -1, 0, 5, 2, True, True, 1, True, out)
    assert out.tolist() == [-1, -1, 0]
