"""Exact integer kernels for ap_fixed conversion and arithmetic (private).

Everything here works on W-bit register *patterns* held in ``uint64`` and on plain
ints, mirroring the register-level algorithm of ``ap_fixed_base::operator=`` and
``ap_fixed_base(double)`` in the Xilinx headers, so that every corner (carry into the
sign bit, the SAT_SYM minimum rule, N saturation bits, WRAP_SM) follows the same steps.
No floating-point arithmetic is used in any exact kernel; doubles are decoded from
their IEEE bit patterns.

Mode codes are the integer values of :class:`~fixsim.fixed.format.Quantization` and
:class:`~fixsim.fixed.format.Overflow`, derived from the enums below (one definition).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .format import Overflow as _O
from .format import Quantization as _Q

# Mode codes: the enums' values, as plain ints (Numba folds module globals into constants).
RND, RND_ZERO, RND_MIN_INF, RND_INF, RND_CONV, TRN, TRN_ZERO = (
    int(_Q.AP_RND), int(_Q.AP_RND_ZERO), int(_Q.AP_RND_MIN_INF), int(_Q.AP_RND_INF),
    int(_Q.AP_RND_CONV), int(_Q.AP_TRN), int(_Q.AP_TRN_ZERO))
SAT, SAT_ZERO, SAT_SYM, WRAP, WRAP_SM = (
    int(_O.AP_SAT), int(_O.AP_SAT_ZERO), int(_O.AP_SAT_SYM), int(_O.AP_WRAP), int(_O.AP_WRAP_SM))

# Status bits returned per element by the conversion kernels.
ST_OVERFLOW = 1  # the headers' overflow/underflow flag was raised
ST_NAN = 2
ST_INF = 4
ST_UNDEFINED = 8  # the headers assert here ("read bit beyond MSB"): no defined result

U0 = np.uint64(0)
U1 = np.uint64(1)
ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, inline="always")
def _mask(w):
    """Low ``w`` bits set, 0 <= w <= 64."""
    if w <= 0:
        return U0
    if w >= 64:
        return ALL
    return (U1 << np.uint64(w)) - U1


@njit(cache=True, inline="always")
def _bit(x, i):
    """Bit ``i`` of a 64-bit pattern (0 outside 0..63)."""
    if i < 0 or i > 63:
        return False
    return ((x >> np.uint64(i)) & U1) != U0


@njit(cache=True, inline="always")
def _ext_shr(x, w2, s2, sh):
    """Extend a ``w2``-bit pattern by its signedness, shift right by 0 <= sh < w2 (<= 63)."""
    if s2 and _bit(x, w2 - 1):
        xe = x | ~_mask(w2)  # sign-extend to 64 bits
        return np.uint64(np.int64(xe) >> np.int64(sh))
    return x >> np.uint64(sh)


@njit(cache=True, inline="always")
def _ext(x, w2, s2):
    if s2 and _bit(x, w2 - 1):
        return x | ~_mask(w2)
    return x


@njit(cache=True)
def _overflow_adjust(v, w, signed, o, n, underflow, overflow, ld, sign):
    """``ap_fixed_base::overflow_adjust`` on a w-bit pattern."""
    if not underflow and not overflow:
        return v
    mw = _mask(w)
    top = U1 << np.uint64(w - 1)
    if o == WRAP:
        if n == 0:
            return v
        if signed:
            v = (v | top) if sign else (v & ~top)
            if n > 1:
                rng = _mask(n - 1) << np.uint64(w - n)  # bits w-n .. w-2
                v = (v & ~rng) if sign else (v | rng)
        else:
            rng = _mask(n) << np.uint64(w - n)  # bits w-n .. w-1
            v = v | rng
        return v
    if o == SAT_ZERO:
        return U0
    if o == WRAP_SM and signed:
        ro = _bit(v, w - 1)
        if n == 0:
            if ld != ro:
                v = ~v & mw
                v = (v | top) if ld else (v & ~top)
        else:
            if n == 1 and sign != ro:
                v = ~v & mw
            elif n > 1:
                lno = _bit(v, w - n)
                if lno == sign:
                    v = ~v & mw
                rng = _mask(n - 1) << np.uint64(w - n)
                v = (v & ~rng) if sign else (v | rng)
            v = (v | top) if sign else (v & ~top)
        return v
    # AP_SAT, AP_SAT_SYM
    if signed:
        if overflow:
            return (~top) & mw
        if underflow:
            v = top
            if o == SAT_SYM:
                v = v | U1
            return v
        return v
    if overflow:
        return mw
    if underflow:
        return U0
    return v


@njit(cache=True)
def _convert_pattern(x, w2, i2, s2, w, i, s, q, o, n, from_double):
    """Convert one source pattern to the target; returns (pattern, status bits).

    A literal port of ``ap_fixed_base<W,I,S,Q,O,N>::operator=(ap_fixed_base<W2,I2,S2>)``;
    with ``from_double`` it is the double constructor (source <54, exp+2, signed>), which
    differs only in never reading the quantization bit beyond the source MSB.
    """
    status = 0
    f = w - i
    f2 = w2 - i2
    mw = _mask(w)
    x = x & _mask(w2)
    quan_inc = f2 > f and not (q == TRN or (q == TRN_ZERO and not s2))
    signbit = _bit(x, w2 - 1)
    isneg = signbit and s2
    carry = False
    if f2 == f:
        v = _ext(x, w2, s2) & mw
    elif f2 > f:
        sh = f2 - f
        if sh < w2:
            v = _ext_shr(x, w2, s2, sh) & mw
        else:
            v = mw if isneg else U0
        if q != TRN and not (q == TRN_ZERO and not s2):
            if sh > w2:
                qb = s2 and signbit
                if not from_double:
                    status |= ST_UNDEFINED  # get_bit(op.V, sh-1) asserts in the headers
            else:
                qb = _bit(x, sh - 1)
            r = False
            if sh > 1:
                hi = sh - 2 if sh - 2 < w2 else w2 - 1
                r = (x & _mask(hi + 1)) != U0
            # quantization_adjust
            carry = _bit(v, w - 1)
            if q == RND_ZERO:
                qb = qb and (isneg or r)
            elif q == RND_MIN_INF:
                qb = qb and r
            elif q == RND_INF:
                qb = qb and ((not isneg) or r)
            elif q == RND_CONV:
                qb = qb and (_bit(v, 0) or r)
            elif q == TRN_ZERO:
                qb = isneg and (qb or r)
            if qb:
                v = (v + U1) & mw
            carry = carry and not _bit(v, w - 1)
    else:
        sh = f - f2
        if sh < w:
            v = (_ext(x, w2, s2) << np.uint64(sh)) & mw
        else:
            v = U0
    # overflow / underflow
    sym = 1 if (quan_inc or (s2 and o == SAT_SYM)) else 0
    if (o != WRAP or n != 0) and ((not s and s2) or (i - (1 if s else 0) < i2 - (1 if s2 else 0) + sym)):
        deleted_zeros = True if s2 else not carry
        deleted_ones = True
        neg_src = isneg
        newsignbit = _bit(v, w - 1)
        pos1 = f2 - f + w
        pos2 = pos1 + 1
        ld = _bit(x, pos1) if (0 <= pos1 < w2) else False
        if pos1 < w2:
            r1_ones = True
            r1_zeros = True
            r2_ones = True
            m2 = _mask(w2)
            if 0 <= pos2 < w2:
                r2_ones = (x >> np.uint64(pos2)) == (m2 >> np.uint64(pos2))
            elif pos2 < 0:
                r2_ones = False
            if pos1 >= 0 and pos2 < w2:
                r1 = x >> np.uint64(pos1)
                r1_ones = r1 == (m2 >> np.uint64(pos1))
                r1_zeros = r1 == U0
            elif pos2 == w2:
                r1_ones = ld
                r1_zeros = not ld
            elif pos1 < 0:
                r1_zeros = x == U0
                r1_ones = False
            deleted_zeros = deleted_zeros and (r1_ones if carry else r1_zeros)
            if carry:
                deleted_ones = r2_ones and (pos1 < 0 or not ld)
            else:
                deleted_ones = r1_ones
            neg_src = isneg and not (carry and r1_ones)
        else:
            neg_src = isneg and newsignbit
        neg_trg = s and newsignbit
        overflow = (neg_trg or not deleted_zeros) and not isneg
        underflow = ((not neg_trg) or not deleted_ones) and neg_src
        if o == SAT_SYM and s2 and s:
            low_zero = (v & _mask(w - 1)) == U0 if w > 1 else True
            underflow = underflow or (neg_src and low_zero)
        if overflow or underflow:
            status |= ST_OVERFLOW
        v = _overflow_adjust(v, w, s, o, n, underflow, overflow, ld, neg_src)
    return v, status


@njit(cache=True, inline="always")
def _to_int64(v, w, s):
    """Register pattern to the integer value (int64; 64-bit unsigned keeps its bits)."""
    if s and _bit(v, w - 1):
        return np.int64(v | ~_mask(w))
    return np.int64(v)


@njit(cache=True)
def _convert_array(src, w2, i2, s2, w, i, s, q, o, n, out, status):
    """out[k] = ap_fixed<w,i,s,q,o,n>(ap_fixed<w2,i2,s2>(raw src[k]))."""
    for k in range(src.shape[0]):
        v, st = _convert_pattern(np.uint64(src[k]), w2, i2, s2, w, i, s, q, o, n, False)
        out[k] = _to_int64(v, w, s)
        status[k] = st


@njit(cache=True)
def _decode_double(bits):
    """IEEE-754 bits -> (man pattern as 54-bit two's complement, I2, status, is_zero)."""
    status = 0
    expo = np.int64((bits >> np.uint64(52)) & np.uint64(0x7FF)) - 1023
    frac = bits & np.uint64(0xFFFFFFFFFFFFF)
    if expo == 1024:
        status |= ST_NAN if frac != U0 else ST_INF
    man = frac | (U1 << np.uint64(52))  # the headers set the hidden bit even for subnormals
    if (bits >> np.uint64(63)) != U0:
        man = (~man + U1) & _mask(54)
    is_zero = (bits & np.uint64(0x7FFFFFFFFFFFFFFF)) == U0
    return man, expo + 2, status, is_zero


@njit(cache=True)
def _quantize_doubles(bits, w, i, s, q, o, n, out, status):
    """out[k] = ap_fixed<w,i,s,q,o,n>(double with IEEE bits[k])."""
    for k in range(bits.shape[0]):
        man, i2, st, is_zero = _decode_double(np.uint64(bits[k]))
        if is_zero:
            out[k] = 0
            status[k] = 0
            continue
        v, st2 = _convert_pattern(man, 54, i2, True, w, i, s, q, o, n, True)
        out[k] = _to_int64(v, w, s)
        status[k] = st | st2


# ------------------------------------------------------------------ arithmetic
@njit(cache=True)
def _multiply(a, b, w, s, out):
    """Exact product patterns, wrapped to the w-bit result register (w <= 64 fits exactly)."""
    m = _mask(w)
    for k in range(a.shape[0]):
        p = np.uint64(a[k]) * np.uint64(b[k])  # low 64 bits of the exact product
        out[k] = _to_int64(p & m, w, s)


@njit(cache=True)
def _add_aligned(a, sa, b, sb, negate_b, w, s, out):
    """out = (a << sa) +/- (b << sb) in the w-bit result register (exact for w <= 64)."""
    m = _mask(w)
    for k in range(a.shape[0]):
        x = np.uint64(a[k]) << np.uint64(sa)
        y = np.uint64(b[k]) << np.uint64(sb)
        r = (x - y) if negate_b else (x + y)
        out[k] = _to_int64(r & m, w, s)


@njit(cache=True)
def _divide(a, sa_bits, b, w1, s1, w_res, s_res, out, status):
    """Truncating division of (a << sa_bits) by b as the C simulation does it.

    The headers divide in a ``w1``-bit register of signedness ``s1`` (``_W1`` in
    ``operator/``), so the quotient wraps to ``w1`` bits before it is widened into the
    ``w_res``-bit result (e.g. the most negative dividend divided by -1).  ``a << sa_bits``
    fits in 63 bits (checked by the caller).  Division by zero sets ST_UNDEFINED.
    """
    m = _mask(w_res)
    for k in range(a.shape[0]):
        if b[k] == 0:
            out[k] = 0
            status[k] = ST_UNDEFINED
            continue
        num = a[k] << np.int64(sa_bits)
        den = b[k]
        qa = abs(num) // abs(den)
        qv = qa if (num < 0) == (den < 0) else -qa
        q1 = _to_int64(np.uint64(qv) & _mask(w1), w1, s1)
        out[k] = _to_int64(np.uint64(q1) & m, w_res, s_res)
        status[k] = 0


# ------------------------------------------------------- fast requantization
@njit(cache=True, inline="always")
def _inc(q, y, neg, qb, r):
    """Rounding increment of mode ``q`` from the first dropped bit ``qb``, the sticky bit
    ``r``, the sign and the kept LSB (the Xilinx table; ``q`` folds when constant)."""
    if q == RND:
        return qb
    if q == RND_ZERO:
        return qb and (neg or r)
    if q == RND_MIN_INF:
        return qb and r
    if q == RND_INF:
        return qb and ((not neg) or r)
    if q == RND_CONV:
        return qb and (((y & 1) != 0) or r)
    if q == TRN_ZERO:
        return neg and (qb or r)
    return False


@njit(cache=True, inline="always")
def _requant(v, d, lo, hi, q, o, sym_min, sym_rule):
    """Semantic conversion of an exact int64 value ``v`` dropping ``d`` >= 0 bits.

    Valid for every quantization mode with overflow AP_SAT, AP_SAT_ZERO, AP_SAT_SYM, or
    AP_WRAP with N = 0 (the caller wraps): round by the (qb, r, sign, lsb) rule, then
    clamp.  ``sym_min``: AP_SAT_SYM on a signed target (minimum is lo + 1, or lo for W = 1);
    ``sym_rule``: also a signed source, so an in-range result equal to lo becomes lo + 1.
    Proven equal to :func:`_convert_pattern` by the tests.
    """
    if d > 0:
        y = v >> np.int64(d)
        rem = v - (y << np.int64(d))
        half = np.int64(1) << np.int64(d - 1)
        qb = rem >= half
        r = (rem & (half - 1)) != 0
        if _inc(q, y, v < 0, qb, r):
            y += 1
    else:
        y = v << np.int64(-d)
    if o == WRAP:
        return y
    # SAT_SYM's minimum is the pattern 10..01: lo + 1, or lo itself for W = 1 (hi == 0)
    sym = sym_min and hi > 0
    if y > hi:
        return 0 if o == SAT_ZERO else hi
    if y < lo:
        if o == SAT_ZERO:
            return 0
        return lo + 1 if sym else lo
    if sym_rule and sym and y == lo:
        return lo + 1
    return y


@njit(cache=True, inline="always")
def _wrap(y, w, s):
    return _to_int64(np.uint64(y) & _mask(w), w, s)


@njit(cache=True)
def _mac_generic(a, b, init, prod_w, prod_i, prod_s, acc_w, acc_i, acc_s, q, o, n,
                 sum_w, sum_i, sum_s, out, status):
    """Sequential ``acc += a*b`` through the full header port (any mode, any N)."""
    n_i, n_k = a.shape
    n_j = b.shape[1]
    f_acc = acc_w - acc_i
    f_prod = prod_w - prod_i
    f_sum = sum_w - sum_i
    msum = _mask(sum_w)
    for ii in range(n_i):
        for jj in range(n_j):
            acc = init[ii, jj]
            st = 0
            for kk in range(n_k):
                p = np.uint64(a[ii, kk]) * np.uint64(b[kk, jj])
                x = np.uint64(acc) << np.uint64(f_sum - f_acc)
                y = p << np.uint64(f_sum - f_prod)
                v, st1 = _convert_pattern((x + y) & msum, sum_w, sum_i, sum_s,
                                          acc_w, acc_i, acc_s, q, o, n, False)
                st |= st1
                acc = _to_int64(v, acc_w, acc_s)
            out[ii, jj] = acc
            status[ii, jj] = st


@njit(cache=True)
def _requant_array(v, d, lo, hi, q, o, sym_min, sym_rule, w, s, out):
    """Vector form of :func:`_requant`."""
    for k in range(v.shape[0]):
        y = _requant(v[k], d, lo, hi, q, o, sym_min, sym_rule)
        if o == WRAP:
            y = _wrap(y, w, s)
        out[k] = y

