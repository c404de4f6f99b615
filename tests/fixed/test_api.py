"""Public API behaviour: shapes, dtypes, text formats, validation, warnings."""

import warnings

import numpy as np
import pytest

import fixsim
from fixsim import FixedType, FixsimWarning, InputError, FormatError


def test_top_level_api_shapes_and_text_formats():
    x = np.linspace(-3, 3, 24).reshape(2, 3, 4)
    raw = fixsim.quantize(x, "ap_fixed<16,6,AP_RND,AP_SAT>")
    assert raw.shape == x.shape and raw.dtype == np.int64
    back = fixsim.to_float(raw, FixedType.parse("ap_fixed<16,6,AP_RND,AP_SAT>"))
    assert np.all(np.abs(back - x) <= 2 ** -11)
    wide = fixsim.convert(raw, "ap_fixed<16,6>", "ap_fixed<24,8>")
    assert np.array_equal(wide, raw * 2 ** 6)


def test_unsigned_64_bit_raws_are_uint64():
    t = "ap_ufixed<64,64>"
    raw = fixsim.quantize([2.0 ** 64 - 2 ** 11], t)
    assert raw.dtype == np.uint64 and int(raw[0]) == 2 ** 64 - 2 ** 11
    assert fixsim.to_float(raw, t)[0] == 2.0 ** 64 - 2 ** 11


def test_integer_input_uses_the_integer_constructor():
    assert fixsim.quantize(np.array([3, -3]), "ap_fixed<8,4>").tolist() == [48, -48]
    assert fixsim.quantize(np.array([300]), "ap_fixed<8,4,AP_TRN,AP_SAT>").tolist() == [127]


def test_warning_counts_nan_inf_and_out_of_range():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fixsim.quantize([np.nan, np.inf, -np.inf, 100.0, 1.0], "ap_fixed<8,4,AP_RND,AP_WRAP>")
    msgs = [str(m.message) for m in w if issubclass(m.category, FixsimWarning)]
    assert len(msgs) == 1
    assert "1 NaN" in msgs[0] and "2 inf" in msgs[0] and "1 out of range" in msgs[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixsim.quantize([1.0, -1.0], "ap_fixed<8,4>")  # no warning for clean data


@pytest.mark.parametrize("bad", [["a", "b"], np.array([1, 2], dtype=object)])
def test_quantize_rejects_non_numbers(bad):
    with pytest.raises(InputError):
        fixsim.quantize(bad, "ap_fixed<8,4>")


def test_raw_range_is_checked():
    msg = r"value 128 is outside the raw range of ap_fixed<8,4>: \[-128, 127\]"
    with pytest.raises(InputError, match=msg):
        fixsim.convert([128], "ap_fixed<8,4>", "ap_fixed<8,4>")
    with pytest.raises(InputError, match="integer array"):
        fixsim.to_float([0.5], "ap_fixed<8,4>")


def test_binary_ops_broadcast_and_report_types():
    raw, t = fixsim.multiply([[1], [2]], "ap_fixed<8,4>", [1, 2, 3], "ap_ufixed<4,2>")
    assert raw.shape == (2, 3) and t == FixedType(12, 6, True)
    with pytest.raises(InputError, match="do not broadcast"):
        fixsim.add([1, 2], "ap_fixed<8,4>", [1, 2, 3], "ap_fixed<8,4>")
    with pytest.raises(FormatError, match="needs W=80"):
        fixsim.multiply([1], "ap_fixed<40,4>", [1], "ap_fixed<40,4>")
