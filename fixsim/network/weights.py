"""Network weights: raw int64 mantissas per ``"<layer>.weight"`` / ``"<layer>.bias"``.

Layouts are PyTorch's: conv (Cout, Cin, KH, KW), dense (Out, In) with the In columns in
(c, h, w)-flatten order even when the spec flattens in hwc order (the engines permute
internally), bias (Cout,) / (Out,).  Raw values are in the layer's weight/bias formats.
Each layer declares its tensors (:meth:`~fixsim.network.spec_types.Layer.tensors`).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, closest
from ..fixed import check_raw, quantize, to_float
from .spec import ModelSpec, load_spec


def _names(spec: ModelSpec, given, what: str) -> None:
    expected = spec.weight_shapes()
    if not isinstance(given, dict):
        raise InputError(f"{what} must be a dict name -> array, got {type(given).__name__}")
    for name in given:
        if name not in expected:
            raise InputError(f"{what}: unexpected tensor {name!r}{closest(name, expected)}; "
                             f"spec {spec.name!r} has {', '.join(expected)}")
    for name in expected:
        if name not in given:
            raise InputError(f"{what}: missing tensor {name!r} for spec {spec.name!r}")


def check_weights(spec, weights: dict) -> dict[str, np.ndarray]:
    """Validate raw weights against a spec: names, shapes, integer dtype, format ranges.

    Returns
    -------
    dict of C-contiguous int64 arrays.

    Raises
    ------
    InputError
        A missing or unexpected name (with the closest valid one), a wrong shape, a
        non-integer array, or a raw value outside its format.
    """
    spec = load_spec(spec)
    _names(spec, weights, "weights")
    fmts = spec.weight_formats()
    out = {}
    for name, shape in spec.weight_shapes().items():
        arr = np.asarray(weights[name])
        if arr.shape != shape:
            raise InputError(f"weights[{name!r}] has shape {arr.shape}, expected {shape}")
        out[name] = check_raw(arr, fmts[name], f"weights[{name!r}]").astype(np.int64)
    return out


def quantize_weights(spec, float_weights: dict, *, warn: bool = True) -> dict[str, np.ndarray]:
    """Quantize float arrays (PyTorch names and layouts) into the spec's formats.

    Each value goes through the ``ap_fixed(double)`` constructor of its format, so the
    format's rounding and overflow modes apply (a :class:`~fixsim.fixed.FixsimWarning`
    counts saturated values when ``warn``).

    Raises
    ------
    InputError
        Names or shapes that do not match the spec, non-numeric or non-finite values.
    """
    spec = load_spec(spec)
    _names(spec, float_weights, "float weights")
    fmts = spec.weight_formats()
    out = {}
    for name, shape in spec.weight_shapes().items():
        arr = np.asarray(float_weights[name])
        if hasattr(float_weights[name], "detach"):  # a torch tensor
            arr = float_weights[name].detach().cpu().double().numpy()
        if arr.shape != shape:
            raise InputError(f"float weights[{name!r}] has shape {arr.shape}, expected {shape}")
        if arr.dtype.kind not in "fiu" or not np.all(np.isfinite(arr)):
            raise InputError(f"float weights[{name!r}] must be finite numbers")
        out[name] = quantize(arr.astype(np.float64), fmts[name], warn=warn).astype(np.int64)
    return out


def dequantize_weights(spec, weights: dict) -> dict[str, np.ndarray]:
    """Raw weights to their exact float64 values (same names and shapes)."""
    spec = load_spec(spec)
    raw = check_weights(spec, weights)
    fmts = spec.weight_formats()
    return {name: to_float(arr, fmts[name]) for name, arr in raw.items()}


def random_float_weights(spec, seed: int = 0, *, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Float64 weights drawn like PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Deterministic in ``seed`` (numpy PCG64); ``scale`` multiplies every bound.
    """
    spec = load_spec(spec)
    rng = np.random.default_rng(seed)
    out = {}
    for t in spec.tensors():  # layers in order, weight before bias
        bound = scale / np.sqrt(t.fan_in)
        out[t.name] = rng.uniform(-bound, bound, t.shape)
    return out


def random_weights(spec, seed: int = 0, *, scale: float = 1.0) -> dict[str, np.ndarray]:
    """:func:`random_float_weights` quantized to the spec (raw int64)."""
    return quantize_weights(spec, random_float_weights(spec, seed, scale=scale), warn=False)


__all__ = ["check_weights", "quantize_weights", "dequantize_weights", "random_float_weights",
           "random_weights"]
