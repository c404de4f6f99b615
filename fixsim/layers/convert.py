"""Conversion descriptors: one ``dst = src`` conversion packed for the Numba kernels.

A descriptor is an ``int64[DESCRIPTOR_SIZE]`` array; the kernels read it through the
named slot constants below (plain module ints, folded by Numba), never by bare position.
"""

from __future__ import annotations

import numpy as np

from ..fixed import FixedType
from ..fixed.format import Overflow, Quantization

_SEMANTIC_OVERFLOW = (Overflow.AP_SAT, Overflow.AP_SAT_ZERO, Overflow.AP_SAT_SYM)

#: Widest right shift the semantic form takes (an int64 shift by 64 or more is undefined).
MAX_FAST_SHIFT = 62

# Descriptor slots.
FAST = 0  # 1: semantic form (_requant + wrap); 0: the port of the headers' operator=
SHIFT = 1  # d = F_src - F_dst (bits dropped; negative: left shift)
LO, HI = 2, 3  # the target's raw range
QMODE, OMODE = 4, 5  # the target's Quantization / Overflow codes
SYM_MIN = 6  # AP_SAT_SYM on a signed target: its minimum is lo + 1
SYM_RULE = 7  # ... and the headers run their overflow code: an in-range lo becomes lo + 1
DST_W, DST_SIGNED, DST_I, DST_N = 8, 9, 13, 14  # the target's W, signedness, I, N
SRC_W, SRC_I, SRC_SIGNED = 10, 11, 12  # the source's W, I, signedness
DESCRIPTOR_SIZE = 16


def headers_check_overflow(src: FixedType, dst: FixedType) -> bool:
    """True when ``dst = src`` runs the headers' overflow code (``operator=``'s condition).

    The headers skip it when the source type cannot overflow the target, and the
    AP_SAT_SYM minimum rule must then not be applied either.
    """
    f, f2 = dst.frac_bits, src.frac_bits
    quan_inc = f2 > f and not (dst.quantization == Quantization.AP_TRN
                               or (dst.quantization == Quantization.AP_TRN_ZERO and not src.signed))
    sym = quan_inc or (src.signed and dst.overflow == Overflow.AP_SAT_SYM)
    return ((dst.overflow != Overflow.AP_WRAP or dst.sat_bits != 0)
            and ((not dst.signed and src.signed)
                 or dst.int_bits - dst.signed < src.int_bits - src.signed + sym))


def descriptor(src: FixedType, dst: FixedType) -> np.ndarray:
    """Pack ``dst = src`` for :func:`fixsim.layers._kernels._cvt` (slots above).

    The semantic form is chosen when the destination's overflow mode is SAT, SAT_ZERO,
    SAT_SYM (wider than 1 bit) or WRAP with N = 0, a left shift of the source stays
    within int64 and a right shift is at most ``MAX_FAST_SHIFT`` bits; otherwise the
    kernels run the full port of the headers.
    """
    d = src.frac_bits - dst.frac_bits
    semantic = (dst.overflow in _SEMANTIC_OVERFLOW
                or (dst.overflow == Overflow.AP_WRAP and dst.sat_bits == 0))
    # A 1-bit signed AP_SAT_SYM target saturates its minimum to the pattern "sign bit | 1",
    # which is -1 again (not lo + 1 = 0 as the semantic form assumes): use the port.
    sym_one_bit = dst.overflow == Overflow.AP_SAT_SYM and dst.signed and dst.width == 1
    fast = (semantic and not sym_one_bit and src.width + max(0, -d) <= 63 and dst.width <= 63
            and d <= MAX_FAST_SHIFT)
    sym_min = dst.overflow == Overflow.AP_SAT_SYM and dst.signed
    sym_rule = sym_min and src.signed and headers_check_overflow(src, dst)
    c = np.zeros(DESCRIPTOR_SIZE, np.int64)
    c[FAST], c[SHIFT], c[LO], c[HI] = int(fast), d, dst.raw_min, dst.raw_max
    c[QMODE], c[OMODE] = int(dst.quantization), int(dst.overflow)
    c[SYM_MIN], c[SYM_RULE] = int(sym_min), int(sym_rule)
    c[DST_W], c[DST_SIGNED], c[DST_I], c[DST_N] = dst.width, int(dst.signed), dst.int_bits, dst.sat_bits
    c[SRC_W], c[SRC_I], c[SRC_SIGNED] = src.width, src.int_bits, int(src.signed)
    return c
