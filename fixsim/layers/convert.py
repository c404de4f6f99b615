"""Conversion descriptors: one ``dst = src`` conversion packed for the Numba kernels."""

from __future__ import annotations

import numpy as np

from ..fixed import FixedType
from ..fixed.format import Overflow, Quantization

_SEMANTIC_OVERFLOW = (Overflow.AP_SAT, Overflow.AP_SAT_ZERO, Overflow.AP_SAT_SYM)


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
    """Pack ``dst = src`` for :func:`fixsim.layers._kernels._cvt` (layout in that module).

    The semantic form is chosen when the destination's overflow mode is SAT, SAT_ZERO,
    SAT_SYM (wider than 1 bit) or WRAP with N = 0 and a left shift of the source stays
    within int64; otherwise the kernels run the full port of the headers.
    """
    d = src.frac_bits - dst.frac_bits
    semantic = (dst.overflow in _SEMANTIC_OVERFLOW
                or (dst.overflow == Overflow.AP_WRAP and dst.sat_bits == 0))
    # A 1-bit signed AP_SAT_SYM target saturates its minimum to the pattern "sign bit | 1",
    # which is -1 again (not lo + 1 = 0 as the semantic form assumes): use the port.
    sym_one_bit = dst.overflow == Overflow.AP_SAT_SYM and dst.signed and dst.width == 1
    fast = semantic and not sym_one_bit and src.width + max(0, -d) <= 63 and dst.width <= 63
    sym_min = dst.overflow == Overflow.AP_SAT_SYM and dst.signed
    sym_rule = sym_min and src.signed and headers_check_overflow(src, dst)
    return np.array([int(fast), d, dst.raw_min, dst.raw_max, int(dst.quantization),
                     int(dst.overflow), int(sym_min), int(sym_rule), dst.width, int(dst.signed),
                     src.width, src.int_bits, int(src.signed), dst.int_bits, dst.sat_bits, 0],
                    dtype=np.int64)
