"""The prepared model: weights validated, bounded and laid out once; a call only computes.

>>> import numpy as np
>>> from fixsim.network import prepare
>>> from fixsim.network.weights import random_weights
>>> model = prepare("specklenn-snl", random_weights("specklenn-snl"))
>>> model.run(np.zeros((2, 1, 65, 65)), taps=False)["fc2"].shape
(2, 50)

:func:`prepare` does everything that depends on the weights alone: validation, the
hwc-flatten permutation of dense columns, ``A(bias)``, each layer's L1 weight bound, and
the choice of the *narrow* path for every conv2d/dense layer where it is exact
(docs/datapath.md, "Speed"): an order-free layer (section 6: no product rounded, the
accumulator wraps or cannot leave its range) whose result stage is the semantic
conversion with relu or linear runs :mod:`fixsim.layers._kernels_narrow`, with the
exact sums in int32 where ``max|x| * max_o sum_k |w[o,k]| < 2^31`` (proved from the
formats once, or checked on the data of the call), int16 maps between layers when the
format fits, and conv + activation + max pool fused image by image.  Every other layer
runs the layer functions of :mod:`fixsim.layers` (same bits; their own path choice).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._threads import blas_single_thread, pool_map, resolve_threads
from ..errors import InputError
from ..fixed import FixedType, check_raw, quantize
from ..layers import (MacConfig, activation, conv2d, dense, flatten, hwc_permutation,
                      order_free_reason)
from ..layers import _kernels_narrow as KN
from ..fixed.format import Overflow
from ..layers.convert import headers_check_overflow
from ..layers.mac import METHODS, bias_in_accum
from .spec import ActivationLayer, Conv2D, Dense, Flatten, MaxPool2D, ModelSpec, load_spec
from .weights import check_weights

#: Images per work item: small enough that the intermediate maps stay in the CPU caches.
CHUNK = 8
_INT32_LIMIT = 2 ** 31 - 1


def mac_config(layer) -> MacConfig:
    """The :class:`~fixsim.layers.MacConfig` (``CONFIG_T``) of a conv2d/dense spec layer."""
    act = layer.activation
    return MacConfig(in_format=layer.in_format, weight=layer.formats.weight,
                     bias=layer.formats.bias, accum=layer.formats.accum,
                     result=layer.formats.result, product=layer.options.product,
                     sum_order=layer.options.sum_order, activation=act.kind,
                     alpha_raw=act.alpha_raw or 0, alpha_format=act.alpha_format,
                     activation_on=layer.options.activation_on)


def carry_dtype(fmt: FixedType):
    """The narrowest of int16/int32/int64 that holds every raw value of ``fmt``."""
    for dt in (np.int16, np.int32):
        info = np.iinfo(dt)
        if fmt.raw_min >= info.min and fmt.raw_max <= info.max:
            return dt
    return np.int64


def _max_abs_raw(fmt: FixedType) -> int:
    return max(-fmt.raw_min, fmt.raw_max)


def resolve_methods(spec: ModelSpec, method) -> dict[str, str]:
    """``method`` (one name or ``{layer: name}``) as a method for every conv2d/dense layer."""
    names = [l.name for l in spec.mac_layers]
    if isinstance(method, str):
        if method not in METHODS:
            raise InputError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
        return dict.fromkeys(names, method)
    if not isinstance(method, dict):
        raise InputError(f"method must be a string or a dict layer -> method, got {method!r}")
    out = dict.fromkeys(names, "auto")
    for k, v in method.items():
        if k not in out:
            spec.layer(k)  # unknown name: error with suggestion
            raise InputError(f"method given for layer {k!r}, which is not a conv2d/dense layer")
        if v not in METHODS:
            raise InputError(f"unknown method {v!r} for layer {k!r}; allowed: {', '.join(METHODS)}")
        out[k] = v
    return out


@dataclass
class _Mac:
    """A conv2d/dense layer with everything its weights determine."""

    layer: Conv2D | Dense
    cfg: MacConfig
    method: str
    w: np.ndarray          # int64 raw, dense columns permuted after an hwc flatten
    bias: np.ndarray | None
    bias_acc: np.ndarray   # A(bias), int64
    narrow: bool           # structurally fit for the narrow kernels
    wn: np.ndarray | None  # int32 weights for the narrow kernels
    l1: int                # max_o sum_k |w[o, k]| (raw)
    free_any_input: bool   # order-free for every input of the format
    int32_any_input: bool  # int32 sums exact for every input of the format
    cr: np.ndarray | None  # result descriptor (accumulator -> result)
    static: tuple | None = None  # narrow_acc for every input, when the formats prove it
    _finish: dict = field(default_factory=dict)

    def narrow_acc(self, x: np.ndarray):
        """``(sum dtype, fin32)`` for the narrow kernels on input ``x``, or None.

        None: not provably exact here, the layer functions run.  int32 sums when
        ``l1 * max|x| < 2^31``; ``fin32`` (result stage in 32-bit lanes) under the
        conditions of ``_kernels_narrow._finish_row``.
        """
        if not self.narrow:
            return None
        if self.static is not None:
            return self.static
        xmax = int(np.abs(x).max()) if x.size else 0
        if not self.free_any_input and order_free_reason(
                self.cfg, xmax, self.w.reshape(len(self.w), -1), self.bias_acc, False):
            return None
        return self._sums(xmax)

    def _sums(self, xmax: int):
        cfg = self.cfg
        psum = self.l1 * xmax
        if psum > _INT32_LIMIT:
            return np.int64, False
        d = cfg.accum.frac_bits - cfg.result.frac_bits
        total = psum + (int(np.abs(self.bias_acc).max()) if self.bias_acc.size else 0)
        fin32 = (cfg.shift == 0 and 1 <= d <= 30 and total + (1 << (d - 1)) <= _INT32_LIMIT
                 and total <= cfg.accum.raw_max and -total >= cfg.accum.raw_min
                 and cfg.result.width <= 32)
        return np.int32, fin32

    def finish_args(self, fin32: bool):
        """The result-stage arguments of the narrow kernels (built once per value of fin32)."""
        cached = self._finish.get(fin32)
        if cached is None:
            acc = self.cfg.accum
            wrap = acc.overflow == Overflow.AP_WRAP
            cached = self._finish[fin32] = (self.cfg.shift, wrap, acc.width, acc.signed, self.cr,
                                            self.cfg.activation == "relu", fin32)
        return cached


_SEMANTIC = (Overflow.AP_SAT, Overflow.AP_SAT_ZERO, Overflow.AP_SAT_SYM)


def result_descriptor(acc: FixedType, res: FixedType) -> np.ndarray | None:
    """``res = acc`` packed for the narrow kernels' semantic conversion, or None.

    None when the semantic form does not apply (WRAP with N bits, WRAP_SM, a 1-bit
    SAT_SYM target, or values that a shift could push past int64); the slots are
    :data:`fixsim.layers._kernels_narrow.FAST` .. ``S``.
    """
    d = acc.frac_bits - res.frac_bits
    semantic = res.overflow in _SEMANTIC or (res.overflow == Overflow.AP_WRAP and res.sat_bits == 0)
    sym_min = res.overflow == Overflow.AP_SAT_SYM and res.signed
    if (not semantic or (sym_min and res.width == 1) or acc.width + max(0, -d) > 63
            or res.width > 63):
        return None
    sym_rule = sym_min and acc.signed and headers_check_overflow(acc, res)
    c = np.zeros(KN.S + 1, np.int64)
    c[KN.FAST], c[KN.D], c[KN.LO], c[KN.HI] = 1, d, res.raw_min, res.raw_max
    c[KN.Q], c[KN.O] = int(res.quantization), int(res.overflow)
    c[KN.SYM_MIN], c[KN.SYM_RULE] = sym_min, sym_rule
    c[KN.W], c[KN.S] = res.width, res.signed
    return c


def _prepare_mac(layer, raw: dict, method: str) -> _Mac:
    cfg = mac_config(layer)
    w = raw[f"{layer.name}.weight"]
    if isinstance(layer, Dense) and layer.input_permutation is not None:
        w = np.ascontiguousarray(w[:, hwc_permutation(*layer.input_permutation)])
    bias = raw.get(f"{layer.name}.bias")
    bias_acc = bias_in_accum(cfg, bias, w.shape[0])
    w2d = w.reshape(w.shape[0], -1)
    l1 = int(np.abs(w2d).sum(axis=1).max()) if w2d.size else 0
    acc = cfg.accum
    cr = result_descriptor(acc, cfg.result)
    narrow = (method in ("auto", "direct") and cfg.shift >= 0 and cr is not None
              and cfg.activation in ("linear", "relu")
              and (cfg.activation_on == "result" or cfg.activation == "linear")
              and (acc.overflow != Overflow.AP_WRAP or acc.sat_bits == 0)
              and w2d.size > 0 and int(np.abs(w2d).max()) <= _INT32_LIMIT)
    xbound = _max_abs_raw(cfg.in_format)
    free = order_free_reason(cfg, xbound, w2d, bias_acc, False) is None
    step = _Mac(layer=layer, cfg=cfg, method=method, w=w, bias=bias, bias_acc=bias_acc,
                narrow=narrow, wn=w.astype(np.int32) if narrow else None, l1=l1,
                free_any_input=free, int32_any_input=l1 * xbound <= _INT32_LIMIT, cr=cr)
    if narrow and free and step.int32_any_input:
        step.static = step._sums(xbound)
    return step


def as_batch(spec, x, what: str) -> np.ndarray:
    """``x`` as an (N, C, H, W) batch of ``spec``'s input (one frame gains the N axis)."""
    arr = np.asarray(x)
    if arr.shape == spec.input_shape:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != spec.input_shape:
        raise InputError(f"{what} must have shape (N, {', '.join(map(str, spec.input_shape))}) "
                         f"or {spec.input_shape}, got {arr.shape}")
    return arr


class Model:
    """A spec with its weights, ready to run (build it with :func:`prepare`).

    Attributes
    ----------
    spec : ModelSpec
    narrow_layers : tuple of str
        conv2d/dense layers fit for the narrow kernels (the call's data may still send
        one to the layer functions when its bound is not proved for any input).
    """

    def __init__(self, spec, weights: dict, *, method="auto"):
        self.spec = spec = load_spec(spec)
        raw = check_weights(spec, weights)
        methods = resolve_methods(spec, method)
        self._steps = [_prepare_mac(l, raw, methods[l.name]) if isinstance(l, (Conv2D, Dense))
                       else l for l in spec.layers]
        self.narrow_layers = tuple(s.layer.name for s in self._steps
                                   if isinstance(s, _Mac) and s.narrow)
        self._blas = any(isinstance(s, _Mac) and not (s.narrow and s.free_any_input)
                         for s in self._steps)
        self._carry = [carry_dtype(l.out_format) for l in spec.layers]
        self._in_carry = carry_dtype(spec.input_format)
        f = spec.input_format
        self._inside = (f.min + f.lsb, f.max - f.lsb)  # cannot round out of the format

    def __repr__(self) -> str:
        return (f"Model({self.spec.name!r}, {len(self.spec.layers)} layers, "
                f"narrow={list(self.narrow_layers)})")

    def _checked(self, x) -> np.ndarray:
        """The input batch as an (N, C, H, W) array of floats or range-checked raw integers."""
        spec = self.spec
        arr = as_batch(spec, x, "input")
        if arr.dtype.kind in "iub":
            return check_raw(arr, spec.input_format, "input")
        if arr.dtype.kind != "f":
            raise InputError(f"input must be floats or raw integers, got dtype {arr.dtype}")
        return arr

    def _raw(self, arr: np.ndarray) -> np.ndarray:
        """Rows of :meth:`_checked` as int64 raw (floats quantized, without the warning)."""
        if arr.dtype.kind == "f":
            return quantize(arr, self.spec.input_format, warn=False).astype(np.int64, copy=False)
        return arr.astype(np.int64)

    def _warn_saturated(self, arr: np.ndarray) -> None:
        """The quantizer's one warning for the whole batch, if any input leaves the format.

        A value strictly inside (min + lsb, max - lsb) cannot round out of the range, so
        only frames with a value outside it (or NaN) are quantized again, with the warning
        on: its counts are those of the whole batch.
        """
        if arr.dtype.kind != "f" or not arr.size:
            return
        lo, hi = self._inside
        inside = (arr > lo) & (arr < hi)
        rows = np.flatnonzero(~inside.reshape(len(arr), -1).all(axis=1))
        if rows.size:
            quantize(arr[rows], self.spec.input_format)

    def input_raw(self, x) -> np.ndarray:
        """The input batch as raw int64 mantissas (floats quantized; integers range-checked)."""
        arr = self._checked(x)
        self._warn_saturated(arr)
        return self._raw(arr)

    def run(self, x, *, taps: bool = True, return_methods: bool = False,
            threads: int | None = None, chunk: int | None = None, narrow: bool = False):
        """Bit-exact inference of a batch; same arguments and results as :func:`fixsim.network.run`.

        ``chunk``: images per work item (default :data:`CHUNK`); the bits never depend on
        it nor on ``threads``.  Each work item quantizes its own frames (serially, in
        fixsim's pool: no second pool of threads competes with it).  ``narrow``: return
        each tap in the narrowest of int16/int32/int64 that holds its format (int16 for
        every specklenn-snl tap: a quarter of the memory; same values).

        Returns
        -------
        dict name -> int64 array [, dict name -> method]  (narrow layers report "direct")
        """
        nthreads = resolve_threads(threads)
        arr = self._checked(x)
        self._warn_saturated(arr)
        n = len(arr)
        in_dt = self._in_carry if narrow else np.int64
        outs = {"input": np.empty(arr.shape, in_dt)} if taps else {}  # dataflow order
        outs.update(self._outputs(n, taps, narrow))
        step = max(1, min(chunk or CHUNK, -(-n // nthreads)))
        parts = [slice(i, min(i + step, n)) for i in range(0, n, step)] or [slice(0, 0)]

        def work(sl):
            used: dict[str, str] = {}
            xr = self._raw(arr[sl])
            if taps:
                outs["input"][sl] = xr
            self._forward(xr, sl, outs, taps, used)
            return used

        if self._blas:
            with blas_single_thread():
                useds = pool_map(work, parts, nthreads)
        else:
            useds = pool_map(work, parts, nthreads)
        if not return_methods:
            return outs
        return outs, {k: "+".join(sorted({u[k] for u in useds})) for k in useds[0]}

    def _outputs(self, n: int, taps: bool, narrow: bool = False) -> dict:
        """Preallocated outputs, int64 or (``narrow``) each layer's carry dtype.

        Flatten taps in chw order are views of their input's.
        """
        layers = self.spec.layers
        outs = {}
        for i, layer in enumerate(layers):
            if not taps and i < len(layers) - 1:
                continue
            if taps and isinstance(layer, Flatten) and layer.order == "chw" and i > 0:
                outs[layer.name] = outs[layers[i - 1].name].reshape(n, -1)
            else:
                dt = self._carry[i] if narrow else np.int64
                outs[layer.name] = np.empty((n, *layer.out_shape), dt)
        return outs

    def layer_seconds(self, x, *, taps: bool = False, repeat: int = 3) -> dict[str, float]:
        """Seconds per layer for the batch ``x`` in this thread (min over ``repeat`` runs).

        A conv2d fused with the max pool after it is one stage, named ``"conv+pool"``
        (e.g. ``"conv1+pool1"``); the input quantization is ``"input"``.
        """
        best: dict[str, float] = {}
        for _ in range(max(1, repeat)):
            t = time.perf_counter()
            xr = self.input_raw(x)
            clock = {"input": time.perf_counter() - t}
            n = len(xr)
            self._forward(xr, slice(0, n), self._outputs(n, taps), taps, {}, clock)
            for k, v in clock.items():
                best[k] = min(best.get(k, v), v)
        return best

    def _forward(self, x, sl: slice, outs: dict, keep: bool, used: dict,
                 clock: dict | None = None) -> None:
        last = len(self.spec.layers) - 1
        cur = x.astype(self._in_carry) if self._in_carry != np.int64 else x
        i = 0
        while i <= last:
            t0 = time.perf_counter() if clock is not None else 0.0
            cur, j = self._step(i, cur, sl, outs, keep, used)
            if clock is not None:
                clock["+".join(l.name for l in self.spec.layers[i:j])] = time.perf_counter() - t0
            i = j

    def _step(self, i: int, cur, sl: slice, outs: dict, keep: bool, used: dict):
        """Run layer i (and the pool fused after it); returns (its output, next layer index)."""
        steps, layers = self._steps, self.spec.layers
        last = len(layers) - 1
        layer, step = layers[i], steps[i]
        fused = (isinstance(step, _Mac) and isinstance(layer, Conv2D) and i < last
                 and isinstance(layers[i + 1], MaxPool2D))
        dst = self._dst(outs, i, sl, len(cur), keep,
                        1 if fused and step.narrow and not keep else None)
        if isinstance(step, _Mac):
            plan = None if step.method not in ("auto", "direct") else step.narrow_acc(cur)
            if plan is None:
                res, used[layer.name] = self._generic_mac(step, cur)
                if len(dst) != len(res):  # the fused path's one-image scratch
                    dst = self._dst(outs, i, sl, len(cur), keep)
                dst[...] = res
            elif fused:
                pdst = self._dst(outs, i + 1, sl, len(cur), keep)
                self._conv_pool(step, cur, plan, dst, pdst, layers[i + 1], keep)
                used[layer.name] = "direct"
                self._store(outs, layer.name, sl, dst)
                self._store(outs, layers[i + 1].name, sl, pdst)
                return pdst, i + 2
            else:
                self._narrow_mac(step, cur, plan, dst)
                used[layer.name] = "direct"
        elif isinstance(layer, MaxPool2D):
            rowmax = np.empty(cur.shape[3], cur.dtype)
            KN._maxpool(cur, *layer.kernel, *layer.stride, rowmax, dst)
        elif isinstance(layer, Flatten):
            if layer.order == "chw":
                flat = cur.reshape(len(cur), layer.out_shape[0])
                if (keep and i == 0) or (not keep and i == last):
                    dst[...] = flat  # otherwise the tap is a view of its input's
                dst = flat
            else:
                dst[...] = flatten(cur, layer.order)
        elif isinstance(layer, ActivationLayer):
            act = layer.activation
            dst[...] = activation(cur, layer.in_format, act.kind, act.alpha_raw or 0,
                                  act.alpha_format)
        else:  # pragma: no cover - the spec loader knows every type
            raise InputError(f"layer type {layer.type!r} is not implemented")
        self._store(outs, layer.name, sl, dst)
        return dst, i + 1

    def _dst(self, outs: dict, i: int, sl: slice, n: int, keep: bool,
             scratch: int | None = None) -> np.ndarray:
        """Where layer i writes: its tap's rows, else a narrow scratch (of ``scratch`` images)."""
        layer = self.spec.layers[i]
        kept = keep or i == len(self.spec.layers) - 1
        if kept and outs[layer.name].dtype == self._carry[i]:
            return outs[layer.name][sl]
        # Outputs are int64, but the kernels write the narrow carry dtype whether or not
        # taps are kept (_store copies): fewer compiled specializations, a faster first run.
        return np.empty((n if kept else scratch or n, *layer.out_shape), self._carry[i])

    @staticmethod
    def _store(outs: dict, name: str, sl: slice, res: np.ndarray) -> None:
        """Copy a layer's narrow result into its int64 output (if it has one)."""
        out = outs.get(name)
        if out is not None and not np.may_share_memory(out, res):
            out[sl] = res

    def _generic_mac(self, step: _Mac, cur):
        layer = step.layer
        if isinstance(layer, Conv2D):
            return conv2d(cur, step.w, step.bias, step.cfg, stride=layer.stride,
                          padding=layer.padding, method=step.method, return_method=True)
        return dense(cur, step.w, step.bias, step.cfg, method=step.method, return_method=True)

    def _narrow_mac(self, step: _Mac, cur, plan, dst) -> None:
        layer = step.layer
        acc_dt, fin32 = plan
        if isinstance(layer, Dense):
            acc = np.empty(len(step.wn), acc_dt)
            KN._dense(cur, step.wn, step.bias_acc, *step.finish_args(fin32), acc, dst)
            return
        xp, acc = _conv_operands(cur, layer, acc_dt)
        KN._conv(xp, step.wn, step.bias_acc, *layer.stride, *step.finish_args(fin32), acc, dst)

    def _conv_pool(self, step: _Mac, cur, plan, dst, pdst, pool: MaxPool2D, keep) -> None:
        layer = step.layer
        acc_dt, fin32 = plan
        xp, acc = _conv_operands(cur, layer, acc_dt)
        conv_out = dst  # the conv tap's rows, or one image's scratch
        rowmax = np.empty(layer.out_shape[2], dst.dtype)
        KN._conv_pool(xp, step.wn, step.bias_acc, *layer.stride, *step.finish_args(fin32), acc,
                      conv_out, keep, *pool.kernel, *pool.stride, rowmax, pdst)


#: Output rows are computed in multiples of this many columns (whole AVX2 vectors of int32).
_LANES = 8


def _conv_operands(x, layer: Conv2D, acc_dt):
    """The zero-padded input and the sum row of the narrow conv kernel.

    With stride 1 and int32 sums the row is widened to a multiple of :data:`_LANES` and
    the input gets as many extra zero columns on the right: the extra sums are computed
    and never read (only the first OW enter the result stage), and the loop has no
    scalar remainder.
    """
    ph, pw = layer.padding
    ow = layer.out_shape[2]
    extra = (-ow) % _LANES if (layer.stride[1] == 1 and acc_dt == np.int32) else 0
    if ph or pw or extra:  # (np.pad costs more than the copy at batch 1)
        n, c, h, w = x.shape
        xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw + extra), x.dtype)
        xp[:, :, ph:ph + h, pw:pw + w] = x
        x = xp
    return x, np.empty(ow + extra, acc_dt)


def prepare(spec, weights: dict, *, method="auto") -> Model:
    """Validate and lay out ``weights`` for ``spec`` once; returns a :class:`Model`.

    Parameters
    ----------
    spec : ModelSpec, name or path
    weights : dict
        Raw int64 mantissas, see :mod:`fixsim.network.weights`.
    method : str or dict
        As :func:`fixsim.network.run`; "auto" and "direct" layers may take the narrow
        kernels (which are the direct method: exact sums in any order).

    Raises
    ------
    InputError
        Bad weights or methods.
    """
    return Model(spec, weights, method=method)


__all__ = ["Model", "prepare", "mac_config", "carry_dtype", "result_descriptor", "resolve_methods",
           "CHUNK"]
