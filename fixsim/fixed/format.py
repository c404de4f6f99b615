"""The fixed-point format: an immutable ``ap_fixed<W, I, Q, O, N>`` / ``ap_ufixed<...>``.

A format is a value (frozen dataclass, hashable).  Raw mantissas are integers V with
value ``V * 2**-F`` where ``F = W - I``; signed formats hold ``-2**(W-1) <= V < 2**(W-1)``,
unsigned ``0 <= V < 2**W``.

>>> t = FixedType.parse("ap_fixed<16,6,AP_RND,AP_SAT>")
>>> t.frac_bits, t.lsb, t.max
(10, 0.0009765625, 31.9990234375)
>>> FixedType.parse(str(t)) == t
True
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .._validate import check_int
from ..errors import FormatError, closest

#: Widest stored value: raw mantissas live in 64-bit machine words.
MAX_WIDTH = 64
#: Integer bits are bounded so that every value and every LSB is a normal float64.
MIN_INT_BITS = -512
MAX_INT_BITS = 512


class Quantization(enum.IntEnum):
    """What happens to dropped fractional bits (Xilinx ``ap_q_mode``)."""

    AP_RND = 0  # round to nearest, ties toward +inf
    AP_RND_ZERO = 1  # round to nearest, ties toward zero
    AP_RND_MIN_INF = 2  # round to nearest, ties toward -inf
    AP_RND_INF = 3  # round to nearest, ties away from zero
    AP_RND_CONV = 4  # round to nearest, ties to even
    AP_TRN = 5  # truncate toward -inf (floor); the default
    AP_TRN_ZERO = 6  # truncate toward zero


class Overflow(enum.IntEnum):
    """What happens to values outside the range (Xilinx ``ap_o_mode``)."""

    AP_SAT = 0  # saturate to max or min
    AP_SAT_ZERO = 1  # set to zero on overflow
    AP_SAT_SYM = 2  # saturate symmetrically: min is -max
    AP_WRAP = 3  # wrap around (keep low W bits; N bits saturated); the default
    AP_WRAP_SM = 4  # sign-magnitude wrap


def _mode(enum_cls, text: str, what: str):
    name = text.strip().upper()
    if not name.startswith("AP_"):
        name = "AP_" + name
    try:
        return enum_cls[name]
    except KeyError:
        names = [m.name for m in enum_cls]
        raise FormatError(
            f"unknown {what} mode {text.strip()!r}{closest(name, names)}; "
            f"allowed: {', '.join(names)}"
        ) from None


@dataclass(frozen=True)
class FixedType:
    """An ``ap_fixed``/``ap_ufixed`` format.

    Parameters
    ----------
    width : int
        W, total bits, 1..64.
    int_bits : int
        I, integer bits including the sign bit; may be negative or larger than W
        (bounded to [-512, 512] so every value is a normal double).
    signed : bool
        ``ap_fixed`` (True) or ``ap_ufixed`` (False).
    quantization, overflow : Quantization, Overflow
        Modes; strings such as ``"RND"`` or ``"AP_SAT"`` are accepted.
    sat_bits : int
        N, saturation bits for the wrap modes, 0..W.

    Raises
    ------
    FormatError
        If any field is out of its range, or AP_WRAP_SM is asked of an unsigned type.
    """

    width: int
    int_bits: int
    signed: bool = True
    quantization: Quantization = Quantization.AP_TRN
    overflow: Overflow = Overflow.AP_WRAP
    sat_bits: int = 0

    def __post_init__(self):
        if isinstance(self.quantization, str):
            object.__setattr__(self, "quantization", _mode(Quantization, self.quantization, "quantization"))
        if isinstance(self.overflow, str):
            object.__setattr__(self, "overflow", _mode(Overflow, self.overflow, "overflow"))
        object.__setattr__(self, "quantization", Quantization(self.quantization))
        object.__setattr__(self, "overflow", Overflow(self.overflow))
        for name in ("width", "int_bits", "sat_bits"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), error=FormatError))
        if not isinstance(self.signed, bool):
            raise FormatError(f"signed must be True or False, got {self.signed!r}")
        if not 1 <= self.width <= MAX_WIDTH:
            raise FormatError(f"width W={self.width} is out of range: 1 <= W <= {MAX_WIDTH}")
        if not MIN_INT_BITS <= self.int_bits <= MAX_INT_BITS:
            raise FormatError(
                f"int_bits I={self.int_bits} is out of range: {MIN_INT_BITS} <= I <= {MAX_INT_BITS}"
            )
        if not 0 <= self.sat_bits <= self.width:
            raise FormatError(
                f"sat_bits N={self.sat_bits} is out of range: 0 <= N <= W={self.width}"
            )
        if not self.signed and self.overflow == Overflow.AP_WRAP_SM:
            raise FormatError(
                f"AP_WRAP_SM is not allowed on unsigned types ({self.name}<...>): "
                "the Xilinx headers exit(1) at run time; use AP_WRAP or ap_fixed"
            )

    # ----------------------------------------------------------------- parsing
    _PATTERN = re.compile(r"^\s*(ap_ufixed|ap_fixed|ufixed|fixed|ap_uint|ap_int)\s*<(.*)>\s*$", re.I)

    @classmethod
    def parse(cls, text: "str | FixedType") -> "FixedType":
        """Parse ``ap_fixed<W,I[,Q[,O[,N]]]>``, ``ap_ufixed<...>``, ``ap_int<W>``, ``ap_uint<W>``.

        Mode names may omit the ``AP_`` prefix and are case-insensitive.

        Raises
        ------
        FormatError
            On anything that is not a valid format, naming the offending part.
        """
        if isinstance(text, FixedType):
            return text
        if not isinstance(text, str):
            raise FormatError(f"a format must be a FixedType or a string, got {text!r}")
        m = cls._PATTERN.match(text)
        if not m:
            raise FormatError(
                f"cannot parse format {text!r}: expected e.g. 'ap_fixed<16,6,AP_RND,AP_SAT>'"
            )
        kind = m.group(1).lower()
        args = [a.strip() for a in m.group(2).split(",")]
        signed = kind in ("ap_fixed", "fixed", "ap_int")
        if kind in ("ap_int", "ap_uint"):
            if len(args) != 1:
                raise FormatError(f"{kind}<W> takes exactly one argument, got {text!r}")
            args = [args[0], args[0]]
        if not 2 <= len(args) <= 5:
            raise FormatError(f"{text!r}: a fixed-point format takes 2 to 5 arguments (W, I, Q, O, N)")

        def integer(s: str, what: str) -> int:
            try:
                return int(s, 0)
            except ValueError:
                raise FormatError(f"{what} must be an integer in {text!r}, got {s!r}") from None

        width = integer(args[0], "W")
        int_bits = integer(args[1], "I")
        q = _mode(Quantization, args[2], "quantization") if len(args) > 2 else Quantization.AP_TRN
        o = _mode(Overflow, args[3], "overflow") if len(args) > 3 else Overflow.AP_WRAP
        n = integer(args[4], "N") if len(args) > 4 else 0
        return cls(width, int_bits, signed, q, o, n)

    def __str__(self) -> str:
        args = [str(self.width), str(self.int_bits)]
        tail = [self.quantization.name, self.overflow.name, str(self.sat_bits)]
        # Drop trailing defaults only; the result parses back to the same format.
        defaults = ["AP_TRN", "AP_WRAP", "0"]
        while tail and tail[-1] == defaults[len(tail) - 1]:
            tail.pop()
        return f"{self.name}<{','.join(args + tail)}>"

    def __repr__(self) -> str:
        return f"FixedType.parse({str(self)!r})"

    # ------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        return "ap_fixed" if self.signed else "ap_ufixed"

    @property
    def frac_bits(self) -> int:
        """F = W - I (may be negative)."""
        return self.width - self.int_bits

    @property
    def raw_min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac_bits

    @property
    def min(self) -> float:
        return float(self.raw_min) * self.lsb

    @property
    def max(self) -> float:
        return float(self.raw_max) * self.lsb

    @property
    def raw_dtype(self):
        """numpy dtype of raw arrays: int64, except uint64 for 64-bit unsigned formats."""
        import numpy as np

        return np.dtype(np.uint64) if (not self.signed and self.width == 64) else np.dtype(np.int64)

    def replace(self, **changes) -> "FixedType":
        """A copy with some fields changed (validated)."""
        fields = dict(
            width=self.width, int_bits=self.int_bits, signed=self.signed,
            quantization=self.quantization, overflow=self.overflow, sat_bits=self.sat_bits,
        )
        fields.update(changes)
        return FixedType(**fields)

    def is_default_modes(self) -> bool:
        return (self.quantization == Quantization.AP_TRN and self.overflow == Overflow.AP_WRAP
                and self.sat_bits == 0)


def as_format(fmt: "str | FixedType") -> FixedType:
    """Accept a :class:`FixedType` or its text."""
    return FixedType.parse(fmt)


# --------------------------------------------------------------- result types
def _result(width: int, int_bits: int, signed: bool, op: str) -> FixedType:
    if width > MAX_WIDTH:
        raise FormatError(
            f"the exact result of {op} needs W={width} bits; fixsim stores at most "
            f"{MAX_WIDTH} and refuses rather than lose bits (narrow the operands)"
        )
    if not MIN_INT_BITS <= int_bits <= MAX_INT_BITS:
        raise FormatError(f"the result of {op} has I={int_bits}, outside [{MIN_INT_BITS}, {MAX_INT_BITS}]")
    return FixedType(width, int_bits, signed)


def product_type(a: FixedType, b: FixedType) -> FixedType:
    """Type of ``a * b`` in the headers: ``<W1+W2, I1+I2, S1|S2>``, TRN/WRAP."""
    return _result(a.width + b.width, a.int_bits + b.int_bits, a.signed or b.signed, f"{a} * {b}")


def _sum_int_bits(a: FixedType, b: FixedType) -> int:
    return max(a.int_bits + (b.signed and not a.signed), b.int_bits + (a.signed and not b.signed)) + 1


def sum_type(a: FixedType, b: FixedType) -> FixedType:
    """Type of ``a + b``: I = max(I1 + (S2 and not S1), I2 + (S1 and not S2)) + 1, F = max(F1, F2)."""
    i = _sum_int_bits(a, b)
    return _result(i + max(a.frac_bits, b.frac_bits), i, a.signed or b.signed, f"{a} + {b}")


def difference_type(a: FixedType, b: FixedType) -> FixedType:
    """Type of ``a - b``: as ``a + b`` but always signed."""
    i = _sum_int_bits(a, b)
    return _result(i + max(a.frac_bits, b.frac_bits), i, True, f"{a} - {b}")


def quotient_type(a: FixedType, b: FixedType) -> FixedType:
    """Type of ``a / b``: ``<S2 + W1 + max(F2, 0), S2 + I1 + F2, S1|S2>``."""
    f2 = b.frac_bits
    return _result(b.signed + a.width + max(f2, 0), b.signed + a.int_bits + f2,
                   a.signed or b.signed, f"{a} / {b}")
