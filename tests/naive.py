"""Slow, obviously correct references for every fixsim kernel.

Written from the *rules* (exact integers, Python big ints, one value at a time), not from
the register-level port in fixsim.fixed.kernels, so that the two derivations check each
other; both are checked against the compiled ap_types headers.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from types import SimpleNamespace

from fixsim.fixed.format import FixedType, Overflow as O, Quantization as Q


def wrap(y: int, w: int, signed: bool) -> int:
    """Low w bits of y, read as a w-bit signed or unsigned integer."""
    y &= (1 << w) - 1
    if signed and y >> (w - 1):
        y -= 1 << w
    return y


def round_shift(v: int, d: int, q: Q) -> int:
    """Drop d > 0 low bits of the exact integer v with quantization mode q."""
    fl = v >> d  # floor
    rem = v - (fl << d)
    qb = rem >= (1 << (d - 1))  # first dropped bit
    r = (rem % (1 << (d - 1))) != 0  # any lower dropped bit
    neg = v < 0
    inc = {
        Q.AP_TRN: False,
        Q.AP_TRN_ZERO: neg and (qb or r),
        Q.AP_RND: qb,
        Q.AP_RND_ZERO: qb and (neg or r),
        Q.AP_RND_MIN_INF: qb and r,
        Q.AP_RND_INF: qb and (not neg or r),
        Q.AP_RND_CONV: qb and (bool(fl & 1) or r),
    }[q]
    return fl + inc


def may_overflow(src: FixedType, dst: FixedType) -> bool:
    """The headers run their overflow code only when the source type can overflow dst."""
    quan_inc = src.frac_bits > dst.frac_bits and not (
        dst.quantization == Q.AP_TRN or (dst.quantization == Q.AP_TRN_ZERO and not src.signed))
    if dst.overflow == O.AP_WRAP and dst.sat_bits == 0:
        return False
    return ((not dst.signed and src.signed)
            or dst.int_bits - dst.signed
            < src.int_bits - src.signed + (quan_inc or (src.signed and dst.overflow == O.AP_SAT_SYM)))


def convert_value(v: int, src: FixedType, dst: FixedType) -> int:
    """Raw v of ``src`` converted to the raw value of ``dst`` (ap_fixed assignment)."""
    w, n = dst.width, dst.sat_bits
    lo, hi = dst.raw_min, dst.raw_max
    d = src.frac_bits - dst.frac_bits
    y = round_shift(v, d, dst.quantization) if d > 0 else v << -d
    if not may_overflow(src, dst):
        return wrap(y, w, dst.signed)
    # The symmetric minimum is the pattern 10..01, i.e. lo + 1 (for W = 1 that is lo itself).
    sym_min = dst.overflow == O.AP_SAT_SYM and dst.signed and src.signed and w > 1
    in_range = lo <= y <= hi
    if in_range:
        # AP_SAT_SYM never produces the most negative code from a signed negative source.
        return lo + 1 if (sym_min and y == lo) else y
    over = y > hi
    neg = y < 0
    if dst.overflow == O.AP_SAT:
        return hi if over else lo
    if dst.overflow == O.AP_SAT_SYM:
        if not dst.signed:
            return hi if over else 0
        return hi if over else (lo + 1 if w > 1 else lo)
    if dst.overflow == O.AP_SAT_ZERO:
        return 0
    bits = y & ((1 << w) - 1)
    top = 1 << (w - 1)
    if dst.overflow == O.AP_WRAP:  # N > 0 here
        if not dst.signed:
            bits |= ((1 << n) - 1) << (w - n)  # top N bits set, on overflow and underflow
        else:
            bits = (bits | top) if neg else (bits & ~top)  # MSB := source sign
            mid = ((1 << (n - 1)) - 1) << (w - n)  # bits W-N .. W-2
            bits = (bits & ~mid) if neg else (bits | mid)
        return wrap(bits, w, dst.signed)
    # AP_WRAP_SM (signed only): sign-magnitude wrap
    mask = (1 << w) - 1
    msb = bool(bits & top)
    if n == 0:
        # the new sign is bit W of the floor-shifted source, taken before rounding
        ld = bool(((v >> d) if d > 0 else (v << -d)) >> w & 1)
        if ld != msb:
            bits = ~bits & mask
            bits = (bits | top) if ld else (bits & ~top)
    else:
        if n == 1 and neg != msb:
            bits = ~bits & mask
        elif n > 1:
            if bool(bits >> (w - n) & 1) == neg:
                bits = ~bits & mask
            mid = ((1 << (n - 1)) - 1) << (w - n)
            bits = (bits & ~mid) if neg else (bits | mid)
        bits = (bits | top) if neg else (bits & ~top)
    return wrap(bits, w, True)


def decode_double(x: float) -> tuple[int, FixedType] | None:
    """The headers' reading of a double as (raw, <54, exp+2, signed>); None for +-0.

    Quirks kept on purpose: the hidden bit is set even for subnormals, and NaN/inf keep
    exponent 1024 (so they behave as +-(1.m) * 2^1024).
    """
    bits = struct.unpack("<Q", struct.pack("<d", x))[0]
    if bits & 0x7FFFFFFFFFFFFFFF == 0:
        return None
    exp = ((bits >> 52) & 0x7FF) - 1023
    man = (bits & ((1 << 52) - 1)) | (1 << 52)
    if bits >> 63:
        man = -man
    # exp + 2 may exceed what FixedType accepts (I up to 1026): a plain record will do.
    return man, SimpleNamespace(width=54, int_bits=exp + 2, signed=True, frac_bits=52 - exp)


def from_double(x: float, dst: FixedType) -> int:
    dec = decode_double(x)
    if dec is None:
        return 0
    return convert_value(dec[0], dec[1], dst)


def to_double(v: int, fmt: FixedType) -> float:
    """Exact value rounded to the nearest double, ties to even (Python's float(Fraction))."""
    return float(Fraction(v, 1) / Fraction(2) ** fmt.frac_bits) if fmt.frac_bits >= 0 \
        else float(v * 2 ** -fmt.frac_bits)


def value(v: int, fmt: FixedType) -> Fraction:
    return Fraction(v) * Fraction(2) ** -fmt.frac_bits


def exact_raw(val: Fraction, fmt: FixedType) -> int:
    """Raw of an exactly representable value in fmt (asserts exactness)."""
    r = val * Fraction(2) ** fmt.frac_bits
    assert r.denominator == 1, (val, fmt)
    return int(r)


def multiply(a: int, fa: FixedType, b: int, fb: FixedType, rt: FixedType) -> int:
    return wrap(exact_raw(value(a, fa) * value(b, fb), rt), rt.width, rt.signed)


def add(a: int, fa: FixedType, b: int, fb: FixedType, rt: FixedType) -> int:
    return wrap(exact_raw(value(a, fa) + value(b, fb), rt), rt.width, rt.signed)


def subtract(a: int, fa: FixedType, b: int, fb: FixedType, rt: FixedType) -> int:
    return wrap(exact_raw(value(a, fa) - value(b, fb), rt), rt.width, rt.signed)


def divide(a: int, fa: FixedType, b: int, fb: FixedType, rt: FixedType) -> int:
    """(a << max(F2,0)) / b truncated toward zero in the _W1-bit working register, then widened."""
    f2 = max(fb.frac_bits, 0)
    w1 = max(fa.width + f2 + (fb.signed and not fa.signed), fb.width + (fa.signed and not fb.signed))
    num = a << f2
    q = abs(num) // abs(b)
    q = q if (num < 0) == (b < 0) else -q
    return wrap(wrap(q, w1, fa.signed or fb.signed), rt.width, rt.signed)


def mac(acc: int, facc: FixedType, a: int, fa: FixedType, b: int, fb: FixedType) -> int:
    """acc += a * b: exact product and sum, then acc's quantization and overflow."""
    from fixsim.fixed.format import product_type, sum_type

    pt = product_type(fa, fb)
    st = sum_type(facc, pt)
    s = add(acc, facc, multiply(a, fa, b, fb, pt), pt, st)
    return convert_value(s, st, facc)


def matmul(a, fa, b, fb, facc, init=None):
    m, k = len(a), len(a[0])
    n = len(b[0])
    out = [[0] * n for _ in range(m)]
    for i in range(m):
        for j in range(n):
            acc = 0 if init is None else int(init[i][j])
            for kk in range(k):
                acc = mac(acc, facc, int(a[i][kk]), fa, int(b[kk][j]), fb)
            out[i][j] = acc
    return out


def all_raws(fmt: FixedType) -> range:
    return range(fmt.raw_min, fmt.raw_max + 1)


def is_nan(x: float) -> bool:
    return math.isnan(x)
