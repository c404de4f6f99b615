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

import numpy as np

from .._threads import blas_single_thread, pool_map, resolve_threads
from ..errors import InputError
from ..fixed import FixedType, Overflow, Quantization, check_raw, quantize
from ..fixed import specialized as SQ
from ..fixed.ops import _fast_quantize_ok, _warn_counts
from ..layers._counting import add_events
from ..layers.mac import METHODS
from .kinds import REGISTRY, MacStep, mac_config
from .kinds.mac import result_descriptor
from .spec import ModelSpec, load_spec
from .weights import check_weights

#: Images per work item: small enough that the intermediate maps stay in the CPU caches
#: (specklenn-snl's pool1 output of 16 images is 215 kB of int16), large enough that the
#: Python between kernels and the pool's hand-offs are a small share (measured, 2 threads,
#: 256 frames, 25 interleaved repeats: 16 images 12% faster than 8 on the median; 32 and
#: 64 within 2% of 16).
CHUNK = 16


def carry_dtype(fmt: FixedType):
    """The narrowest of int16/int32/int64 that holds every raw value of ``fmt``."""
    for dt in (np.int16, np.int32):
        info = np.iinfo(dt)
        if fmt.raw_min >= info.min and fmt.raw_max <= info.max:
            return dt
    return np.int64


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


def as_batch(spec, x, what: str) -> np.ndarray:
    """``x`` as an (N, *input_shape) batch of ``spec``'s input (one frame gains the N axis)."""
    arr = np.asarray(x)
    if arr.shape == spec.input_shape:
        arr = arr[None]
    if arr.ndim != 1 + len(spec.input_shape) or arr.shape[1:] != spec.input_shape:
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
        self._kinds = [REGISTRY[l.type] for l in spec.layers]
        self._steps = [k.prepare(l, raw, methods.get(l.name, "auto"))
                       for k, l in zip(self._kinds, spec.layers, strict=True)]
        macs = [s for s in self._steps if isinstance(s, MacStep)]
        self.narrow_layers = tuple(s.layer.name for s in macs if s.narrow)
        self._blas = any(not (s.narrow and s.free_any_input) for s in macs)
        last = len(spec.layers) - 1
        self._fused = [i < last and spec.layers[i + 1].type in k.fuses_with
                       for i, k in enumerate(self._kinds)]
        self._carry = [carry_dtype(l.out_format) for l in spec.layers]
        self._in_carry = carry_dtype(spec.input_format)
        f = spec.input_format
        self._inside = (f.min + f.lsb, f.max - f.lsb)  # cannot round out of the format
        # the double quantizer called per work item (no GIL; counts summed for one warning)
        self._quant = None
        if _fast_quantize_ok(f):
            sym = f.overflow == Overflow.AP_SAT_SYM and f.signed and f.width > 1
            self._quant = (SQ.quantizer(int(f.quantization), int(f.overflow), sym),
                           (f.frac_bits, f.raw_min, f.raw_max, 64 - f.width, f.signed))
        self._fsat = ((2.0 ** f.frac_bits, f.raw_min, f.raw_max,
                       f.quantization == Quantization.AP_RND)
                      if self._quant is not None and SQ.float_sat_ok(f) else None)

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

    def _quantized(self, arr: np.ndarray, tap: np.ndarray | None, counts: np.ndarray):
        """Float rows quantized as raw values, into ``tap`` (else a new array of the input's
        carry dtype or int64); ``counts`` gets the quantizer's (NaN, inf, out of range,
        rounded) counts.  AP_SAT inputs with AP_RND/AP_TRN take the vectorized
        :func:`~fixsim.fixed.specialized.quantize_sat_floats` (the same bits and counts
        for finite values; a slice with a NaN or inf is quantized again by the headers'
        reading of the double)."""
        flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)  # float32 -> double
        if self._fsat is not None:
            dst = tap if tap is not None else np.empty(arr.shape, self._in_carry)
            finite, outside, rounded = SQ.quantize_sat_floats(flat, *self._fsat, dst.reshape(-1))
            if finite:
                counts[:] = (0, 0, outside, rounded)
                return dst
        kernel, args = self._quant
        xr = tap if tap is not None and tap.dtype == np.int64 else np.empty(arr.shape, np.int64)
        counts[:] = kernel(flat.view(np.uint64), *args, xr.reshape(-1))
        if tap is not None and tap is not xr:
            tap[...] = xr
        return xr

    def input_raw(self, x) -> np.ndarray:
        """The input batch as raw int64 mantissas (floats quantized; integers range-checked)."""
        arr = self._checked(x)
        self._warn_saturated(arr)
        return self._raw(arr)

    def run(self, x, *, taps: bool = True, return_methods: bool = False,
            threads: int | None = None, chunk: int | None = None, narrow: bool = False,
            events: dict | None = None, out: dict | None = None):
        """Bit-exact inference of a batch; same arguments and results as :func:`fixsim.network.run`.

        ``chunk``: images per work item (default :data:`CHUNK`); the bits never depend on
        it nor on ``threads``.  Each work item quantizes its own frames (serially, in
        fixsim's pool: no second pool of threads competes with it).  ``narrow``: return
        each tap in the narrowest of int16/int32/int64 that holds its format (int16 for
        every specklenn-snl tap: a quarter of the memory; same values).  ``events``: a
        dict that receives the conversion events the run counts, ``{layer: {tensor:
        {"n", "rounded", "saturated", "wrapped"}}}``: every conv2d/dense-like layer then
        runs the "counted" path (contract order, :func:`fixsim.layers.mac.counted`; same
        bits, slower), and ``"input"`` gets the input quantizer's counts (float input).
        ``out``: the arrays to write into, e.g. the result of an earlier call with the same
        batch size, ``taps`` and ``narrow`` (every name, shape and dtype must match; they
        are returned filled): repeated calls then allocate no output memory (the page
        faults of fresh tap arrays cost more than the narrow kernels' conversions).

        Returns
        -------
        dict name -> int64 array [, dict name -> method]  (narrow layers report "direct")
        """
        nthreads = resolve_threads(threads)
        arr = self._checked(x)
        # Floats are quantized by each work item, without the GIL, counting what saturates
        # (one warning for the batch after the pool, same counts as quantize's).
        fastq = arr.dtype.kind == "f" and self._quant is not None
        if not fastq:
            self._warn_saturated(arr)
        n = len(arr)
        in_dt = self._in_carry if narrow else np.int64
        outs = {"input": np.empty(arr.shape, in_dt)} if taps else {}  # dataflow order
        outs.update(self._outputs(n, taps, narrow))
        if out is not None:
            outs = self._reuse(out, outs)
        step = max(1, min(chunk or CHUNK, -(-n // nthreads)))
        parts = [slice(i, min(i + step, n)) for i in range(0, n, step)] or [slice(0, 0)]
        counts = np.zeros((len(parts), 4), np.int64)  # NaN, inf, out of range, rounded
        counted = [None if events is None else {} for _ in parts]

        def work(k):
            sl, used = parts[k], {}
            if fastq:
                xr = self._quantized(arr[sl], outs["input"][sl] if taps else None, counts[k])
            else:
                xr = self._raw(arr[sl])
                if taps:
                    outs["input"][sl] = xr
            self._forward(xr, sl, outs, taps, used, events=counted[k])
            return used

        if self._blas:
            with blas_single_thread():
                useds = pool_map(work, range(len(parts)), nthreads)
        else:
            useds = pool_map(work, range(len(parts)), nthreads)
        if fastq and counts[:, :3].any():
            _warn_counts(self.spec.input_format, "quantize", *map(int, counts.sum(axis=0)[:3]))
        if events is not None:
            for part in counted:
                add_events(events, part)
            if fastq:
                events["input"] = {"input": self._input_events(counts.sum(axis=0), arr.size)}
        if not return_methods:
            return outs
        return outs, {k: "+".join(sorted({u[k] for u in useds})) for k in useds[0]}

    @staticmethod
    def _reuse(given: dict, fresh: dict) -> dict:
        """``given`` checked against the arrays a call would allocate (``fresh``)."""
        if not isinstance(given, dict) or set(given) != set(fresh):
            keys = sorted(given) if isinstance(given, dict) else type(given).__name__
            raise InputError(f"out must be a dict with the keys {sorted(fresh)}, got {keys}")
        for k, a in fresh.items():
            g = given[k]
            if (not isinstance(g, np.ndarray) or g.shape != a.shape or g.dtype != a.dtype
                    or not g.flags.writeable):
                raise InputError(f"out[{k!r}] must be a writeable {a.dtype} array of shape "
                                 f"{a.shape}, got {getattr(g, 'dtype', type(g).__name__)} "
                                 f"{getattr(g, 'shape', '')}")
        return {k: given[k] for k in fresh}  # dataflow order

    def _outputs(self, n: int, taps: bool, narrow: bool = False) -> dict:
        """Preallocated outputs, int64 or (``narrow``) each layer's carry dtype.

        Taps of layers that only reshape (a chw flatten) are views of their input's.
        """
        layers = self.spec.layers
        outs = {}
        for i, layer in enumerate(layers):
            if not taps and i < len(layers) - 1:
                continue
            if taps and i > 0 and self._kinds[i].reshapes(layer):
                outs[layer.name] = outs[layers[i - 1].name].reshape(n, *layer.out_shape)
            else:
                dt = self._carry[i] if narrow else np.int64
                outs[layer.name] = np.empty((n, *layer.out_shape), dt)
        return outs

    def layer_seconds(self, x, *, taps: bool = False, repeat: int = 3) -> dict[str, float]:
        """Seconds per layer for the batch ``x`` in this thread (min over ``repeat`` runs).

        A conv2d fused with the max pool after it is one stage, named ``"conv+pool"``
        (e.g. ``"conv1+pool1"``); the input quantization is ``"input"`` (the serial
        quantizer that :meth:`run`'s work items call).
        """
        best: dict[str, float] = {}
        for _ in range(max(1, repeat)):
            t = time.perf_counter()
            arr = self._checked(x)
            if arr.dtype.kind == "f" and self._quant is not None:
                counts = np.zeros(4, np.int64)
                xr = self._quantized(arr, None, counts)
                if counts[:3].any():
                    _warn_counts(self.spec.input_format, "quantize", *map(int, counts[:3]))
            else:
                xr = self.input_raw(arr)
            clock = {"input": time.perf_counter() - t}
            n = len(xr)
            self._forward(xr, slice(0, n), self._outputs(n, taps), taps, {}, clock)
            for k, v in clock.items():
                best[k] = min(best.get(k, v), v)
        return best

    def _input_events(self, counts: np.ndarray, n: int) -> dict:
        """The input quantizer's counts (NaN, inf, out of range, rounded) of the run as
        events: NaN and inf are limited by the overflow mode like values out of range."""
        nan, inf, outside, rounded = map(int, counts)
        wraps = self.spec.input_format.overflow in (Overflow.AP_WRAP, Overflow.AP_WRAP_SM)
        limited = nan + inf + outside
        return {"n": n, "rounded": rounded, "saturated": 0 if wraps else limited,
                "wrapped": limited if wraps else 0, "nan": nan, "inf": inf}

    def _forward(self, x, sl: slice, outs: dict, keep: bool, used: dict,
                 clock: dict | None = None, events: dict | None = None) -> None:
        last = len(self.spec.layers) - 1
        cur = x.astype(self._in_carry, copy=False)
        i = 0
        while i <= last:
            t0 = time.perf_counter() if clock is not None else 0.0
            cur, j = self._step(i, cur, sl, outs, keep, used, events)
            if clock is not None:
                clock["+".join(l.name for l in self.spec.layers[i:j])] = time.perf_counter() - t0
            i = j

    def _step(self, i: int, cur, sl: slice, outs: dict, keep: bool, used: dict,
              events: dict | None = None):
        """Run layer i (and the layer fused after it); returns (its output, next layer index)."""
        layers, kind = self.spec.layers, self._kinds[i]
        io = Slot(self, outs, i, sl, len(cur), keep, used, events)
        layer = layers[i]
        counted = (None if events is None or isinstance(self._steps[i], MacStep) else
                   kind.run_counted(layer, self._steps[i], cur, ev := {}))
        if counted is not None:  # a weightless layer's conversions, counted
            events[layer.name] = ev
            y = io.dst()
            y[...] = counted
            self._store(outs, layer.name, sl, y)
            return y, i + 1
        if self._fused[i] and events is None:
            y, ny = kind.run_fused(layers[i], self._steps[i], layers[i + 1], cur, io,
                                   Slot(self, outs, i + 1, sl, len(cur), keep, used))
        else:
            y, ny = kind.run(layers[i], self._steps[i], cur, io), None
        self._store(outs, layers[i].name, sl, y)
        if ny is None:
            return y, i + 1
        self._store(outs, layers[i + 1].name, sl, ny)
        return ny, i + 2

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


class Slot:
    """Where layer ``i`` of one slice of the batch writes (the ``io`` of a kind's runner)."""

    __slots__ = ("model", "outs", "i", "sl", "n", "keep", "used", "events")

    def __init__(self, model: Model, outs: dict, i: int, sl: slice, n: int, keep: bool,
                 used: dict, events: dict | None = None):
        self.model, self.outs, self.i, self.sl, self.n = model, outs, i, sl, n
        self.keep, self.used = keep, used
        self.events = events  # {layer: counts} of a counted run (Model.run's events), or None

    def dst(self, scratch: int | None = None) -> np.ndarray:
        """The output rows to write: the tap's rows, else a carry-dtype scratch (of
        ``scratch`` images when the tap is not kept)."""
        return self.model._dst(self.outs, self.i, self.sl, self.n, self.keep, scratch)


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


__all__ = ["Model", "Slot", "prepare", "mac_config", "carry_dtype", "result_descriptor",
           "resolve_methods", "CHUNK"]
