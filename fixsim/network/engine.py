"""The Python twin: whole-network inference, bit-exact (:func:`run`) and float64 (:func:`run_float`).

Taps (both functions) are a dict ``layer name -> array`` with a leading batch dimension:
``"input"`` (N, C, H, W) (the quantized input for :func:`run`), conv/pool/activation
layers on maps (N, C, H, W), flatten/dense layers (N, F).  :func:`run` returns raw int64
mantissas in each layer's output format, exactly as the C++ test bench writes them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import InputError
from ..fixed import check_raw, quantize
from ..layers import (MacConfig, activation, activation_float, conv2d, conv2d_float, dense,
                      dense_float, flatten, hwc_permutation, maxpool2d, maxpool2d_float)
from ..layers.mac import METHODS
from .spec import ActivationLayer, Conv2D, Dense, Flatten, MaxPool2D, ModelSpec, load_spec
from .weights import check_weights
from .._threads import resolve_threads

#: Images per work item: small enough that the intermediate maps stay in the CPU caches.
CHUNK = 8


def _slices(n: int, threads: int) -> list[slice]:
    step = max(1, min(CHUNK, -(-n // max(threads, 1))))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)] or [slice(0, 0)]


def mac_config(layer) -> MacConfig:
    """The :class:`~fixsim.layers.MacConfig` (``CONFIG_T``) of a conv2d/dense spec layer."""
    act = layer.activation
    return MacConfig(in_format=layer.in_format, weight=layer.formats.weight,
                     bias=layer.formats.bias, accum=layer.formats.accum,
                     result=layer.formats.result, product=layer.options.product,
                     sum_order=layer.options.sum_order, activation=act.kind,
                     alpha_raw=act.alpha_raw or 0, alpha_format=act.alpha_format,
                     activation_on=layer.options.activation_on)


def _batch(spec: ModelSpec, x, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape == spec.input_shape:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != spec.input_shape:
        raise InputError(f"{what} must have shape (N, {', '.join(map(str, spec.input_shape))}) "
                         f"or {spec.input_shape}, got {arr.shape}")
    return arr


def _methods(spec: ModelSpec, method) -> dict[str, str]:
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


def _prepared(spec: ModelSpec, raw: dict) -> dict:
    """Per-layer (weight, bias) with hwc-flatten permutations applied to dense columns."""
    prep = {}
    for layer in spec.mac_layers:
        w = raw[f"{layer.name}.weight"]
        if isinstance(layer, Dense) and layer.input_permutation is not None:
            w = np.ascontiguousarray(w[:, hwc_permutation(*layer.input_permutation)])
        prep[layer.name] = (w, raw.get(f"{layer.name}.bias"))
    return prep


def run(spec, weights: dict, x, *, taps: bool = True, method="auto",
        return_methods: bool = False, threads: int | None = None):
    """Bit-exact inference of a batch through the whole network.

    Parameters
    ----------
    spec : ModelSpec, name or path
    weights : dict
        Raw int64 mantissas, see :mod:`fixsim.network.weights`.
    x : array (N, C, H, W) or (C, H, W)
        Floats are quantized to the input format (the ``ap_fixed(double)`` constructor;
        float32 is widened first); integers are taken as raw input mantissas.
    taps : bool
        Keep every layer's output (and ``"input"``); otherwise only the last layer's.
    method : str or dict
        "auto" (default: the fastest path that is provably exact, per layer),
        "sequential", "direct" or "gemm", for all conv2d/dense layers or per layer name.
    return_methods : bool
        Also return ``{layer: path that ran}`` ("a+b" if slices of the batch took
        different, equally exact, paths).
    threads : int, optional
        Threads over slices of the batch (default: the CPUs this process may use).
        Each image is computed by the same serial kernels whatever the count, so the
        bits never depend on it.

    Returns
    -------
    dict name -> int64 array [, dict name -> method]

    Raises
    ------
    InputError
        Wrong input shape or dtype, raw values outside the input format, bad weights.
    FormatError
        A forced order-free method that is not provably exact for the data.
    """
    spec = load_spec(spec)
    raw_w = check_weights(spec, weights)
    methods = _methods(spec, method)
    arr = _batch(spec, x, "input")
    if arr.dtype.kind in "iub":
        xr = check_raw(arr, spec.input_format, "input").astype(np.int64)
    elif arr.dtype.kind == "f":
        xr = quantize(arr, spec.input_format).astype(np.int64)
    else:
        raise InputError(f"input must be floats or raw integers, got dtype {arr.dtype}")
    prep = _prepared(spec, raw_w)
    parts = _slices(len(xr), resolve_threads(threads))

    def work(sl):
        used: dict[str, str] = {}
        return _forward(spec, prep, xr[sl], methods, used, taps), used

    if len(parts) == 1:
        results = [work(parts[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(resolve_threads(threads), len(parts))) as pool:
            results = list(pool.map(work, parts))
    chunks = [r[0] for r in results]
    out = chunks[0] if len(chunks) == 1 else {
        k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    if not return_methods:
        return out
    used = {name: "+".join(sorted({r[1][name] for r in results})) for name in results[0][1]}
    return out, used


def _forward(spec: ModelSpec, prep: dict, xr: np.ndarray, methods: dict, used: dict,
             keep: bool) -> dict:
    taps = {"input": xr} if keep else {}
    cur = xr
    for layer in spec.layers:
        if isinstance(layer, Conv2D):
            w, b = prep[layer.name]
            cur, used[layer.name] = conv2d(cur, w, b, mac_config(layer), stride=layer.stride,
                                           padding=layer.padding, method=methods[layer.name],
                                           return_method=True)
        elif isinstance(layer, Dense):
            w, b = prep[layer.name]
            cur, used[layer.name] = dense(cur, w, b, mac_config(layer), method=methods[layer.name],
                                          return_method=True)
        elif isinstance(layer, MaxPool2D):
            cur = maxpool2d(cur, layer.kernel, layer.stride, layer.ceil_mode)
        elif isinstance(layer, Flatten):
            cur = flatten(cur, layer.order)
        elif isinstance(layer, ActivationLayer):
            act = layer.activation
            cur = activation(cur, layer.in_format, act.kind, act.alpha_raw or 0, act.alpha_format)
        else:  # pragma: no cover - the spec loader knows every type
            raise InputError(f"layer type {layer.type!r} is not implemented")
        if keep:
            taps[layer.name] = cur
    if not keep:
        taps[spec.layers[-1].name] = cur
    return taps


def run_float(spec, float_weights: dict, x, *, taps: bool = True) -> dict:
    """The same network in float64 without any quantization (weights and input as given).

    Parameters
    ----------
    float_weights : dict
        Float arrays with the names and PyTorch layouts of the raw weights.
    x : array (N, C, H, W) or (C, H, W) of numbers

    Returns
    -------
    dict name -> float64 array (taps as in :func:`run`, ``"input"`` = x as float64)
    """
    spec = load_spec(spec)
    shapes = spec.weight_shapes()
    fw = {}
    for name, shape in shapes.items():
        if name not in float_weights:
            raise InputError(f"float weights: missing tensor {name!r}")
        arr = np.asarray(float_weights[name], np.float64)
        if arr.shape != shape:
            raise InputError(f"float weights[{name!r}] has shape {arr.shape}, expected {shape}")
        fw[name] = arr
    cur = _batch(spec, x, "input").astype(np.float64)
    out = {"input": cur} if taps else {}
    for layer in spec.layers:
        if isinstance(layer, (Conv2D, Dense)):
            w, b = fw[f"{layer.name}.weight"], fw.get(f"{layer.name}.bias")
            if isinstance(layer, Conv2D):
                cur = conv2d_float(cur, w, b, stride=layer.stride, padding=layer.padding)
            else:
                if layer.input_permutation is not None:
                    w = w[:, hwc_permutation(*layer.input_permutation)]
                cur = dense_float(cur, w, b)
            cur = activation_float(cur, layer.activation.kind, layer.activation.alpha or 0.0)
        elif isinstance(layer, MaxPool2D):
            cur = maxpool2d_float(cur, layer.kernel, layer.stride, layer.ceil_mode)
        elif isinstance(layer, Flatten):
            cur = flatten(cur, layer.order)
        else:
            cur = activation_float(cur, layer.activation.kind, layer.activation.alpha or 0.0)
        if taps:
            out[layer.name] = cur
    if not taps:
        out[spec.layers[-1].name] = cur
    return out


__all__ = ["run", "run_float", "mac_config", "CHUNK"]
