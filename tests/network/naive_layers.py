"""Slow, obviously-correct layer references built only from fixsim.fixed elementwise ops.

Every step of docs/datapath.md is spelled out with ``convert``/``add``/``multiply``/``mac``
(the ports of the Xilinx headers).  Each accumulation step runs on all outputs at once
(the ops are elementwise), but the terms run one by one in the contract's order, and
zero-padding taps are *included* here, so the kernels' skipping of them is tested too.
"""

from __future__ import annotations

import numpy as np

from fixsim.fixed import add, convert, mac, multiply


def _start(cfg, bias, n_out, shape):
    """acc = A(bias[o]) broadcast to the output shape (o is axis 1), or zeros."""
    if cfg.bias is None:
        return np.zeros(shape, np.int64)
    b = convert(np.asarray(bias, np.int64), cfg.bias, cfg.accum)
    return np.broadcast_to(b.reshape((1, n_out) + (1,) * (len(shape) - 2)), shape).copy()


def _step(acc, cfg, x, w):
    """One step on arrays: to_accum A(acc + A(x*w)), exact A(acc + x*w)."""
    if cfg.product == "exact":
        return mac(acc, cfg.accum, x, cfg.in_format, w, cfg.weight).astype(np.int64)
    p, pt = multiply(x, cfg.in_format, w, cfg.weight)
    pc = convert(p, pt, cfg.accum)
    s, st = add(acc, cfg.accum, pc, cfg.accum)
    return convert(s, st, cfg.accum).astype(np.int64)


def naive_result(acc, cfg):
    """Result stage on accumulator raw values (any shape)."""
    acc = np.asarray(acc, np.int64)
    if cfg.activation_on == "accum":
        if cfg.activation == "relu":
            return convert(np.maximum(acc, 0), cfg.accum, cfg.result).astype(np.int64)
        y = convert(acc, cfg.accum, cfg.result).astype(np.int64)
        if cfg.activation == "leaky_relu":
            p, pt = multiply(acc, cfg.accum, np.full(acc.shape, cfg.alpha_raw), cfg.alpha_format)
            neg = convert(p, pt, cfg.result)
            y = np.where(acc < 0, neg, y)
        return y
    y = convert(acc, cfg.accum, cfg.result).astype(np.int64)
    return naive_activation(y, cfg.result, cfg.activation, cfg.alpha_raw, cfg.alpha_format)


def naive_activation(y, fmt, kind, alpha_raw=0, alpha_format=None):
    """Standalone activation in ``fmt``."""
    y = np.asarray(y, np.int64)
    if kind == "relu":
        return np.where(y < 0, 0, y)
    if kind == "leaky_relu":
        p, pt = multiply(y, fmt, np.full(y.shape, alpha_raw), alpha_format)
        return np.where(y < 0, convert(p, pt, fmt), y)
    return y.copy()


def naive_conv2d_accum(x, w, bias, cfg, stride, padding):
    """Accumulators (N, Cout, OH, OW) after every term in the contract's order."""
    x = np.asarray(x, np.int64)
    w = np.asarray(w, np.int64)
    n, c, h, wd = x.shape
    cout, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # zero taps take part, as in RTL
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    acc = _start(cfg, bias, cout, (n, cout, oh, ow))
    if cfg.sum_order == "ci_kh_kw":
        terms = [(ci, i, j) for ci in range(c) for i in range(kh) for j in range(kw)]
    else:
        terms = [(ci, i, j) for i in range(kh) for j in range(kw) for ci in range(c)]
    for ci, i, j in terms:
        patch = xp[:, ci, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]  # (N, OH, OW)
        xs = np.broadcast_to(patch[:, None], acc.shape)
        ws = np.broadcast_to(w[:, ci, i, j][None, :, None, None], acc.shape)
        acc = _step(acc, cfg, xs, ws)
    return acc


def naive_conv2d(x, w, bias, cfg, stride=(1, 1), padding=(0, 0)):
    return naive_result(naive_conv2d_accum(x, w, bias, cfg, stride, padding), cfg)


def naive_dense(x, w, bias, cfg):
    """(N, K) x (O, K) -> (N, O), terms k = 0..K-1 in order."""
    x = np.asarray(x, np.int64)
    w = np.asarray(w, np.int64)
    n, k = x.shape
    o = w.shape[0]
    acc = _start(cfg, bias, o, (n, o))
    for kk in range(k):
        acc = _step(acc, cfg, np.broadcast_to(x[:, kk:kk + 1], (n, o)),
                    np.broadcast_to(w[None, :, kk], (n, o)))
    return naive_result(acc, cfg)


def naive_maxpool2d(x, kernel, stride, ceil_mode):
    """Python loops over windows; partial windows keep only elements inside the input."""
    x = np.asarray(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride

    def count(size, k, s):
        out = 0
        while out * s < size:  # a window must start inside the input
            end = out * s + k
            if end > size and (not ceil_mode or end > size + s - 1):
                break  # floor: no partial window; ceil: at most s-1 past the edge
            out += 1
        return out

    oh, ow = count(h, kh, sh), count(w, kw, sw)
    out = np.empty((n, c, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            vals = [x[:, :, a, b] for a in range(i * sh, i * sh + kh) for b in range(j * sw, j * sw + kw)
                    if a < h and b < w]
            out[:, :, i, j] = np.max(np.stack(vals), axis=0)
    return out


def naive_lut_activation(x, in_format, table, table_format, result_format, rng, index):
    """sigmoid/tanh on raw ``x``: the index from the exact rational x * N / (2R), floored
    ("floor") or as the C++ cuts it ("trunc": the quotient on x's grid 2^-F, cut toward
    zero, then toward zero to an integer), clamped, then the entry converted to R."""
    import math
    from fractions import Fraction

    n = len(table)
    lsb = Fraction(2) ** -in_format.frac_bits
    out = []
    for raw in np.asarray(x, np.int64).reshape(-1).tolist():
        if index == "trunc":
            q = math.trunc(math.trunc(Fraction(raw * n, 2 * rng)) * lsb)
        else:
            q = math.floor(raw * lsb * n / (2 * rng))
        k = min(max(q + n // 2, 0), n - 1)
        out.append(int(convert(np.array([table[k]]), table_format, result_format)[0]))
    return np.array(out, np.int64).reshape(np.shape(x))


def naive_softmax(x, layer, exp_table, inv_table):
    """softmax over axis 1 of raw ``x`` (N, C, ...), one position at a time, literally as
    hls4ml's softmax_latency/softmax_stable (recursive balanced reduce)."""
    from fixsim.fixed import subtract

    def top_bits(raw, fmt, size):
        bits = max(1, (size - 1).bit_length())
        return (int(raw) & ((1 << fmt.width) - 1)) >> (fmt.width - bits)

    def reduce(vals):
        if len(vals) == 1:
            return vals[0]
        left = 1 << ((len(vals) - 1).bit_length() - 1) if len(vals) > 2 else 1
        a, b = reduce(vals[:left]), reduce(vals[left:])
        s, st = add(np.array([a]), layer.accum, np.array([b]), layer.accum)
        return int(convert(s, st, layer.accum)[0])

    x = np.asarray(x, np.int64)
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    out = np.empty(flat.shape, np.int64)
    fin = layer.in_format
    for n in range(flat.shape[0]):
        for p in range(flat.shape[2]):
            col = flat[n, :, p]
            if layer.implementation == "stable":
                d, dt = subtract(np.full(col.shape, col.max()), fin, col, fin)
                keys = [top_bits(v, layer.inp_norm, len(exp_table))
                        for v in convert(d, dt, layer.inp_norm)]
            else:
                keys = [top_bits(v, fin, len(exp_table)) for v in col]
            e = [int(convert(np.array([exp_table[k]]), layer.exp_table, layer.accum)[0]) for k in keys]
            s = int(convert(np.array([reduce(e)]), layer.accum, layer.inv_inp)[0])
            inv = inv_table[top_bits(s, layer.inv_inp, len(inv_table))]
            for c, ec in enumerate(e):
                pr, pt = multiply(np.array([ec]), layer.accum, np.array([inv]), layer.inv_table)
                out[n, c, p] = convert(pr, pt, layer.result)[0]
    return out.reshape(x.shape)
