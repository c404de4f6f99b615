"""Every case of ap_fixed_semantics.md section 6, pinned: expected value, fixsim, headers."""

import numpy as np
import pytest

from fixsim.csim.oracle import Case, Oracle, OracleCrash, bits_to_raw, raw_to_bits
from fixsim.fixed import convert, quantize, to_float, mac
from fixsim.fixed.format import FixedType
from fixsim.errors import UndefinedInHeaders

# (input, format, expected value); input "f:" means a C float literal
PINNED = [
    (-0.15625, "ap_fixed<8,4,AP_RND>", -0.125),
    (-0.15625, "ap_fixed<8,4,AP_RND_INF>", -0.1875),
    (0.15625, "ap_fixed<8,4,AP_RND_CONV>", 0.125),
    (-0.01, "ap_fixed<8,4,AP_TRN>", -0.0625),
    (-0.01, "ap_fixed<8,4,AP_TRN_ZERO>", 0.0),
    (-8.0, "ap_fixed<8,4,AP_TRN,AP_SAT_SYM>", -7.9375),
    (8.0, "ap_fixed<8,4,AP_TRN,AP_WRAP>", -8.0),
    (19.0, "ap_fixed<8,4,AP_TRN,AP_WRAP,2>", 7.0),
    (19.0, "ap_fixed<8,4,AP_TRN,AP_WRAP_SM>", -3.0625),
    (-8.03, "ap_fixed<8,4,AP_TRN,AP_WRAP,1>", -0.0625),
    (1.25, "ap_fixed<3,2,AP_RND,AP_SAT>", 1.5),
    (-1.25, "ap_fixed<3,2,AP_RND,AP_SAT>", -1.0),
    (-1.5, "ap_ufixed<8,4,AP_RND,AP_WRAP>", 14.5),
    (float("inf"), "ap_fixed<8,4,AP_TRN,AP_WRAP,2>", 4.0),
    (0.1, "ap_fixed<16,6,AP_RND,AP_SAT>", 0.099609375),
    (-3.0, "ap_ufixed<8,8,AP_TRN,AP_WRAP,2>", 253.0),
    (7.97, "ap_fixed<8,4,AP_RND,AP_SAT>", 7.9375),  # the rounding carry overflows, then saturates
    (19.0, "ap_fixed<4,4,AP_RND,AP_WRAP_SM>", -4.0),  # UG1399
    (-19.0, "ap_fixed<4,4,AP_RND,AP_WRAP_SM>", 2.0),
    (float("nan"), "ap_fixed<8,4,AP_TRN,AP_SAT>", 7.9375),
    (-float("nan"), "ap_fixed<8,4,AP_TRN,AP_SAT>", -8.0),
    (float("nan"), "ap_fixed<8,4,AP_TRN,AP_WRAP>", 0.0),
    (-0.0, "ap_fixed<8,4,AP_RND,AP_SAT>", 0.0),
    (0.49999999999999994, "ap_fixed<8,8,AP_RND>", 0.0),  # floor(x + 0.5) would give 1
]


@pytest.mark.parametrize("x, fmt, expected", PINNED)
def test_pinned_values(x, fmt, expected):
    raw = quantize(np.array([x]), fmt, warn=False)
    assert to_float(raw, fmt)[0] == expected


def test_pinned_values_agree_with_headers(need_oracle):
    fmts = sorted({f for _, f, _ in PINNED})
    oracle = Oracle([Case("from_double", (f,)) for f in fmts])
    for x, f, expected in PINNED:
        words = oracle.run(Case("from_double", (f,)), np.array([x]))
        assert to_float(bits_to_raw(words, f), f)[0] == expected, (x, f)


def test_float_versus_double_literal(need_oracle):
    """0.1f and 0.1 differ in ap_fixed<32,4,AP_TRN>: raw 26843546 vs 26843545."""
    fmt = "ap_fixed<32,4,AP_TRN>"
    assert quantize(np.array([0.1], np.float32), fmt)[0] == 26843546
    assert quantize(np.array([0.1]), fmt)[0] == 26843545
    oracle = Oracle([Case("from_float", (fmt,))])
    word = np.array([0.1], np.float32).view(np.uint32).astype(np.uint64)
    assert bits_to_raw(oracle.run(Case("from_float", (fmt,)), word), fmt)[0] == 26843546


def test_accumulate_example():
    """ap_fixed<8,4,AP_RND,AP_SAT> acc = 7; acc += 1.5 -> 7.9375; default modes -> -7.5."""
    one = FixedType.parse("ap_fixed<8,4>")
    for fmt, expected in (("ap_fixed<8,4,AP_RND,AP_SAT>", 7.9375), ("ap_fixed<8,4>", -7.5)):
        acc = quantize([7.0], fmt)
        out = mac(acc, fmt, quantize([1.5], one), one, quantize([1.0], one), one)
        assert to_float(out, fmt)[0] == expected


UNDEFINED = [("ap_fixed<16,0>", "ap_fixed<19,20,AP_RND_INF,AP_SAT_SYM>"),
             ("ap_fixed<3,-3>", "ap_fixed<15,17,AP_RND_INF,AP_SAT_SYM>")]


@pytest.mark.parametrize("src, dst", UNDEFINED)
def test_undefined_conversions_are_refused_and_abort_in_headers(need_oracle, src, dst):
    with pytest.raises(UndefinedInHeaders, match="beyond MSB"):
        convert([1], src, dst)
    oracle = Oracle([Case("convert", (src, dst))])
    with pytest.raises(OracleCrash, match="beyond MSB"):
        oracle.run(Case("convert", (src, dst)), raw_to_bits(np.array([1], np.int64)))


@pytest.mark.parametrize("fmt", ["ap_fixed<64,0,AP_RND,AP_SAT_ZERO>", "ap_fixed<64,0,AP_RND,AP_SAT>",
                                 "ap_fixed<64,0>", "ap_fixed<64,1,AP_TRN,AP_SAT_SYM>"])
def test_most_negative_64_bit_code_from_a_double(need_oracle, fmt):
    """-0.5 in ap_fixed<64,0> is raw -2^63 exactly: representable, not an overflow (found by the
    long campaign)."""
    import warnings
    from fixsim.fixed import FixsimWarning
    t = FixedType.parse(fmt)
    x = np.array([t.min, t.min * 2, -t.min / 2])
    oracle = Oracle([Case("from_double", (fmt,))])
    expected = bits_to_raw(oracle.run(Case("from_double", (fmt,)), x), fmt)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        got = quantize(x, fmt)
    assert got.tolist() == expected.tolist()
    msgs = " ".join(str(m.message) for m in w if issubclass(m.category, FixsimWarning))
    assert "1 out of range" in msgs or (t.overflow.name == "AP_SAT_SYM" and "2 out of range" in msgs)
