"""Conv2D, exact (five paths and the counted run, same bits) and float64.

Shapes: input (N, C, H, W), weight (Cout, C, KH, KW) in PyTorch layout, bias (Cout,),
output (N, Cout, OH, OW) with ``OH = (H + 2*ph - KH) // sh + 1`` (likewise OW).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..fixed import check_raw
from . import _counting as C
from . import _kernels as K
from ._ordered import column_ranges, conv_terms
from ._speculative import conv2d_accumulators, wrap_plan
from .mac import (MacConfig, bias_in_accum, choose_path, counted, finish_accumulators,
                  finish_sums, step_descriptors, step_plan)

_ALL_ROWS = np.empty((0, 3), np.int64)  # the ordered kernels' "every output row"


def _out_hw(h, w, kh, kw, stride, padding):
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (w + 2 * padding[1] - kw) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise InputError(f"conv2d: kernel {(kh, kw)} does not fit the padded input "
                         f"{(h + 2 * padding[0], w + 2 * padding[1])}")
    return oh, ow


def _operands(x, weight, cfg: MacConfig):
    x = check_raw(x, cfg.in_format, "conv2d input").astype(np.int64, copy=False)
    w = check_raw(weight, cfg.weight, "conv2d weight").astype(np.int64, copy=False)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise InputError(f"conv2d needs input (N, C, H, W) and weight (Cout, C, KH, KW), "
                         f"got {x.shape} and {w.shape}")
    return x, w


def _narrow(x, cfg: MacConfig):
    """int32 inputs when they fit: half the memory traffic; products stay int64."""
    return x.astype(np.int32) if cfg.in_format.width <= 32 else x


def _narrow_weight(w, cfg: MacConfig):
    """int32 weights when they fit: with int32 inputs the product of two sign-extended
    32-bit values compiles to one widening multiply instead of a 64-bit emulation."""
    return w.astype(np.int32) if cfg.weight.width <= 32 else w


def conv2d(x, weight, bias, cfg: MacConfig, *, stride=(1, 1), padding=(0, 0),
           method: str = "auto", return_method: bool = False, stats: dict | None = None,
           events: dict | None = None):
    """Bit-exact Conv2D of raw mantissas as the datapath contract defines it.

    Parameters
    ----------
    x : (N, C, H, W) raw in ``cfg.in_format``
    weight : (Cout, C, KH, KW) raw in ``cfg.weight``;  bias : (Cout,) raw in ``cfg.bias`` or None
    cfg : MacConfig
    stride, padding : (int, int)
        Zero padding is symmetric.
    method : "auto" | "sequential" | "ordered" | "speculative" | "direct" | "gemm"
        "auto" takes "direct" when it is provably exact, else "speculative" for a
        saturating accumulator, else "ordered" (docs/datapath.md section 6).
    return_method : bool
        Also return the path that ran.
    stats : dict, optional
        Receives the speculative path's counts: ``outputs``, ``failed`` (outputs whose
        range bound failed) and ``recomputed`` (outputs recomputed in contract order).

    Returns
    -------
    numpy.ndarray (N, Cout, OH, OW) int64 raw in ``cfg.result`` [, method]

    Raises
    ------
    InputError
        Wrong shapes, raw values outside their formats, an unknown method.
    FormatError
        A forced order-free method that is not provably exact for these values.
    """
    x, w = _operands(x, weight, cfg)
    n, c, h, wd = x.shape
    cout, _, kh, kw = w.shape
    oh, ow = _out_hw(h, wd, kh, kw, stride, padding)
    bias_acc = bias_in_accum(cfg, bias, cout)
    xmax = int(np.abs(x).max()) if x.size else 0
    path, spec = (("counted", None) if events is not None else
                  choose_path(cfg, method, xmax, w.reshape(cout, -1), bias_acc, "direct"))
    sh, sw = stride
    ph, pw = padding
    if path == "counted":
        terms = conv_terms(c, kh, kw, cfg.sum_order, cfg.reuse_factor)
        ranges = column_ranges(wd, kw, sw, pw, ow)

        def steps(plan, ev, accs):
            C.conv_counted(x, w, bias_acc, terms, *ranges, sh, sw, ph, pw, plan.exact, plan.sp,
                           plan.cp, plan.cs, ev, accs)

        out = counted(cfg, bias, steps, (n, cout, oh, ow), len(terms), events)
    elif path == "speculative":
        accs = conv2d_accumulators(x, w, bias_acc, cfg, spec, step_plan(cfg), stride, padding,
                                   (oh, ow), stats)
        out = finish_accumulators(cfg, accs.reshape(n, cout, -1))
    elif path == "sequential":
        exact, sp, cp, cs = step_descriptors(cfg)
        accs = np.empty((n, cout, oh, ow), np.int64)
        K._conv_sequential(x, w, bias_acc, sh, sw, ph, pw, cfg.sum_order != "ci_kh_kw", exact,
                           sp, cp, cs, accs)
        out = finish_accumulators(cfg, accs.reshape(n, cout, -1))
    elif path == "direct" and cfg.shift < 0 and (wrap := wrap_plan(cfg, xmax, w.reshape(cout, -1))):
        # bias + sum of rounded products (the speculative kernels without the bound),
        # wrapped once (mod 2^W)
        accs = conv2d_accumulators(x, w, bias_acc, cfg, wrap, None, stride, padding, (oh, ow))
        out = finish_sums(cfg, accs.reshape(n, cout, -1), np.zeros(cout, np.int64), shift=0)
    elif path == "ordered" or (path == "direct" and cfg.shift < 0):
        plan = step_plan(cfg, order_free=path == "direct")
        accs = np.empty((n, cout, oh, ow), np.int64)
        plan.conv(_narrow(x, cfg), _narrow_weight(w, cfg), bias_acc,
                  conv_terms(c, kh, kw, cfg.sum_order, cfg.reuse_factor),
                  *column_ranges(wd, kw, sw, pw, ow), sh, sw, ph, pw, _ALL_ROWS, *plan.step_args(),
                  accs)
        if path == "direct":  # bias + sum of rounded products, wrapped once (mod 2^W)
            out = finish_sums(cfg, accs.reshape(n, cout, -1), np.zeros(cout, np.int64), shift=0)
        else:
            out = finish_accumulators(cfg, accs.reshape(n, cout, -1))
    elif path == "direct":
        sums = np.empty((n, cout, oh, ow), np.int64)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if (ph or pw) else x
        K._conv_sum_direct(_narrow(xp, cfg), w, sh, sw, sums)
        out = finish_sums(cfg, sums.reshape(n, cout, -1), bias_acc)
    else:
        cols = np.empty((c * kh * kw, n * oh * ow), np.float64)
        K._im2col_t(x, kh, kw, sh, sw, ph, pw, oh, ow, cols)
        prod = w.reshape(cout, -1).astype(np.float64) @ cols  # exact: partial sums < 2^53
        sums = np.ascontiguousarray(prod.astype(np.int64).reshape(cout, n, -1).transpose(1, 0, 2))
        out = finish_sums(cfg, sums, bias_acc)
    out = out.reshape(n, cout, oh, ow)
    return (out, path) if return_method else out


def conv2d_float(x, weight, bias=None, *, stride=(1, 1), padding=(0, 0)) -> np.ndarray:
    """Float64 Conv2D (cross-correlation, PyTorch semantics) via im2col and GEMM.

    x (N, C, H, W), weight (Cout, C, KH, KW), bias (Cout,) or None -> (N, Cout, OH, OW).
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(weight, np.float64)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise InputError(f"conv2d needs input (N, C, H, W) and weight (Cout, C, KH, KW), "
                         f"got {x.shape} and {w.shape}")
    n, c, h, wd = x.shape
    cout, _, kh, kw = w.shape
    oh, ow = _out_hw(h, wd, kh, kw, stride, padding)
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride[0], ::stride[1]][:, :, :oh, :ow]  # (N, C, OH, OW, KH, KW)
    out = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
    if bias is not None:
        out = out + np.asarray(bias, np.float64)[None, :, None, None]
    return out
