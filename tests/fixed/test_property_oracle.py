"""Hypothesis differential tests against the compiled headers, on wide formats.

Formats come from a seeded pool (``FIXSIM_POOL_SEED``; 8x larger under the ``long``
profile) compiled once into one oracle; hypothesis draws the formats from the pool and
draws mantissas (boundaries, ties, uniform) and doubles (specials, traps, huge values).
"""

import math
from fractions import Fraction
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

import naive
from fixsim.csim.oracle import Case, Oracle, bits_to_raw, raw_to_bits
from fixsim.fixed import convert, quantize, to_float, multiply, add, subtract, mac
from fixsim.fixed.format import FixedType, product_type, sum_type, difference_type
from fixsim.fixed.ops import _undefined_pair
from helpers import assert_bits_equal
from strategies import format_pool, pool_seed, pool_size, raw_values

SEED = pool_seed()


def _pairs(n, seed):
    fmts = format_pool(2 * n, seed)
    return [(a, b) for a, b in zip(fmts[::2], fmts[1::2]) if not _undefined_pair(a, b)]


CONV_PAIRS = _pairs(pool_size(150), SEED)
DST_POOL = format_pool(pool_size(80), SEED + 1)
ARITH = [(a, b) for a, b in zip(format_pool(pool_size(120), SEED + 2, max_width=32),
                                format_pool(pool_size(120), SEED + 3, max_width=32))]


def _arith_ok(a, b):
    try:
        product_type(a, b), sum_type(a, b), difference_type(a, b)
        sum_type(a, product_type(a, b))
        return True
    except Exception:
        return False


ARITH = [(a, b) for a, b in ARITH if _arith_ok(a, b)]


@pytest.fixture(scope="module")
def oracle(need_oracle):
    cases = [Case("convert", p) for p in CONV_PAIRS]
    cases += [Case(op, (d,)) for d in DST_POOL for op in ("from_double", "from_float", "to_double")]
    cases += [Case(op, p) for p in ARITH for op in ("mul", "add", "sub")]
    cases += [Case("mac", (a, a, b)) for a, b in ARITH]
    return Oracle(cases)


@given(data=st.data())
def test_convert_wide_formats(oracle, data):
    src, dst = data.draw(st.sampled_from(CONV_PAIRS), label="pair")
    d = src.frac_bits - dst.frac_bits
    raws = np.array(data.draw(st.lists(raw_values(src, d), min_size=1, max_size=40)),
                    dtype=src.raw_dtype)
    expected = bits_to_raw(oracle.run(Case("convert", (src, dst)), raw_to_bits(raws)), dst)
    assert_bits_equal(expected, convert(raws, src, dst), inputs=raws, context=f"{src} -> {dst}")
    assert_bits_equal(expected, [naive.convert_value(int(v), src, dst) for v in raws],
                      inputs=raws, context=f"naive {src} -> {dst}")


def doubles_for(fmt: FixedType):
    lsb = math.ldexp(1.0, -fmt.frac_bits)
    ties = st.integers(-2 ** 20, 2 ** 20).map(lambda k: (k + 0.5) * lsb)
    near = st.integers(-2 ** 20, 2 ** 20).map(lambda k: k * lsb).flatmap(
        lambda x: st.sampled_from([x, math.nextafter(x, math.inf), math.nextafter(x, -math.inf)]))
    edges = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan,
                             0.49999999999999994, -0.49999999999999994, 0.5, -0.5, 1e308, -1e308,
                             5e-324, -5e-324, 2.2250738585072014e-308, fmt.max, fmt.min,
                             fmt.max + lsb / 2, fmt.min - lsb / 2, 0.1, -0.1, 2.0 ** 1023])
    scaled_trap = st.integers(-60, 60).map(lambda e: math.ldexp(0.49999999999999994, e))
    nan_payload = st.integers(1, 2 ** 52 - 1).flatmap(lambda m: st.sampled_from([
        struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000000 | m))[0],
        struct.unpack("<d", struct.pack("<Q", 0xFFF0000000000000 | m))[0]]))
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
                     ties, near, edges, scaled_trap, nan_payload)


@given(data=st.data())
def test_quantize_doubles(oracle, data):
    fmt = data.draw(st.sampled_from(DST_POOL), label="fmt")
    xs = np.array(data.draw(st.lists(doubles_for(fmt), min_size=1, max_size=40)), dtype=np.float64)
    expected = bits_to_raw(oracle.run(Case("from_double", (fmt,)), xs.view(np.uint64)), fmt)
    got = quantize(xs, fmt, warn=False)
    assert_bits_equal(expected, got, inputs=xs, context=f"double -> {fmt}")
    assert_bits_equal(expected, [naive.from_double(float(x), fmt) for x in xs], inputs=xs,
                      context=f"naive double -> {fmt}")


@given(data=st.data())
def test_quantize_floats(oracle, data):
    fmt = data.draw(st.sampled_from(DST_POOL), label="fmt")
    xs = np.array(data.draw(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True,
                                               allow_subnormal=True), min_size=1, max_size=40)),
                  dtype=np.float32)
    words = xs.view(np.uint32).astype(np.uint64)
    expected = bits_to_raw(oracle.run(Case("from_float", (fmt,)), words), fmt)
    assert_bits_equal(expected, quantize(xs, fmt, warn=False), inputs=xs, context=f"float -> {fmt}")
    # ap_fixed(float) widens to double first (exact), then converts: the naive path says so too
    assert_bits_equal(expected, [naive.from_double(float(x), fmt) for x in xs], inputs=xs,
                      context=f"naive float -> {fmt}")


@given(data=st.data())
def test_to_double(oracle, data):
    fmt = data.draw(st.sampled_from(DST_POOL), label="fmt")
    raws = np.array(data.draw(st.lists(raw_values(fmt), min_size=1, max_size=40)), dtype=fmt.raw_dtype)
    expected = oracle.run(Case("to_double", (fmt,)), raw_to_bits(raws)).view(np.float64)
    got = to_float(raws, fmt)
    assert_bits_equal(expected.view(np.uint64), got.view(np.uint64), inputs=raws, context=f"to_double {fmt}")
    assert_bits_equal(expected, [naive.to_double(int(v), fmt) for v in raws], context="naive to_double")


@given(data=st.data())
def test_arithmetic_and_mac(oracle, data):
    fa, fb = data.draw(st.sampled_from(ARITH), label="formats")
    n = data.draw(st.integers(1, 30))
    a = np.array(data.draw(st.lists(raw_values(fa), min_size=n, max_size=n)), dtype=np.int64)
    b = np.array(data.draw(st.lists(raw_values(fb), min_size=n, max_size=n)), dtype=np.int64)
    acc = np.array(data.draw(st.lists(raw_values(fa), min_size=n, max_size=n)), dtype=np.int64)
    for op, fn in (("mul", multiply), ("add", add), ("sub", subtract)):
        got, rt = fn(a, fa, b, fb)
        expected = bits_to_raw(oracle.run(Case(op, (fa, fb)), raw_to_bits(a), raw_to_bits(b)), rt)
        assert_bits_equal(expected, got, context=f"{fa} {op} {fb}")
    expected = bits_to_raw(oracle.run(Case("mac", (fa, fa, fb)), raw_to_bits(acc), raw_to_bits(a),
                                      raw_to_bits(b)), fa)
    assert_bits_equal(expected, mac(acc, fa, a, fa, b, fb), context=f"{fa} += {fa} * {fb}")
    assert_bits_equal(expected, [naive.mac(int(x), fa, int(y), fa, int(z), fb)
                                 for x, y, z in zip(acc, a, b)], context="naive mac")


def test_pools_are_wide():
    """The pool really covers wide, narrow, negative-I and I > W formats."""
    fmts = [f for p in CONV_PAIRS for f in p] + DST_POOL
    assert max(f.width for f in fmts) == 64 and min(f.width for f in fmts) == 1
    assert any(f.int_bits < 0 for f in fmts) and any(f.int_bits > f.width for f in fmts)
    assert any(not f.signed and f.width == 64 for f in fmts)


@given(data=st.data())
def test_vectorized_sat_quantizer_equals_the_general_one(data):
    """quantize_sat_floats (the prepared model's input quantizer for AP_SAT with AP_RND or
    AP_TRN) against the general fast quantizer (itself equal to the headers' port, test
    below): the same raw values and counts on finite doubles, and ``finite`` False as
    soon as a NaN or inf is in the slice (the caller then runs the general one)."""
    from strategies import formats as any_format

    from fixsim.fixed.specialized import float_sat_ok, quantize_sat_floats, quantizer
    fmt = data.draw(any_format().filter(float_sat_ok), label="fmt")
    xs = np.array(data.draw(st.lists(doubles_for(fmt), min_size=1, max_size=60)), dtype=np.float64)
    ref = np.empty(xs.size, np.int64)
    counts = quantizer(int(fmt.quantization), int(fmt.overflow), False)(
        xs.view(np.uint64), fmt.frac_bits, fmt.raw_min, fmt.raw_max, 64 - fmt.width, fmt.signed, ref)
    got = np.empty(xs.size, np.int64)
    finite, outside, rounded = quantize_sat_floats(xs, 2.0 ** fmt.frac_bits, fmt.raw_min,
                                                   fmt.raw_max, fmt.quantization.name == "AP_RND",
                                                   got)
    assert finite == bool(np.isfinite(xs).all())
    if finite:
        assert_bits_equal(ref, got, inputs=xs, context=f"vectorized SAT quantizer {fmt}")
        assert (outside, rounded) == (counts[2], counts[3])
        if fmt.width <= 16:  # the int16 carry of the prepared model
            small = np.empty(xs.size, np.int16)
            quantize_sat_floats(xs, 2.0 ** fmt.frac_bits, fmt.raw_min, fmt.raw_max,
                                fmt.quantization.name == "AP_RND", small)
            assert_bits_equal(ref, small.astype(np.int64), inputs=xs, context="int16 out")


@given(data=st.data())
def test_fast_double_quantizer_equals_header_port(data):
    """The semantic fast path and the register-level port agree on every mode it covers."""
    from fixsim.fixed import kernels as K
    from fixsim.fixed.ops import _args, _fast_quantize_ok
    from strategies import formats as any_format
    fmt = data.draw(any_format().filter(_fast_quantize_ok), label="fmt")
    xs = np.array(data.draw(st.lists(doubles_for(fmt), min_size=1, max_size=60)), dtype=np.float64)
    port = np.empty(xs.size, np.int64)
    status = np.empty(xs.size, np.int64)
    K._quantize_doubles(xs.view(np.uint64), *_args(fmt), port, status)
    from fixsim.fixed.specialized import quantizer
    fast = np.empty(xs.size, np.int64)
    sym = fmt.overflow.name == "AP_SAT_SYM" and fmt.signed and fmt.width > 1
    counts = quantizer(int(fmt.quantization), int(fmt.overflow), sym)(
        xs.view(np.uint64), fmt.frac_bits, fmt.raw_min, fmt.raw_max, 64 - fmt.width, fmt.signed, fast)
    assert_bits_equal(port, fast, inputs=xs, context=f"fast vs port {fmt}")
    assert counts[0] == np.count_nonzero(status & K.ST_NAN)
    assert counts[1] == np.count_nonzero(status & K.ST_INF)
    # off the grid, in exact rationals (ldexp could underflow)
    off = [v != 0 and (Fraction(float(v)) * Fraction(2) ** fmt.frac_bits).denominator != 1
           for v in xs if np.isfinite(v)]
    assert counts[3] == sum(off)
    if fmt.overflow.name != "AP_WRAP":  # the headers do not evaluate overflow for AP_WRAP, N=0
        ovf = (status & K.ST_OVERFLOW) != 0
        assert counts[2] == np.count_nonzero(ovf & ((status & (K.ST_NAN | K.ST_INF)) == 0))
