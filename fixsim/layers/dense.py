"""Dense (fully connected), exact (five paths and the counted run, same bits) and float64.

Shapes: input (N, K), weight (O, K) in PyTorch layout, bias (O,), output (N, O).
The sum runs over k = 0..K-1 in the order of the input vector.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..fixed import check_raw
from . import _counting as C
from . import _kernels as K
from ._ordered import resource_order
from ._speculative import dense_accumulators, wrap_plan
from .mac import (MacConfig, bias_in_accum, choose_path, counted, finish_accumulators,
                  finish_sums, step_descriptors, step_plan)

_ALL_ROWS = np.empty(0, np.int64)  # the ordered kernel's "every image"


def dense(x, weight, bias, cfg: MacConfig, *, method: str = "auto", return_method: bool = False,
          order=None, stats: dict | None = None, events: dict | None = None):
    """Bit-exact Dense of raw mantissas as the datapath contract defines it.

    Parameters
    ----------
    x : (N, K) raw in ``cfg.in_format``;  weight : (O, K) raw in ``cfg.weight``
    bias : (O,) raw in ``cfg.bias``, or None
    method : "auto" | "sequential" | "ordered" | "speculative" | "direct" | "gemm"
        "auto" takes "gemm" (float64 BLAS) when provably exact, then "direct", else
        "speculative" for a saturating accumulator, else "ordered".
    order : (K,) int array, optional
        The accumulation order of the terms, a permutation of 0..K-1 (default: the
        contract's, k in order, or :func:`~fixsim.layers._ordered.resource_order` for
        sum_order "resource"); the "sequential" reference supports only k in order.
    stats : dict, optional
        As :func:`fixsim.layers.conv2d.conv2d` (recomputation is per image).
    events : dict, optional
        As :func:`fixsim.layers.conv2d.conv2d`: the counted run.

    Returns
    -------
    numpy.ndarray (N, O) int64 raw in ``cfg.result`` [, method]

    Raises
    ------
    InputError, FormatError
        As :func:`fixsim.layers.conv2d.conv2d`.
    """
    x = check_raw(x, cfg.in_format, "dense input").astype(np.int64, copy=False)
    w = check_raw(weight, cfg.weight, "dense weight").astype(np.int64, copy=False)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1]:
        raise InputError(f"dense needs input (N, K) and weight (O, K), got {x.shape} and {w.shape}")
    n = x.shape[0]
    o = w.shape[0]
    bias_acc = bias_in_accum(cfg, bias, o)
    xmax = int(np.abs(x).max()) if x.size else 0
    order = _order(order, x.shape[1])
    if order is None and cfg.interleaved:
        order = resource_order(x.shape[1], cfg.reuse_factor)
    path, spec = (("counted", None) if events is not None else
                  choose_path(cfg, method, xmax, w, bias_acc, "gemm"))
    if path == "counted":
        ks = np.arange(x.shape[1], dtype=np.int64) if order is None else order

        def steps(plan, ev, accs):
            C.dense_counted(x, w, bias_acc, ks, plan.exact, plan.sp, plan.cp, plan.cs, ev, accs)

        out = counted(cfg, bias, steps, (n, o), len(ks), events)
    elif path == "speculative":
        accs = dense_accumulators(x, w, bias_acc, cfg, spec, step_plan(cfg), order, stats)
        out = finish_accumulators(cfg, accs.reshape(n, o, 1))
    elif path == "sequential":
        if order is not None:
            raise InputError("the sequential reference runs k = 0..K-1 only; use method='ordered'")
        exact, sp, cp, cs = step_descriptors(cfg)
        accs = np.empty((n, o), np.int64)
        K._dense_sequential(x, w, bias_acc, exact, sp, cp, cs, accs)
        out = finish_accumulators(cfg, accs.reshape(n, o, 1))
    elif path == "direct" and cfg.shift < 0 and (wrap := wrap_plan(cfg, xmax, w)):
        # bias + sum of rounded products (the speculative kernels without the bound),
        # wrapped once (mod 2^W)
        accs = dense_accumulators(x, w, bias_acc, cfg, wrap, None)
        out = finish_sums(cfg, accs.reshape(n, o, 1), np.zeros(o, np.int64), shift=0)
    elif path == "ordered" or (path == "direct" and cfg.shift < 0):
        plan = step_plan(cfg, order_free=path == "direct")
        accs = np.empty((n, o), np.int64)
        ks = np.arange(x.shape[1], dtype=np.int64) if order is None else order
        # int32 operands when they fit: one widening multiply per product (conv2d._narrow)
        xs = x.astype(np.int32) if cfg.in_format.width <= 32 else x
        wt = np.ascontiguousarray(w.T, np.int32 if cfg.weight.width <= 32 else np.int64)
        plan.dense(xs, wt, bias_acc, ks, _ALL_ROWS, *plan.step_args(), accs)
        if path == "direct":  # bias + sum of rounded products, wrapped once (mod 2^W)
            out = finish_sums(cfg, accs.reshape(n, o, 1), np.zeros(o, np.int64), shift=0)
        else:
            out = finish_accumulators(cfg, accs.reshape(n, o, 1))
    else:
        if path == "direct":
            sums = np.empty((n, o), np.int64)
            K._dense_sum_direct(x, w, sums)
        else:
            sums = (x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
        out = finish_sums(cfg, np.ascontiguousarray(sums).reshape(n, o, 1), bias_acc)
    out = out.reshape(n, o)
    return (out, path) if return_method else out


def _order(order, k: int):
    """The term order as an int64 permutation of 0..k-1, or None for the contract's."""
    if order is None:
        return None
    arr = np.asarray(order)
    if (arr.shape != (k,) or arr.dtype.kind not in "iu"
            or not np.array_equal(np.sort(arr), np.arange(k))):
        raise InputError(f"order must be a permutation of 0..{k - 1}, got {order!r}")
    return arr.astype(np.int64)


def dense_float(x, weight, bias=None) -> np.ndarray:
    """Float64 ``x @ weight.T + bias`` (PyTorch Linear)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(weight, np.float64)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1]:
        raise InputError(f"dense needs input (N, K) and weight (O, K), got {x.shape} and {w.shape}")
    out = x @ w.T
    return out if bias is None else out + np.asarray(bias, np.float64)
