"""Exhaustive differential tests against the compiled ap_types headers (widths <= 8).

Every quantization mode x every overflow mode x N in 0..3 x signed/unsigned target,
for source and target geometries that narrow, widen, shift left and right, with negative
I and I > W, over every source value.  fixsim and the naive reference must both equal
the headers with zero mismatches.
"""

import itertools

import numpy as np
import pytest

import naive
from fixsim.csim.oracle import Case, Oracle, bits_to_raw, raw_to_bits
from fixsim.fixed import convert, mac, multiply, add, subtract, divide
from fixsim.fixed.format import (FixedType, Overflow, Quantization, product_type, sum_type,
                                 difference_type, quotient_type)
from helpers import assert_bits_equal

# (source W, I) -> (target W, I)
GEOMETRIES = [
    ((8, 4), (5, 2)),   # drop 3 fractional bits and 1 integer bit
    ((8, 2), (8, 6)),   # drop 4 fractional bits, gain 4 integer bits
    ((7, 7), (4, 6)),   # target I > W: drop 2 bits below the binary point
    ((6, -2), (8, 1)),  # source I < 0
    ((4, 2), (8, 3)),   # widen: shift left, no quantization
    ((8, 10), (5, 3)),  # source I > W, shift left into a narrower target
    ((8, 5), (4, 1)),   # same F, pure overflow
]


def mode_combos():
    for q, o, n, s in itertools.product(Quantization, Overflow, range(4), (True, False)):
        if o == Overflow.AP_WRAP_SM and not s:
            continue
        yield q, o, n, s


def conversion_cases():
    cases = []
    for q, o, n, s in mode_combos():
        for (w2, i2), (w, i) in GEOMETRIES:
            for s2 in (True, False):
                cases.append(Case("convert", (FixedType(w2, i2, s2), FixedType(w, i, s, q, o, n))))
    return cases


@pytest.fixture(scope="module")
def conv(need_oracle):
    cases = conversion_cases()
    oracle = Oracle(cases)
    inputs = [np.arange(c.formats[0].raw_min, c.formats[0].raw_max + 1, dtype=np.int64) for c in cases]
    words = oracle.run_many([(c, [raw_to_bits(x)]) for c, x in zip(cases, inputs)])
    return cases, inputs, [bits_to_raw(w, c.formats[1]) for c, w in zip(cases, words)]


def test_case_count(conv):
    cases, _, _ = conv
    assert len(cases) == 252 * len(GEOMETRIES) * 2  # 7 Q x 5 O x 4 N x 2 S, less WRAP_SM unsigned


def test_fixsim_conversion_equals_headers(conv):
    total = 0
    for case, x, expected in zip(*conv):
        src, dst = case.formats
        assert_bits_equal(expected, convert(x, src, dst), inputs=x, context=f"{src} -> {dst}")
        total += x.size
    assert total > 500_000


def test_naive_conversion_equals_headers(conv):
    for case, x, expected in zip(*conv):
        src, dst = case.formats
        ref = [naive.convert_value(int(v), src, dst) for v in x]
        assert_bits_equal(expected, ref, inputs=x, context=f"naive {src} -> {dst}")


# ------------------------------------------------------------------ arithmetic
OPERANDS = [FixedType(4, 2, True), FixedType(4, 2, False), FixedType(5, -1, True),
            FixedType(3, 5, False), FixedType(6, 3, True)]
BINARY = {"mul": (multiply, naive.multiply, product_type), "add": (add, naive.add, sum_type),
          "sub": (subtract, naive.subtract, difference_type), "div": (divide, naive.divide, quotient_type)}


@pytest.fixture(scope="module")
def arith(need_oracle):
    cases = [Case(op, (fa, fb)) for op in BINARY for fa in OPERANDS for fb in OPERANDS]
    return Oracle(cases), cases


def test_binary_ops_exhaustive(arith):
    oracle, cases = arith
    requests, grids = [], []
    for c in cases:
        fa, fb = c.formats
        a, b = np.meshgrid(np.arange(fa.raw_min, fa.raw_max + 1), np.arange(fb.raw_min, fb.raw_max + 1))
        a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
        if c.op == "div":
            a, b = a[b != 0], b[b != 0]  # the C simulation traps on division by zero
        requests.append((c, [raw_to_bits(a), raw_to_bits(b)]))
        grids.append((a, b))
    for c, (a, b), words in zip(cases, grids, oracle.run_many(requests)):
        fa, fb = c.formats
        fast, slow, rtype = BINARY[c.op]
        rt = rtype(fa, fb)
        expected = bits_to_raw(words, rt)
        got, got_t = fast(a, fa, b, fb)
        assert got_t == rt
        ctx = f"{fa} {c.op} {fb}"
        assert_bits_equal(expected, got, inputs=[f'{x}/{y}' for x, y in zip(a, b)], context=ctx)
        assert_bits_equal(expected, [slow(int(x), fa, int(y), fb, rt) for x, y in zip(a, b)],
                          context="naive " + ctx)


def test_division_by_zero_is_an_input_error():
    from fixsim import InputError
    with pytest.raises(InputError, match="division by zero"):
        divide([1, 2], "ap_fixed<8,4>", [1, 0], "ap_fixed<8,4>")


# ------------------------------------------------------------------ acc += a*b
FA, FB = FixedType(4, 2, True), FixedType(4, 1, False)


@pytest.fixture(scope="module")
def mac_cases(need_oracle):
    cases = [Case("mac", (FixedType(6, 3, s, q, o, n), FA, FB)) for q, o, n, s in mode_combos()]
    return Oracle(cases), cases


def test_mac_step_exhaustive(mac_cases):
    """Every accumulator mode: all (acc, a, b); the product has 2 more fractional bits."""
    oracle, cases = mac_cases
    rng = np.random.default_rng(7)
    requests, grids = [], []
    for c in cases:
        facc = c.formats[0]
        acc, a, b = (g.ravel().astype(np.int64) for g in np.meshgrid(
            np.arange(facc.raw_min, facc.raw_max + 1), np.arange(FA.raw_min, FA.raw_max + 1),
            np.arange(FB.raw_min, FB.raw_max + 1), indexing="ij"))
        requests.append((c, [raw_to_bits(acc), raw_to_bits(a), raw_to_bits(b)]))
        grids.append((acc, a, b))
    for c, (acc, a, b), words in zip(cases, grids, oracle.run_many(requests)):
        facc = c.formats[0]
        expected = bits_to_raw(words, facc)
        assert_bits_equal(expected, mac(acc, facc, a, FA, b, FB), context=f"{facc} += {FA} * {FB}")
        pick = rng.choice(acc.size, 300, replace=False)
        ref = [naive.mac(int(acc[k]), facc, int(a[k]), FA, int(b[k]), FB) for k in pick]
        assert_bits_equal(expected[pick], ref, context=f"naive {facc} += a*b")
