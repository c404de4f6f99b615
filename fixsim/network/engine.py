"""The Python twin: whole-network inference, bit-exact (:func:`run`) and float64 (:func:`run_float`).

Taps (both functions) are a dict ``layer name -> array`` with a leading batch dimension:
``"input"`` (N, C, H, W) (the quantized input for :func:`run`), conv/pool/activation
layers on maps (N, C, H, W), flatten/dense layers (N, F).  :func:`run` returns raw int64
mantissas in each layer's output format, exactly as the C++ test bench writes them.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .kinds import REGISTRY
from .prepared import CHUNK, Model, as_batch, mac_config, prepare
from .spec import load_spec


def run(spec, weights, x, *, taps: bool = True, method="auto",
        return_methods: bool = False, threads: int | None = None):
    """Bit-exact inference of a batch through the whole network.

    Prepares the weights on every call; for repeated calls with the same weights,
    :func:`fixsim.network.prepare` once and call :meth:`Model.run` (same bits, no
    per-call validation).

    Parameters
    ----------
    spec : ModelSpec, name or path
    weights : dict or Model
        Raw int64 mantissas, see :mod:`fixsim.network.weights` (or a prepared
        :class:`~fixsim.network.prepared.Model` of this spec, then ``method`` must be "auto").
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
    if isinstance(weights, Model):
        if method != "auto" or weights.spec.spec_hash() != load_spec(spec).spec_hash():
            raise InputError("a prepared Model runs its own spec with the methods it was "
                             "prepared with; pass the raw weights to change them")
        model = weights
    else:
        model = prepare(spec, weights, method=method)
    return model.run(x, taps=taps, return_methods=return_methods, threads=threads, chunk=CHUNK)


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
    cur = as_batch(spec, x, "input").astype(np.float64)
    out = {"input": cur} if taps else {}
    for layer in spec.layers:
        cur = REGISTRY[layer.type].run_float(layer, cur, fw)
        if taps:
            out[layer.name] = cur
    if not taps:
        out[spec.layers[-1].name] = cur
    return out


__all__ = ["run", "run_float", "prepare", "Model", "mac_config", "CHUNK"]
