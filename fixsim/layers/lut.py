"""Lookup-table activations: sigmoid and tanh (one table), softmax (an exp and an inverse
table), exact on raw mantissas and as float64 twins.

The tables are built exactly as hls4ml 1.3.0's ``nnet_activation.h`` builds them (and as
``rtl/fixsim_lut_activation.h`` / ``rtl/fixsim_softmax.h`` do): single-precision C
arithmetic with the C library's ``expf``/``tanhf`` (called here through ``ctypes``, so the
float values are those the compiled C++ computes on this machine), each entry then set by
the table format's ``ap_fixed(float)`` constructor (:func:`fixsim.fixed.quantize`).
docs/datapath.md, "Lookup-table activations", states every step.

sigmoid/tanh, table of N entries over ``[-R, R)`` (hls4ml: R = 8 sigmoid, 4 tanh)::

    entry i = T(f(float(2*R*(i - N/2) / N)))           sampled at the left edge
    q = trunc(x * N / (2R))   ("trunc", hls4ml; on x's grid if x's LSB exceeds 1)
        or floor(x * N / (2R))   ("floor")
    y = R_out(entry[clamp(q + N//2, 0, N - 1)])

softmax over C values (hls4ml's "latency" and "stable" implementations)::

    e_c = A(exp_table[top bits of x_c])          latency
    e_c = A(exp_table[top bits of D(max - x_c)]) stable (table of exp(-v))
    s = V(tree sum of the e_c, each sum converted to A)
    y_c = R_out(e_c * inv_table[top bits of s])

>>> t = lut_table("sigmoid", 8, 8, FixedType.parse("ap_fixed<18,8>"))
>>> t.tolist()  # sigmoid(-8), sigmoid(-6), ..., sigmoid(6) with 10 fraction bits
[0, 2, 18, 122, 512, 901, 1005, 1021]
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import numpy as np
from numba import njit

from ..errors import InputError, ToolError
from ..fixed import FixedType, convert, quantize
from ..fixed.kernels import _mask
from ._kernels import _cvt

#: Functions of the one-table activations.
LUT_FUNCTIONS = ("sigmoid", "tanh")
#: How an input value becomes a table index: truncation toward zero (hls4ml's C ``int``
#: conversion) or floor of ``x * N / (2R)``.
INDEX_MODES = ("trunc", "floor")
#: hls4ml's softmax implementations that fixsim models.
SOFTMAX_IMPLEMENTATIONS = ("stable", "latency")
#: Largest table (entries): every table is built entry by entry through the C library.
MAX_TABLE_SIZE = 1 << 16


@functools.cache
def _libm():
    """The C math library whose ``expf``/``tanhf`` the compiled C++ calls."""
    name = ctypes.util.find_library("m")
    try:
        lib = ctypes.CDLL(name) if name else ctypes.CDLL(None)
        for fn in ("expf", "tanhf"):
            getattr(lib, fn).restype = ctypes.c_float
            getattr(lib, fn).argtypes = [ctypes.c_float]
    except (OSError, AttributeError) as exc:
        raise ToolError(f"cannot load the C math library (expf, tanhf) for the activation "
                        f"tables: {exc}") from None
    return lib


def _f32(v) -> np.float32:
    return np.float32(v)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, np.int64)
    a.flags.writeable = False
    return a


# ---------------------------------------------------------------- sigmoid / tanh tables
def lut_inputs(size: int, rng: int) -> np.ndarray:
    """The float32 sample points ``float(2*R*(i - float(N)/2.0) / float(N))`` (double math)."""
    n = float(_f32(size))
    return np.array([_f32(2 * float(rng) * (i - n / 2.0) / n) for i in range(size)], np.float32)


@functools.lru_cache(maxsize=64)
def lut_table(function: str, size: int, rng: int, fmt: FixedType) -> np.ndarray:
    """Raw entries (int64, read-only) of a sigmoid or tanh table in ``fmt``.

    sigmoid: ``float(1.0 / float(1 + expf(-v)))`` (hls4ml's ``sigmoid_fcn_float``);
    tanh: ``tanhf(v)``, for the sample points :func:`lut_inputs`.
    """
    if function not in LUT_FUNCTIONS:
        raise InputError(f"table function {function!r} is not one of {', '.join(LUT_FUNCTIONS)}")
    m = _libm()
    vals = []
    for v in lut_inputs(size, rng):
        if function == "sigmoid":
            e = _f32(m.expf(-float(v)))
            vals.append(float(_f32(1.0 / float(_f32(1) + e))))
        else:
            vals.append(float(_f32(m.tanhf(float(v)))))
    return _frozen(quantize(np.array(vals, np.float64), fmt, warn=False))


def index_scale(fmt: FixedType, size: int, rng: int) -> tuple[int, int]:
    """``(mul, den)`` with ``x * N / (2R) = raw * mul / den`` for raw mantissas of ``fmt``."""
    f = fmt.frac_bits
    return size << max(0, -f), (2 * rng) << max(0, f)


@njit(cache=True, nogil=True)
def _tdiv(a, b):
    """a / b cut toward zero (b > 0), as C's integer division."""
    if a < 0:
        return -((-a) // b)
    return a // b


@njit(cache=True, nogil=True)
def _lut_lookup(x, n, d, f, floor, table, out):
    """out[i] = table[clamp(q + n//2, 0, n_t - 1)] for raw x in a format with f fraction bits.

    floor: q = floor(x * n / (d * 2^f)), exact.  trunc (hls4ml): the ap_fixed quotient
    ``x * n / d`` keeps x's LSB 2^-f and is cut toward zero there, then toward zero to an
    integer: q = trunc(trunc(X*n / d) / 2^f), or trunc(X*n / d) * 2^-f when f < 0.
    """
    n_t = table.shape[0]
    half = n // 2
    for i in range(x.shape[0]):
        p = x[i] * n
        if floor:
            if f >= 0:
                q = p // (d << f)
            else:
                q = (p << -f) // d
        else:
            q = _tdiv(p, d)
            if f >= 0:
                q = _tdiv(q, np.int64(1) << f)
            else:
                q = q << -f
        k = q + half
        if k < 0:
            k = 0
        elif k > n_t - 1:
            k = n_t - 1
        out[i] = table[k]


def lut_activation(x, in_format: FixedType, table: np.ndarray, rng: int, index: str) -> np.ndarray:
    """Exact table activation of raw mantissas ``x`` in ``in_format`` (any shape, int64).

    ``table`` holds the entries already converted to the output format.
    """
    if index not in INDEX_MODES:
        raise InputError(f"index {index!r} is not one of {', '.join(INDEX_MODES)}")
    arr = np.ascontiguousarray(x, np.int64)
    out = np.empty(arr.size, np.int64)
    _lut_lookup(arr.reshape(-1), len(table), 2 * rng, in_format.frac_bits, index == "floor",
                np.ascontiguousarray(table, np.int64), out)
    return out.reshape(arr.shape)


def lut_counted(x, in_format: FixedType, table_raw: np.ndarray, table_format: FixedType,
                result: FixedType, rng: int, index: str, events: dict) -> np.ndarray:
    """:func:`lut_activation` with its events counted (numpy; the same bits): ``index``
    (an input whose index computation drops a fraction: rounded; outside the table's
    range, so the index is clamped: saturated) and ``result`` (the entry, in the table
    format, into the result format, once per output).  ``table_raw``: :func:`lut_table`.
    """
    from ._counting import add_events, convert_events, slot

    arr = np.asarray(x, np.int64)
    n, d, f = len(table_raw), 2 * rng, in_format.frac_bits
    p = arr * n
    if index == "floor":
        num, den = (p, d << f) if f >= 0 else (p << -f, np.int64(d))
        q = num // den
        off = num != q * den
    else:  # hls4ml: toward zero on x's grid, then toward zero to an integer
        q = np.sign(p) * (np.abs(p) // d)
        off = np.abs(p) % d != 0
        if f >= 0:
            off |= np.abs(q) % (1 << f) != 0
            q = np.sign(q) * (np.abs(q) >> f)
        else:
            q = q << -f
    k = q + n // 2
    clamped = (k < 0) | (k > n - 1)
    add_events(slot(events, "index"), {"n": int(arr.size), "rounded": int(off.sum()),
                                       "saturated": int(clamped.sum()), "wrapped": 0})
    entries = np.asarray(table_raw, np.int64)[np.clip(k, 0, n - 1)]
    return convert_events(entries, table_format, result, slot(events, "result"))


def lut_float(x, function: str) -> np.ndarray:
    """The true function in float64: ``1 / (1 + exp(-x))`` or ``tanh(x)``."""
    x = np.asarray(x, np.float64)
    if function == "sigmoid":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))
    if function == "tanh":
        return np.tanh(x)
    raise InputError(f"table function {function!r} is not one of {', '.join(LUT_FUNCTIONS)}")


# ---------------------------------------------------------------- softmax tables
def index_bits(size: int) -> int:
    """hls4ml's ``ceillog2(size)``: address bits of a table (sizes are powers of two >= 2)."""
    return max(1, (size - 1).bit_length())


def top_bits_values(fmt: FixedType, size: int) -> np.ndarray:
    """``float(x)`` of the value of ``fmt`` whose top ``log2(size)`` bits are ``i`` (the
    rest zero), for every index ``i`` (hls4ml's ``softmax_real_val_from_idx``)."""
    n = index_bits(size)
    raw = np.arange(size, dtype=np.int64) << np.int64(fmt.width - n)
    if fmt.signed:
        raw = np.where(raw >= (1 << (fmt.width - 1)), raw - (1 << fmt.width), raw)
    # exact: at most 16 significant bits, exponents checked by the spec to be normal floats
    return (raw.astype(np.float64) * 2.0 ** -fmt.frac_bits).astype(np.float32)


@functools.lru_cache(maxsize=64)
def exp_table(index_format: FixedType, size: int, exp_scale: float, negative: bool,
              fmt: FixedType) -> np.ndarray:
    """Raw entries of softmax's exp table: ``T(expf(+-(float(x_i) * exp_scale)))``."""
    m = _libm()
    scale = _f32(exp_scale)
    vals = []
    with np.errstate(over="ignore"):
        for v in top_bits_values(index_format, size):
            a = _f32(v * scale)
            vals.append(float(_f32(m.expf(float(-a if negative else a)))))
    return _frozen(quantize(np.array(vals, np.float64), fmt, warn=False))


@functools.lru_cache(maxsize=64)
def inv_table(index_format: FixedType, size: int, fmt: FixedType) -> np.ndarray:
    """Raw entries of softmax's inverse table: ``T(1 / float(x_i))`` in float (1/0 = inf)."""
    with np.errstate(divide="ignore"):
        vals = _f32(1) / top_bits_values(index_format, size)
    return _frozen(quantize(vals.astype(np.float64), fmt, warn=False))


def reduce_schedule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """hls4ml's balanced adder tree (``nnet::reduce``) over ``n`` leaves as a list of pair
    sums: node ``n + k`` = node ``left[k]`` + node ``right[k]``; the root is the last one."""
    left: list[int] = []
    right: list[int] = []

    def rec(lo: int, cnt: int) -> int:
        if cnt == 1:
            return lo
        if cnt == 2:
            a, b = lo, lo + 1
        else:
            left_n = 1 << ((cnt - 1).bit_length() - 1)  # pow2(floorlog2(cnt - 1))
            a, b = rec(lo, left_n), rec(lo + left_n, cnt - left_n)
        left.append(a)
        right.append(b)
        return n + len(left) - 1

    rec(0, n)
    return np.array(left, np.int64), np.array(right, np.int64)


@njit(cache=True, nogil=True)
def _softmax(x, stable, c_norm, norm_w, exp_shift, exp_acc, left, right, c_sum, c_inv_inp,
             inv_w, inv_shift, invt, c_res, out):
    """Softmax over axis 1 of x (N, C, P) raw: exp lookup, adder tree in A, inverse lookup,
    product into R (docs/datapath.md).  ``norm_w`` is the width of the exp index format."""
    n_n, n_c, n_p = x.shape
    n_ops = left.shape[0]
    buf = np.empty(n_c + n_ops, np.int64)
    m_norm = _mask(norm_w)
    m_inv = _mask(inv_w)
    for n in range(n_n):
        for p in range(n_p):
            top = x[n, 0, p]
            if stable:
                for c in range(1, n_c):
                    if x[n, c, p] > top:
                        top = x[n, c, p]
            for c in range(n_c):
                v = x[n, c, p]
                if stable:
                    v = _cvt(top - v, c_norm)
                k = (np.uint64(v) & m_norm) >> np.uint64(exp_shift)
                buf[c] = exp_acc[np.int64(k)]
            for j in range(n_ops):
                buf[n_c + j] = _cvt(buf[left[j]] + buf[right[j]], c_sum)
            s = _cvt(buf[n_c + n_ops - 1], c_inv_inp)
            k = (np.uint64(s) & m_inv) >> np.uint64(inv_shift)
            inv = invt[np.int64(k)]
            for c in range(n_c):
                out[n, c, p] = _cvt(buf[c] * inv, c_res)


def softmax_float(x) -> np.ndarray:
    """The true softmax over axis 1 (channels; all features of an (N, F) batch), float64."""
    x = np.asarray(x, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(x - np.max(x, axis=1, keepdims=True))
        return e / np.sum(e, axis=1, keepdims=True)


def converted(table: np.ndarray, src: FixedType, dst: FixedType) -> np.ndarray:
    """``dst(entry)`` for every raw table entry (a pure function of the entry: exact)."""
    return _frozen(convert(table, src, dst))


__all__ = ["LUT_FUNCTIONS", "INDEX_MODES", "SOFTMAX_IMPLEMENTATIONS", "MAX_TABLE_SIZE",
           "lut_inputs", "lut_table", "index_scale", "lut_activation", "lut_float",
           "index_bits", "top_bits_values", "exp_table", "inv_table", "reduce_schedule",
           "softmax_float", "converted"]
