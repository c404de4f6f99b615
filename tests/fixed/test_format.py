"""FixedType: parsing, printing, validation."""

import dataclasses

import pytest
from hypothesis import given

from fixsim import FixedType, FormatError
from fixsim.fixed.format import Overflow, Quantization, product_type, quotient_type, sum_type, difference_type

from strategies import formats


@given(formats())
def test_parse_str_round_trip(t):
    assert FixedType.parse(str(t)) == t
    assert eval(repr(t), {"FixedType": FixedType}) == t


def test_defaults_and_prefixes():
    t = FixedType.parse("ap_fixed<16,6>")
    assert (t.quantization, t.overflow, t.sat_bits) == (Quantization.AP_TRN, Overflow.AP_WRAP, 0)
    assert FixedType.parse("ap_fixed< 8 , 4 , rnd , sat >") == FixedType.parse("ap_fixed<8,4,AP_RND,AP_SAT>")
    assert str(FixedType.parse("ap_ufixed<8,4,AP_TRN,AP_WRAP,2>")) == "ap_ufixed<8,4,AP_TRN,AP_WRAP,2>"
    assert str(FixedType.parse("ap_fixed<8,4,AP_RND>")) == "ap_fixed<8,4,AP_RND>"
    assert FixedType.parse("ap_int<12>") == FixedType(12, 12, True)
    assert FixedType.parse("ap_uint<12>") == FixedType(12, 12, False)


def test_properties():
    t = FixedType.parse("ap_fixed<16,6,AP_RND,AP_SAT>")
    assert (t.frac_bits, t.raw_min, t.raw_max, t.lsb) == (10, -32768, 32767, 2 ** -10)
    assert t.min == -32.0 and t.max == 32 - 2 ** -10
    u = FixedType.parse("ap_ufixed<8,-2>")
    assert (u.frac_bits, u.raw_max, u.max) == (10, 255, 255 / 1024)
    big = FixedType.parse("ap_fixed<4,10>")
    assert big.frac_bits == -6 and big.lsb == 64.0
    assert hash(t) == hash(FixedType.parse(str(t)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.width = 3  # frozen


@pytest.mark.parametrize("text, fragment", [
    ("ap_fixed<0,0>", "W=0"),
    ("ap_fixed<65,1>", "W=65"),
    ("ap_fixed<8,4,AP_TRN,AP_WRAP,9>", "N=9"),
    ("ap_ufixed<8,4,AP_TRN,AP_WRAP_SM>", "AP_WRAP_SM is not allowed on unsigned"),
    ("ap_fixed<8,4,AP_RND_CONF>", "did you mean 'AP_RND_CONV'"),
    ("ap_fixed<8,4,AP_TRN,AP_STA>", "did you mean 'AP_SAT'"),
    ("ap_fixed<8>", "2 to 5 arguments"),
    ("ap_fixed<8,x>", "I must be an integer"),
    ("fixed16", "cannot parse"),
    ("ap_fixed<8,600>", "I=600"),
])
def test_invalid_formats_have_clear_errors(text, fragment):
    with pytest.raises(FormatError) as e:
        FixedType.parse(text)
    assert fragment in str(e.value)
    assert isinstance(e.value, ValueError)


def test_constructor_validates():
    with pytest.raises(FormatError, match="width must be an integer"):
        FixedType(8.0, 4)
    with pytest.raises(FormatError, match="unknown quantization mode 'ROUND'"):
        FixedType(8, 4, True, "ROUND")
    assert FixedType(8, 4, True, "rnd", "sat").overflow == Overflow.AP_SAT


def test_result_types_match_header_rules():
    a, b = FixedType.parse("ap_fixed<8,3>"), FixedType.parse("ap_ufixed<6,2>")
    assert product_type(a, b) == FixedType(14, 5, True)
    assert sum_type(a, b) == FixedType(9, 4, True)  # I = max(3, 2 + 1) + 1, F = max(5, 4)
    assert difference_type(b, b) == FixedType(7, 3, True)
    assert quotient_type(a, b) == FixedType(0 + 8 + 4, 0 + 3 + 4, True)
    with pytest.raises(FormatError, match="needs W=80 bits"):
        product_type(FixedType(40, 20), FixedType(40, 20))
