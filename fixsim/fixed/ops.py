"""Public exact operations on raw mantissa arrays.

Each function validates its arguments, converts them to plain arrays, calls one private
kernel and wraps the result (the stumpy discipline).  Raw arrays are ``int64``, except
``uint64`` for 64-bit unsigned formats (see :attr:`FixedType.raw_dtype`).

Widths: every result is exact or refused.  Products, sums, differences and quotients
whose exact type needs more than 64 bits raise :class:`~fixsim.errors.FormatError`
(the headers would compute them exactly with multi-word ``ap_private``; fixsim stores
at most 64 bits and never silently drops any).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import FixsimError, FormatError, InputError, UndefinedInHeaders
from . import kernels as K
from . import specialized as S
from .format import (FixedType, Overflow, Quantization, as_format, difference_type,
                     product_type, quotient_type, sum_type)


class FixsimWarning(UserWarning):
    """Data the hardware can see but that deserves attention (NaN, inf, overflow)."""


# ------------------------------------------------------------------ helpers
def _args(fmt: FixedType):
    return (fmt.width, fmt.int_bits, fmt.signed, int(fmt.quantization), int(fmt.overflow),
            fmt.sat_bits)


def check_raw(raw, fmt: "FixedType | str", name: str = "raw") -> np.ndarray:
    """Validate raw mantissas for ``fmt``: integers within the format's raw range.

    Returns a C-contiguous array of ``fmt.raw_dtype`` with the input's shape.

    Raises
    ------
    InputError
        Non-integer data, or a value outside ``[raw_min, raw_max]``.
    """
    fmt = as_format(fmt)
    arr = np.asarray(raw)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise InputError(f"{name} must be an integer array of raw mantissas, got dtype {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < fmt.raw_min or hi > fmt.raw_max:
            bad = lo if lo < fmt.raw_min else hi
            raise InputError(
                f"{name} value {bad} is outside the raw range of {fmt}: "
                f"[{fmt.raw_min}, {fmt.raw_max}]")
    return np.ascontiguousarray(arr.astype(fmt.raw_dtype, copy=False))


def _flat_i64(arr: np.ndarray) -> np.ndarray:
    """Same 64-bit words as int64, 1-D (uint64 raws keep their bits)."""
    a = np.ascontiguousarray(arr).reshape(-1)
    return a.view(np.int64) if a.dtype == np.uint64 else a.astype(np.int64, copy=False)


def _wrap_out(out_i64: np.ndarray, fmt: FixedType, shape) -> np.ndarray:
    out = out_i64.view(np.uint64) if fmt.raw_dtype == np.uint64 else out_i64
    return out.reshape(shape)


def _warn(status: np.ndarray, fmt: FixedType, what: str, n_ovf: int | None = None) -> None:
    n_nan = int(np.count_nonzero(status & K.ST_NAN))
    n_inf = int(np.count_nonzero(status & K.ST_INF))
    if n_ovf is None:  # the headers' overflow flag, NaN and inf counted apart
        n_ovf = int(np.count_nonzero(((status & K.ST_OVERFLOW) != 0)
                                     & ((status & (K.ST_NAN | K.ST_INF)) == 0)))
    if n_nan or n_inf or n_ovf:
        _warn_counts(fmt, what, n_nan, n_inf, n_ovf)


def _fast_quantize_ok(fmt: FixedType) -> bool:
    """The semantic double quantizer covers every Q with SAT, SAT_ZERO, SAT_SYM, WRAP (N=0)."""
    if not fmt.signed and fmt.width == 64:
        return False
    return (fmt.overflow in (Overflow.AP_SAT, Overflow.AP_SAT_ZERO, Overflow.AP_SAT_SYM)
            or (fmt.overflow == Overflow.AP_WRAP and fmt.sat_bits == 0))


def _warn_counts(fmt: FixedType, what: str, n_nan: int, n_inf: int, n_ovf: int) -> None:
    parts = []
    if n_nan:
        parts.append(f"{n_nan} NaN (treated as +-2^1024 by sign, as the headers do)")
    if n_inf:
        parts.append(f"{n_inf} inf")
    if n_ovf:
        parts.append(f"{n_ovf} out of range ({fmt.overflow.name} applied)")
    warnings.warn(f"{what} into {fmt}: " + ", ".join(parts), FixsimWarning, stacklevel=3)


def _undefined_pair(src: FixedType, dst: FixedType) -> bool:
    """True where ``dst = src`` makes the headers read a bit beyond the source MSB.

    ``operator=`` evaluates ``get_bit(op.V, F2-F-1)`` whenever it rounds, and ap_private
    asserts when that index is >= W2 (e.g. ap_fixed<16,0> into ap_fixed<19,20,AP_RND_INF>).
    """
    sh = src.frac_bits - dst.frac_bits
    rounds = not (dst.quantization == Quantization.AP_TRN
                  or (dst.quantization == Quantization.AP_TRN_ZERO and not src.signed))
    return rounds and sh > src.width


# ------------------------------------------------------------- conversion
def quantize(values, fmt: "FixedType | str", *, warn: bool = True) -> np.ndarray:
    """Convert numbers into ``fmt`` exactly as the ap_fixed constructors do.

    float64 values follow ``ap_fixed(double)`` (IEEE fields decoded into an exact integer,
    quantized once); float32 values are widened to double first (as ``ap_fixed(float)``);
    integer arrays follow the ``long long`` constructor.  NaN and inf behave as
    +-2^1024 (saturate, or wrap to 0), -0.0 gives 0.

    Parameters
    ----------
    values : array_like of float64, float32 or integers, any shape
    fmt : FixedType or str
    warn : bool
        Emit a :class:`FixsimWarning` counting NaN, inf and finite inputs whose rounded
        value lies outside the format's range (the overflow mode is applied to them).

    Returns
    -------
    numpy.ndarray
        Raw mantissas, same shape, ``fmt.raw_dtype``.

    Raises
    ------
    FormatError
        Invalid format text.
    InputError
        Non-numeric input.

    Examples
    --------
    >>> quantize([0.1, -0.15625], "ap_fixed<8,4,AP_RND>").tolist()
    [2, -2]
    """
    fmt = as_format(fmt)
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "fiub":
        raise InputError(f"cannot quantize values of dtype {arr.dtype}: expected numbers")
    shape = arr.shape
    if arr.dtype.kind in "iub":
        src = FixedType(64, 64, arr.dtype.kind == "i")
        return convert(arr.astype(np.uint64 if arr.dtype.kind == "u" else np.int64), src, fmt)
    flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)  # float32 -> double exact
    out = np.empty(flat.size, np.int64)
    if _fast_quantize_ok(fmt):
        sym = fmt.overflow == Overflow.AP_SAT_SYM and fmt.signed and fmt.width > 1
        # elementwise, so parallel is order-free; worth it once the array is memory-bound
        kernel = S.quantizer(int(fmt.quantization), int(fmt.overflow), sym, flat.size >= 1 << 17)
        n_nan, n_inf, n_ovf, _ = kernel(flat.view(np.uint64), fmt.frac_bits, fmt.raw_min,
                                        fmt.raw_max, 64 - fmt.width, fmt.signed, out)
        if warn and (n_nan or n_inf or n_ovf):
            _warn_counts(fmt, "quantize", n_nan, n_inf, n_ovf)
        return _wrap_out(out, fmt, shape)
    status = np.empty(flat.size, np.int64)
    K._quantize_doubles(flat.view(np.uint64), *_args(fmt), out, status)
    if warn:
        _warn(status, fmt, "quantize")
    return _wrap_out(out, fmt, shape)


def to_float(raw, fmt: "FixedType | str") -> np.ndarray:
    """Raw mantissas to float64, as ``to_double()``: exact to 53 bits, ties-to-even beyond.

    Raises
    ------
    InputError
        Raw values outside the format's range.
    """
    fmt = as_format(fmt)
    arr = check_raw(raw, fmt)
    # int64/uint64 -> float64 rounds to nearest-even, and scaling by 2^-F is exact because
    # formats keep every value in the normal double range.
    return np.ldexp(arr.astype(np.float64), -fmt.frac_bits)


def _lossless(src: FixedType, dst: FixedType) -> bool:
    """``dst`` holds every value of ``src`` exactly, away from dst's minimum (AP_SAT_SYM's
    rule may move that pattern), both within int64: ``dst = src`` is a left shift."""
    if dst.frac_bits < src.frac_bits or src.width > 63 or dst.width > 63:
        return False
    if src.signed:
        return dst.signed and dst.int_bits > src.int_bits
    return dst.int_bits >= src.int_bits + (1 if dst.signed else 0)


def check_convertible(src_fmt: "FixedType | str", dst_fmt: "FixedType | str") -> None:
    """Check that ``dst = src`` is defined by the headers, without converting anything.

    Raises
    ------
    UndefinedInHeaders
        Where the headers assert instead of defining a result (see :func:`_undefined_pair`).
    """
    src, dst = as_format(src_fmt), as_format(dst_fmt)
    if _undefined_pair(src, dst):
        raise UndefinedInHeaders(
            f"converting {src} into {dst} is undefined in the Xilinx headers: rounding "
            f"reads bit {src.frac_bits - dst.frac_bits - 1} of a {src.width}-bit source "
            "('Attempting to read bit beyond MSB')")


def convert(raw, src_fmt: "FixedType | str", dst_fmt: "FixedType | str", *,
            warn: bool = False) -> np.ndarray:
    """Format-to-format conversion (``dst = src`` in C++), exact.

    Raises
    ------
    UndefinedInHeaders
        Where the headers assert instead of defining a result (see :func:`_undefined_pair`).
    InputError
        Raw values outside the source range.
    """
    src, dst = as_format(src_fmt), as_format(dst_fmt)
    check_convertible(src, dst)
    arr = check_raw(raw, src)
    if _lossless(src, dst):  # every value is exact in dst: a shift, no kernel to compile
        out = _flat_i64(arr) << np.int64(dst.frac_bits - src.frac_bits)
        return _wrap_out(out, dst, arr.shape)
    flat = _flat_i64(arr)
    out = np.empty(flat.size, np.int64)
    status = np.empty(flat.size, np.int64)
    K._convert_array(flat, src.width, src.int_bits, src.signed, *_args(dst), out, status)
    if warn:
        _warn(status, dst, "convert")
    return _wrap_out(out, dst, arr.shape)


# ------------------------------------------------------------- arithmetic
def _binary_operands(a, fa, b, fb):
    fa, fb = as_format(fa), as_format(fb)
    a = check_raw(a, fa, "a")
    b = check_raw(b, fb, "b")
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        raise InputError(f"operand shapes {np.shape(a)} and {np.shape(b)} do not broadcast") from None
    return fa, fb, a, b


def multiply(a, fa, b, fb) -> tuple[np.ndarray, FixedType]:
    """Exact ``a * b``; returns (raw, result format ``<W1+W2, I1+I2, S1|S2>``)."""
    fa, fb, a, b = _binary_operands(a, fa, b, fb)
    rt = product_type(fa, fb)
    out = np.empty(a.size, np.int64)
    K._multiply(_flat_i64(a), _flat_i64(b), rt.width, rt.signed, out)
    return _wrap_out(out, rt, a.shape), rt


def _add_sub(a, fa, b, fb, negate: bool):
    fa, fb, a, b = _binary_operands(a, fa, b, fb)
    rt = difference_type(fa, fb) if negate else sum_type(fa, fb)
    out = np.empty(a.size, np.int64)
    K._add_aligned(_flat_i64(a), rt.frac_bits - fa.frac_bits, _flat_i64(b),
                   rt.frac_bits - fb.frac_bits, negate, rt.width, rt.signed, out)
    return _wrap_out(out, rt, a.shape), rt


def add(a, fa, b, fb) -> tuple[np.ndarray, FixedType]:
    """Exact ``a + b`` in the headers' sum type; returns (raw, format)."""
    return _add_sub(a, fa, b, fb, False)


def subtract(a, fa, b, fb) -> tuple[np.ndarray, FixedType]:
    """Exact ``a - b`` in the headers' (always signed) difference type; returns (raw, format)."""
    return _add_sub(a, fa, b, fb, True)


def divide(a, fa, b, fb) -> tuple[np.ndarray, FixedType]:
    """``a / b`` as the headers define it (C simulation, not ``__SC_COMPATIBLE__``).

    The dividend's raw value is shifted left by ``max(F2, 0)`` and divided by the
    divisor's raw value, truncating toward zero, in the headers' working register of
    ``_W1 = max(W1 + max(F2,0) + (S2 and not S1), W2 + (S1 and not S2))`` bits (so the
    quotient wraps there first: ``-8 / -1`` in ``ap_fixed<4,2>`` gives -32); the result type is
    ``<S2 + W1 + max(F2,0), S2 + I1 + F2, S1|S2>`` (so only F1 fractional bits survive).

    Raises
    ------
    InputError
        Division by zero (the C simulation traps with SIGFPE).
    FormatError
        If the result or the shifted dividend would need more than 64 bits.
    """
    fa, fb, a, b = _binary_operands(a, fa, b, fb)
    rt = quotient_type(fa, fb)
    shift = max(fb.frac_bits, 0)
    # The headers' working register: _W1 = max(W1 + max(F2,0) + (S2 and not S1), W2 + (S1 and not S2)).
    w1 = max(fa.width + shift + (fb.signed and not fa.signed), fb.width + (fa.signed and not fb.signed))
    if fa.width + shift + 1 > 63 or fb.width > 63 or w1 > 64:
        raise FormatError(f"{fa} / {fb}: the shifted dividend needs {fa.width + shift + 1} bits; "
                          "fixsim divides within 63 bits")
    if np.any(b == 0):
        raise InputError(f"division by zero in {int(np.count_nonzero(b == 0))} element(s)")
    out = np.empty(a.size, np.int64)
    status = np.zeros(a.size, np.int64)
    K._divide(_flat_i64(a), shift, _flat_i64(b), w1, fa.signed or fb.signed, rt.width, rt.signed,
              out, status)
    return _wrap_out(out, rt, a.shape), rt


def assign(raw, src_fmt, dst_fmt) -> np.ndarray:
    """``dst = src`` for a wider result into a destination format (same as :func:`convert`)."""
    return convert(raw, src_fmt, dst_fmt)


def mac(acc, acc_fmt, a, fa, b, fb) -> np.ndarray:
    """One ``acc += a * b`` step, elementwise: exact product, exact sum, then ``acc``'s modes."""
    acc_fmt = as_format(acc_fmt)
    prod, pt = multiply(a, fa, b, fb)
    acc = check_raw(acc, acc_fmt, "acc")
    s, st = add(acc, acc_fmt, prod, pt)
    return convert(s, st, acc_fmt)


# ----------------------------------------------------------------- matmul
def _fast_mac_ok(pt: FixedType, acc: FixedType, st: FixedType) -> bool:
    return (st.width <= 63 and not (acc.width == 64 and not acc.signed)
            and (acc.overflow in (Overflow.AP_SAT, Overflow.AP_SAT_ZERO, Overflow.AP_SAT_SYM)
                 or (acc.overflow == Overflow.AP_WRAP and acc.sat_bits == 0)))


def _gemm_exact_ok(a: np.ndarray, b: np.ndarray, init: np.ndarray, pt: FixedType,
                   acc: FixedType) -> bool:
    """True when float64 GEMM of the mantissas gives the exact sum and no step can differ.

    Needs: no rounding at any step (F_acc >= F_prod), a wrapping accumulator (N = 0) or one
    that provably cannot overflow, and every partial sum below 2^53 in magnitude.
    """
    if acc.frac_bits < pt.frac_bits:
        return False
    k = a.shape[1]
    amax = int(np.abs(a).max()) if a.size else 0
    bmax = int(np.abs(b).max()) if b.size else 0
    imax = int(np.abs(init).max()) if init.size else 0
    shift = acc.frac_bits - pt.frac_bits
    bound = k * amax * bmax  # bound on |sum of products| on the product grid
    if (bound << shift) + imax >= 2 ** 53 or bound >= 2 ** 53:
        return False
    if acc.overflow == Overflow.AP_WRAP and acc.sat_bits == 0:
        return True
    # A saturating accumulator equals the exact sum when no partial sum can leave its range.
    return (bound << shift) + imax <= min(acc.raw_max, -acc.raw_min)


def matmul(a, fa, b, fb, acc_fmt, init=None, *, parallel: "bool | None" = None,
           method: str = "auto") -> np.ndarray:
    """``C[i,j]``: ``acc = init[i,j]; for k: acc += a[i,k] * b[k,j]`` in ``acc_fmt``.

    The k loop runs in order, as a sequential HLS MAC does, so saturating and
    sign/parity-rounding accumulators are bit-exact.  Paths, chosen by ``method="auto"``:

    - ``"gemm"``: float64 accumulation of the mantissas (a vectorized Numba loop), used only
      when provably exact (see :func:`_gemm_exact_ok`), then wrapped into the accumulator;
    - ``"fast"``: a mode-specialized Numba loop with the semantic requantizer
      (SAT/SAT_ZERO/SAT_SYM or WRAP without N bits, sum type within 63 bits);
    - ``"generic"``: a Numba loop through the full header port (any mode, any N).

    Parameters
    ----------
    a : (M, K) raw in ``fa``;  b : (K, N) raw in ``fb``;  init : (M, N) raw in ``acc_fmt``
        (default 0).
    parallel : bool or None
        Rows in parallel (each output keeps its own k order, so results are identical);
        None chooses by size (parallel from 2^22 multiply-accumulates).

    Returns
    -------
    numpy.ndarray (M, N) of ``acc_fmt.raw_dtype``
    """
    fa, fb, acc_fmt = as_format(fa), as_format(fb), as_format(acc_fmt)
    a = check_raw(a, fa, "a")
    b = check_raw(b, fb, "b")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise InputError(f"matmul needs (M,K) x (K,N) operands, got {a.shape} and {b.shape}")
    m, n = a.shape[0], b.shape[1]
    init = (np.zeros((m, n), acc_fmt.raw_dtype) if init is None
            else check_raw(init, acc_fmt, "init"))
    if init.shape != (m, n):
        raise InputError(f"init must have shape {(m, n)}, got {init.shape}")
    pt = product_type(fa, fb)
    st = sum_type(acc_fmt, pt)
    if method not in ("auto", "gemm", "fast", "generic"):
        raise InputError(f"unknown matmul method {method!r}; allowed: auto, gemm, fast, generic")
    if pt.width > 63 or (not pt.signed and pt.width == 64):
        method = "generic" if method == "auto" else method
    a64, b64 = a.astype(np.int64), b.astype(np.int64)  # operands are < 64-bit here
    i64 = _flat_i64(init).reshape(m, n)
    if method in ("auto", "gemm") and _gemm_exact_ok(a64, b64, i64, pt, acc_fmt):
        exact = np.empty((m, n), np.int64)
        gemm = S.exact_gemm_parallel if (parallel or (parallel is None and m * n * a.shape[1] >= 1 << 22)) \
            else S.exact_gemm
        gemm(a64.astype(np.float64), np.ascontiguousarray(b64, dtype=np.float64), exact)
        total = (exact << (acc_fmt.frac_bits - pt.frac_bits)) + i64
        out = np.empty(total.size, np.int64)
        K._requant_array(total.reshape(-1), 0, acc_fmt.raw_min, acc_fmt.raw_max,
                         int(acc_fmt.quantization), int(acc_fmt.overflow), False, False,
                         acc_fmt.width, acc_fmt.signed, out)
        return out.reshape(m, n)
    if method == "gemm":
        raise FormatError("the float64 GEMM path is not provably exact for these formats/values")
    if method in ("auto", "fast") and _fast_mac_ok(pt, acc_fmt, st):
        out = np.empty((m, n), np.int64)
        # SAT_SYM's minimum is the pattern 10..01: lo + 1, except for W = 1 where it is lo.
        sym = acc_fmt.overflow == Overflow.AP_SAT_SYM and acc_fmt.signed and acc_fmt.width > 1
        if parallel is None:
            parallel = m * n * a.shape[1] >= 1 << 22
        kernel = S.mac_kernel(int(acc_fmt.quantization), int(acc_fmt.overflow), sym,
                              sym and st.signed, bool(parallel))
        kernel(a64, np.ascontiguousarray(b64), i64.copy(), st.frac_bits - acc_fmt.frac_bits,
               st.frac_bits - pt.frac_bits, st.frac_bits - acc_fmt.frac_bits, acc_fmt.raw_min,
               acc_fmt.raw_max, 64 - acc_fmt.width, acc_fmt.signed, out)
        return out
    if method == "fast":
        raise FormatError(f"the fast MAC path does not cover accumulator {acc_fmt}")
    out = np.empty((m, n), np.int64)
    status = np.empty((m, n), np.int64)
    K._mac_generic(a64, b64, i64, pt.width, pt.int_bits, pt.signed, acc_fmt.width,
                   acc_fmt.int_bits, acc_fmt.signed, int(acc_fmt.quantization),
                   int(acc_fmt.overflow), acc_fmt.sat_bits, st.width, st.int_bits, st.signed,
                   out, status)
    return _wrap_out(out.reshape(-1), acc_fmt, (m, n))


__all__ = ["quantize", "to_float", "convert", "multiply", "add", "subtract", "divide",
           "assign", "mac", "matmul", "check_raw", "FixsimWarning", "FixsimError"]
