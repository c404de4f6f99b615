"""Average pooling (windows and global) and global max pooling: exact and float64 twins.

The arithmetic (docs/datapath.md, "AvgPool2D, global pooling"): a window's elements are
summed in the accumulator format A, one at a time in raster order or as hls4ml's
balanced tree, then scaled by 1/n and converted once into the result format R::

    term "exact":    acc = A(acc + x)          term "to_accum": acc = A(acc + A(x))
    sum "tree":      leaves A(x), nodes A(a + b), hls4ml's split (nnet::reduce)
    scaling "divide":     r = R(q),  q = acc / n truncated toward zero on A's grid
                          (ap_fixed / unsigned: the quotient keeps A's F bits)
    scaling "reciprocal": r = R(acc * K(1.0 / n))  (exact product, one conversion)

``n`` is the window size, or (``count_pad`` false) the number of its elements inside
the input.  Global max pooling is ``R(A(max x))`` or (term "to_accum") ``R(max A(x))``.

The kernels work on int64 raw mantissas; every conversion goes through a descriptor of
:mod:`fixsim.layers.convert` (the same rules as every other layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import InputError
from ..fixed import FixedType, product_type, quantize, sum_type
from . import _kernels as K
from .convert import descriptor

#: How an element enters the sum: added exactly, or converted to A first.
TERMS = ("exact", "to_accum")
#: The order of the sum: element by element, or hls4ml's balanced tree (io_stream).
POOL_SUMS = ("sequential", "tree")
#: How the sum is scaled by 1/n.
SCALINGS = ("divide", "reciprocal")


@dataclass(frozen=True)
class PoolConfig:
    """The ``CONFIG_T`` of an average pool: formats and switches (docs/datapath.md).

    ``reciprocal`` is the format K of ``1/n`` (scaling "reciprocal" only, else None).
    """

    in_format: FixedType
    accum: FixedType
    result: FixedType
    term: str = "exact"
    sum: str = "sequential"
    scaling: str = "divide"
    reciprocal: FixedType | None = None
    count_pad: bool = False

    def __post_init__(self):
        for value, allowed, what in ((self.term, TERMS, "term"), (self.sum, POOL_SUMS, "sum"),
                                     (self.scaling, SCALINGS, "scaling")):
            if value not in allowed:
                raise InputError(f"pool {what} {value!r} is not one of {', '.join(allowed)}")
        if (self.scaling == "reciprocal") != (self.reciprocal is not None):
            raise InputError("a reciprocal format is given exactly when scaling is 'reciprocal'")
        if self.sum == "tree" and self.term != "to_accum":
            raise InputError("the tree sum adds accumulator values: it needs term 'to_accum'")

    @property
    def sum_format(self) -> FixedType:
        """The type of ``acc + x`` (term "exact") or ``acc + A(x)``."""
        return sum_type(self.accum, self.in_format if self.term == "exact" else self.accum)

    @property
    def scaled_format(self) -> FixedType:
        """The type R converts from: A (divide) or the product ``A * K`` (reciprocal)."""
        if self.scaling == "divide":
            return self.accum
        return product_type(self.accum, self.reciprocal)

    def reciprocal_table(self, n_max: int) -> np.ndarray:
        """Raw ``K(1.0 / n)`` for n = 0..n_max (entry 0 unused): the double constructor."""
        if self.reciprocal is None:
            return np.zeros(n_max + 1, np.int64)
        n = np.arange(1, n_max + 1, dtype=np.float64)
        return np.concatenate([[0], quantize(1.0 / n, self.reciprocal, warn=False)]).astype(np.int64)

    @property
    def term_descriptor(self) -> np.ndarray:
        """``A = x`` of each term (term "to_accum")."""
        return assign_descriptor(self.in_format, self.accum)

    def kernel_args(self, n_max: int) -> tuple:
        """The runtime arguments of :func:`_window_pool` after the geometry."""
        a, s = self.accum, self.sum_format
        x_shift = s.frac_bits - self.in_format.frac_bits
        a_shift = s.frac_bits - a.frac_bits
        return (self.term == "to_accum", self.sum == "tree", x_shift, a_shift, descriptor(s, a),
                self.scaling == "divide", self.reciprocal_table(n_max),
                assign_descriptor(self.scaled_format, self.result))


def assign_descriptor(src: FixedType, dst: FixedType) -> np.ndarray:
    """The descriptor of C++'s ``dst_t y = x`` for ``x`` of type ``src``.

    Between two different types it is the headers' conversion; between identical types
    (every field equal) C++ copies the value (the copy constructor: no quantization, no
    overflow handling, so an AP_SAT_SYM minimum stays the minimum), which is the
    conversion into the same width and integer bits with AP_TRN and AP_WRAP.
    """
    if src == dst:
        return descriptor(src, FixedType(src.width, src.int_bits, src.signed))
    return descriptor(src, dst)


# ------------------------------------------------------------------ kernels
@njit(cache=True, inline="always")
def _add(acc, v, to_acc, xs, as_, cs):
    """One sequential step: ``A(acc + x)`` (on the sum grid) or ``A(acc + A(x))`` (``v``
    is then already ``A(x)``: :func:`_terms`)."""
    if to_acc:
        return K._cvt(acc + v, cs)
    return K._cvt((acc << as_) + (v << xs), cs)


def _terms(x: np.ndarray, to_acc: bool, cx: np.ndarray) -> np.ndarray:
    """The pool's terms: x itself, or ``A(x)`` of every element (term "to_accum"), converted
    once in one vector pass (each window then reads them)."""
    if not to_acc:
        return x
    flat = x.reshape(-1).copy()
    K.convert_array(flat, cx, flat)
    return flat.reshape(x.shape)


def tree_plan(n: int) -> np.ndarray:
    """The shape of hls4ml's ``nnet::reduce`` over n leaves, as (start, size) rows.

    reduce(x, N) = x[0] (N = 1), op(x0, x1) (N = 2), else op(reduce(x, L), reduce(x + L,
    N - L)) with L = 2^floor(log2(N - 1)).  Each row but the last is such a left block L
    (a power of two: a balanced tree, pairs level by level); the last row is the tail of
    one or two leaves.  The value is op(block_0, op(block_1, ... op(block_k, tail))).

    >>> tree_plan(5).tolist(), tree_plan(9).tolist(), tree_plan(6).tolist()
    ([[0, 4], [4, 1]], [[0, 8], [8, 1]], [[0, 4], [4, 2]])
    """
    rows, s, m = [], 0, n
    while m > 2:
        left = 1 << ((m - 1).bit_length() - 1)
        rows.append((s, left))
        s, m = s + left, m - left
    rows.append((s, m))
    return np.array(rows, np.int64).reshape(-1, 2)


@njit(cache=True, inline="always")
def _tree(buf, plan, cs):
    """The tree of :func:`tree_plan` with ``A(a + b)`` over the leaves in ``buf`` (overwritten)."""
    k = plan.shape[0] - 1
    s, m = plan[k, 0], plan[k, 1]
    r = buf[s] if m == 1 else K._cvt(buf[s] + buf[s + 1], cs)
    for j in range(k - 1, -1, -1):
        b0, size = plan[j, 0], plan[j, 1]
        while size > 1:
            half = size // 2
            for i in range(half):
                buf[b0 + i] = K._cvt(buf[b0 + 2 * i] + buf[b0 + 2 * i + 1], cs)
            size = half
        r = K._cvt(buf[b0] + r, cs)
    return r


@njit(cache=True, inline="always")
def _scale(acc, n, divide, recip, cr):
    """``R(trunc(acc / n))`` or ``R(acc * K(1/n))``."""
    if divide:
        q = abs(acc) // n
        return K._cvt(-q if acc < 0 else q, cr)
    return K._cvt(acc * recip[n], cr)


@njit(cache=True, nogil=True)
def _window_pool(x, n_kh, n_kw, sh, sw, pt, pl, count_pad, to_acc, tree, xs, as_, cs,
                 divide, recip, cr, plan, buf, out):
    """Average of every window of x (N, C, H, W) into out (N, C, OH, OW), zero padding
    ``pt``/``pl`` rows/columns before the input (taps there add 0: skipped, or zero leaves).
    With ``to_acc`` x holds the terms ``A(x)`` (:func:`_terms`)."""
    n_n, n_c, n_h, n_w = x.shape
    n_oh, n_ow = out.shape[2], out.shape[3]
    for job in range(n_n * n_c):
        n = job // n_c
        c = job % n_c
        for oh in range(n_oh):
            for ow in range(n_ow):
                acc = np.int64(0)
                cnt = 0
                for a in range(n_kh):
                    ih = oh * sh - pt + a
                    for b in range(n_kw):
                        iw = ow * sw - pl + b
                        inside = 0 <= ih < n_h and 0 <= iw < n_w
                        if inside:
                            cnt += 1
                        if tree:
                            buf[a * n_kw + b] = x[n, c, ih, iw] if inside else 0
                        elif inside:
                            acc = _add(acc, x[n, c, ih, iw], to_acc, xs, as_, cs)
                if tree:
                    acc = _tree(buf, plan, cs)
                out[n, c, oh, ow] = _scale(acc, n_kh * n_kw if count_pad else cnt, divide,
                                           recip, cr)


@njit(cache=True, nogil=True)
def _global_max(x, to_acc, cx, cr, out):
    """``R(A(max x))`` or ``R(max A(x))`` over the positions of x (N, C, P) into out (N, C);
    with ``to_acc`` x holds the terms ``A(x)`` (:func:`_terms`)."""
    n_n, n_c, n_p = x.shape
    for n in range(n_n):
        for c in range(n_c):
            m = x[n, c, 0]
            for i in range(1, n_p):
                m = max(m, x[n, c, i])
            out[n, c] = K._cvt(m if to_acc else K._cvt(m, cx), cr)


# ------------------------------------------------------------------ layer functions
def _positions(x) -> int:
    """The number of positions after the channel axis (an empty batch reshapes too)."""
    return int(np.prod(x.shape[2:]))


def pool_out_padded(size: int, k: int, s: int, pad: int) -> int:
    """Output length of a floor-mode window sweep over ``size + 2*pad`` elements."""
    return (size + 2 * pad - k) // s + 1


def _raw4(x, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise InputError(f"{what} needs an (N, C, H, W) input, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        raise InputError(f"{what} works on raw integer mantissas, got dtype {x.dtype}")
    return np.ascontiguousarray(x, np.int64)


def avgpool2d(x, cfg: PoolConfig, kernel, stride=None, padding=(0, 0)) -> np.ndarray:
    """Exact average pooling of raw mantissas in ``cfg.in_format``; (N, C, OH, OW) int64 in R.

    Windows start at ``o * stride - padding`` (floor mode over the padded input);
    ``padding`` must be smaller than the kernel so every window holds an input element.
    """
    x = _raw4(x, "avgpool2d")
    (kh, kw), (ph, pw) = tuple(kernel), tuple(padding)
    sh, sw = tuple(kernel) if stride is None else tuple(stride)
    n, c, h, w = x.shape
    if not (0 <= ph < kh and 0 <= pw < kw) or h + 2 * ph < kh or w + 2 * pw < kw:
        raise InputError(f"avgpool2d: kernel {(kh, kw)} with padding {(ph, pw)} does not fit "
                         f"the input {(h, w)} (padding must be smaller than the kernel)")
    out = np.empty((n, c, pool_out_padded(h, kh, sh, ph), pool_out_padded(w, kw, sw, pw)), np.int64)
    buf = np.empty(kh * kw, np.int64)
    x = _terms(x, cfg.term == "to_accum", cfg.term_descriptor)
    _window_pool(x, kh, kw, sh, sw, ph, pw, cfg.count_pad, *cfg.kernel_args(kh * kw),
                 tree_plan(kh * kw), buf, out)
    return out


def global_avgpool(x, cfg: PoolConfig) -> np.ndarray:
    """Exact global average over every position after the channel axis of x (N, C, ...),
    in C order (raster (h, w) of a map, l of a sequence): (N, C) int64 in R."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise InputError(f"global average pooling needs an (N, C, ...) input, got shape {x.shape}")
    n, c = x.shape[:2]
    x = _raw4(x.reshape(n, c, 1, _positions(x)), "global average pooling")
    p = x.shape[3]
    out = np.empty((n, c, 1, 1), np.int64)
    buf = np.empty(p, np.int64)
    x = _terms(x, cfg.term == "to_accum", cfg.term_descriptor)
    _window_pool(x, 1, p, 1, 1, 0, 0, True, *cfg.kernel_args(p), tree_plan(p), buf, out)
    return out.reshape(n, c)


def global_maxpool(x, in_format: FixedType, accum: FixedType, result: FixedType,
                   term: str = "exact") -> np.ndarray:
    """Exact global max over every position after the channel axis: (N, C) int64 in R."""
    if term not in TERMS:
        raise InputError(f"global max pool term {term!r} is not one of {', '.join(TERMS)}")
    x = np.asarray(x)
    if x.ndim < 3 or not np.issubdtype(x.dtype, np.integer):
        raise InputError(f"global max pooling needs raw integer (N, C, ...) input, got "
                         f"{x.dtype} {x.shape}")
    x3 = np.ascontiguousarray(x.reshape(x.shape[0], x.shape[1], _positions(x)), np.int64)
    out = np.empty(x3.shape[:2], np.int64)
    cx = assign_descriptor(in_format, accum)
    _global_max(_terms(x3, term == "to_accum", cx), term == "to_accum", cx,
                assign_descriptor(accum, result), out)
    return out


# ------------------------------------------------------------------ the counted run
def _tree_counted(buf, plan, s: FixedType, a: FixedType, ev: dict) -> np.ndarray:
    """:func:`_tree` over every row of buf (M, leaves) at once, each node counted."""
    from ._counting import convert_events

    k = len(plan) - 1
    st, m = plan[k]
    r = buf[:, st] if m == 1 else convert_events(buf[:, st] + buf[:, st + 1], s, a, ev)
    for j in range(k - 1, -1, -1):
        b0, size = plan[j]
        blk = buf[:, b0:b0 + size]
        while size > 1:
            half = size // 2
            blk = convert_events(blk[:, 0:2 * half:2] + blk[:, 1:2 * half:2], s, a, ev)
            size = half
        r = convert_events(blk[:, 0] + r, s, a, ev)
    return r


def pool_counted(win: np.ndarray, inside: np.ndarray, cfg: PoolConfig, count_pad: bool,
                 events: dict) -> np.ndarray:
    """The averages of windows ``win`` (M, K) raster order (``inside`` False at zero-padding
    taps), every conversion counted into ``events`` (``terms``: A(x) of "to_accum";
    ``accum``: each sum step or tree node; ``divide``: quotients that drop a remainder;
    ``result``): the counted run of :func:`avgpool2d` and :func:`global_avgpool`, one step
    over all windows at a time (numpy; the kernels' conversions, same bits).
    """
    from ._counting import add_events, convert_events, slot

    a, s = cfg.accum, cfg.sum_format
    m, k = win.shape
    if cfg.term == "to_accum":
        win = convert_events(win, cfg.in_format, a, slot(events, "terms"))
        win = np.where(inside, win, 0)  # a padding tap is no element (its A(0) is 0 anyway)
    ev = slot(events, "accum")
    if cfg.sum == "tree":
        acc = _tree_counted(np.where(inside, win, 0), tree_plan(k), s, a, ev)
    else:
        acc = np.zeros(m, np.int64)
        xs, as_ = s.frac_bits - cfg.in_format.frac_bits, s.frac_bits - a.frac_bits
        for j in range(k):
            sel = inside[:, j]
            if cfg.term == "to_accum":
                total = acc[sel] + win[sel, j]
            else:
                total = (acc[sel] << as_) + (win[sel, j] << xs)
            acc[sel] = convert_events(total, s, a, ev)
    cnt = np.full(m, k, np.int64) if count_pad else inside.sum(axis=1).astype(np.int64)
    if cfg.scaling == "divide":
        q, rem = np.abs(acc) // cnt, np.abs(acc) % cnt
        add_events(slot(events, "divide"), {"n": int(m), "rounded": int((rem != 0).sum()),
                                                     "saturated": 0, "wrapped": 0})
        scaled = np.where(acc < 0, -q, q)
    else:
        scaled = acc * cfg.reciprocal_table(k)[cnt]
    return convert_events(scaled, cfg.scaled_format, cfg.result, slot(events, "result"))


def avgpool2d_counted(x, cfg: PoolConfig, kernel, stride, padding, events: dict) -> np.ndarray:
    """:func:`avgpool2d` with every conversion counted (:func:`pool_counted`)."""
    x = _raw4(x, "avgpool2d")
    (kh, kw), (ph, pw) = tuple(kernel), tuple(padding)
    sh, sw = tuple(kernel) if stride is None else tuple(stride)
    n, c, h, w = x.shape
    oh, ow = pool_out_padded(h, kh, sh, ph), pool_out_padded(w, kw, sw, pw)
    pads = ((0, 0), (0, 0), (ph, ph), (pw, pw))
    view = np.lib.stride_tricks.sliding_window_view

    def windows(arr):
        return view(np.pad(arr, pads), (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :oh, :ow]

    win = windows(x).reshape(-1, kh * kw)
    inside = windows(np.ones(x.shape, bool)).reshape(-1, kh * kw)
    return pool_counted(win, inside, cfg, cfg.count_pad, events).reshape(n, c, oh, ow)


def global_avgpool_counted(x, cfg: PoolConfig, events: dict) -> np.ndarray:
    """:func:`global_avgpool` with every conversion counted."""
    x = np.asarray(x, np.int64)
    n, c = x.shape[:2]
    win = x.reshape(n * c, _positions(x))
    return pool_counted(win, np.ones(win.shape, bool), cfg, True, events).reshape(n, c)


def global_maxpool_counted(x, in_format: FixedType, accum: FixedType, result: FixedType,
                           term: str, events: dict) -> np.ndarray:
    """:func:`global_maxpool` with its conversions counted (``terms`` or ``accum``, ``result``)."""
    from ._counting import convert_events, slot

    x3 = np.asarray(x, np.int64).reshape(x.shape[0], x.shape[1], _positions(x))
    if term == "to_accum":
        m = convert_events(x3, in_format, accum, slot(events, "terms")).max(axis=2)
    else:
        m = convert_events(x3.max(axis=2), in_format, accum, slot(events, "accum"))
    return convert_events(m, accum, result, slot(events, "result"))


def avgpool2d_float(x, kernel, stride=None, padding=(0, 0), count_pad: bool = False) -> np.ndarray:
    """Float64 average pooling (PyTorch's ``avg_pool2d`` with ``count_include_pad=count_pad``)."""
    x = np.asarray(x, np.float64)
    (kh, kw), (ph, pw) = tuple(kernel), tuple(padding)
    sh, sw = tuple(kernel) if stride is None else tuple(stride)
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = x
    ones = np.zeros((h + 2 * ph, w + 2 * pw))
    ones[ph:ph + h, pw:pw + w] = 1.0
    oh, ow = pool_out_padded(h, kh, sh, ph), pool_out_padded(w, kw, sw, pw)
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = (slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            count = kh * kw if count_pad else ones[win].sum()
            out[:, :, i, j] = xp[(slice(None), slice(None)) + win].sum(axis=(2, 3)) / count
    return out


def global_pool_float(x, op: str) -> np.ndarray:
    """Float64 global ``"avg"`` or ``"max"`` over every position after the channel axis."""
    x = np.asarray(x, np.float64)
    x3 = x.reshape(x.shape[0], x.shape[1], _positions(x))
    return x3.mean(axis=2) if op == "avg" else x3.max(axis=2)


__all__ = ["PoolConfig", "TERMS", "POOL_SUMS", "SCALINGS", "avgpool2d", "global_avgpool",
           "global_maxpool", "avgpool2d_float", "global_pool_float", "pool_out_padded"]
