"""Slow references of the average/global pooling and batchnorm layers, from fixsim.fixed ops.

Every step of docs/datapath.md ("AvgPool2D and global pooling", "BatchNorm") is spelled
with ``convert``/``add``/``multiply``/``divide`` (the ports of the Xilinx headers), on
whole arrays of windows at once; the division is ``fixsim.fixed.divide`` by the
``ap_ufixed<32,32>`` the headers make of an ``unsigned`` divisor, the tree is hls4ml's
recursive ``nnet::reduce`` written as it is, and padding taps take part as zeros.
"""

from __future__ import annotations

import numpy as np

from fixsim.fixed import FixedType, add, convert, divide, multiply, quantize

#: The ap_fixed the headers make of a C ``unsigned`` operand.
UNSIGNED = FixedType(32, 32, False)


def assign(v, src, dst):
    """C++ ``dst_t y = x``: the headers' conversion, or a copy between identical types (the
    copy constructor: an AP_SAT_SYM minimum stays; measured with the wheel's headers)."""
    v = np.asarray(v, np.int64)
    return v.copy() if src == dst else convert(v, src, dst).astype(np.int64)


def _acc_add(acc, a_fmt, v, v_fmt):
    s, st = add(acc, a_fmt, v, v_fmt)
    return convert(s, st, a_fmt).astype(np.int64)


def _reduce(leaves, a_fmt):
    """hls4ml's ``reduce<T, N, Op_add<T>>`` on a list of arrays (each node converted to A)."""
    n = len(leaves)
    if n == 1:
        return leaves[0]
    if n == 2:
        return _acc_add(leaves[0], a_fmt, leaves[1], a_fmt)
    left = 2 ** int(np.floor(np.log2(n - 1)))
    return _acc_add(_reduce(leaves[:left], a_fmt), a_fmt, _reduce(leaves[left:], a_fmt), a_fmt)


def naive_scale(acc, counts, cfg):
    """``R(acc / n)`` (ap_fixed / unsigned, then R) or ``R(acc * K(1.0 / n))``."""
    acc = np.asarray(acc, np.int64)
    counts = np.broadcast_to(np.asarray(counts, np.int64), acc.shape)
    if cfg.scaling == "divide":
        q, qt = divide(acc, cfg.accum, counts, UNSIGNED)
        q = assign(q, qt, cfg.accum)  # acc /= n: the quotient back into A (its value fits)
        return assign(q, cfg.accum, cfg.result)
    k = quantize(1.0 / counts.astype(np.float64), cfg.reciprocal, warn=False)
    p, pt = multiply(acc, cfg.accum, k, cfg.reciprocal)
    return assign(p, pt, cfg.result)


def naive_window_sum(windows, valid, cfg):
    """The sum of each window: ``windows`` (K, ...) raw in the input format in raster order,
    ``valid`` (K, ...) False for padding taps (zeros)."""
    x_fmt, a_fmt = cfg.in_format, cfg.accum
    if cfg.sum == "tree":
        leaves = [np.where(v, assign(w, x_fmt, a_fmt), 0).astype(np.int64)
                  for w, v in zip(windows, valid)]
        return _reduce(leaves, a_fmt)
    acc = np.zeros(windows.shape[1:], np.int64)
    for w, v in zip(windows, valid):  # padding taps are added too: acc + 0 == acc
        w = np.where(v, w, 0)
        if cfg.term == "to_accum":
            acc = _acc_add(acc, a_fmt, assign(w, x_fmt, a_fmt), a_fmt)
        else:
            acc = _acc_add(acc, a_fmt, w, x_fmt)
    return acc


def naive_avgpool2d(x, cfg, kernel, stride, padding):
    x = np.asarray(x, np.int64)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), np.int64)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    inside = np.zeros(xp.shape, bool)
    inside[:, :, ph:ph + h, pw:pw + w] = True
    wins, vals = [], []
    for a in range(kh):
        for b in range(kw):
            rows = slice(a, a + sh * (oh - 1) + 1, sh)
            cols = slice(b, b + sw * (ow - 1) + 1, sw)
            wins.append(xp[:, :, rows, cols])
            vals.append(inside[:, :, rows, cols])
    wins, vals = np.stack(wins), np.stack(vals)
    acc = naive_window_sum(wins, vals, cfg)
    counts = np.full(acc.shape, kh * kw) if cfg.count_pad else vals.sum(axis=0)
    return naive_scale(acc, counts, cfg)


def naive_global_avgpool(x, cfg):
    x = np.asarray(x, np.int64)
    x3 = x.reshape(x.shape[0], x.shape[1], -1)
    wins = np.moveaxis(x3, 2, 0)
    acc = naive_window_sum(wins, np.ones(wins.shape, bool), cfg)
    return naive_scale(acc, x3.shape[2], cfg)


def naive_global_maxpool(x, x_fmt, a_fmt, r_fmt, term):
    x3 = np.asarray(x, np.int64).reshape(len(x), np.shape(x)[1], -1)
    if term == "to_accum":
        m = assign(x3, x_fmt, a_fmt).max(axis=2)
    else:
        m = assign(x3.max(axis=2), x_fmt, a_fmt)
    return assign(m, a_fmt, r_fmt)


def naive_batchnorm(x, scale, bias, cfg):
    x = np.asarray(x, np.int64)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    s = np.broadcast_to(np.asarray(scale, np.int64).reshape(shape), x.shape)
    b = np.broadcast_to(np.asarray(bias, np.int64).reshape(shape), x.shape)
    p, pt = multiply(x, cfg.in_format, s, cfg.scale)
    t, tt = add(p, pt, b, cfg.bias)
    return assign(t, tt, cfg.result)
