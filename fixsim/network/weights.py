"""Network weights: raw int64 mantissas per ``"<layer>.weight"`` / ``"<layer>.bias"``.

Layouts are PyTorch's: conv (Cout, Cin, KH, KW), dense (Out, In) with the In columns in
(c, h, w)-flatten order even when the spec flattens in hwc order (the engines permute
internally), bias (Cout,) / (Out,).  Raw values are in the layer's weight/bias formats.
Each layer declares its tensors (:meth:`~fixsim.network.spec_types.Layer.tensors`).
"""

from __future__ import annotations

import numpy as np

from .._validate import check_choice, check_int
from ..errors import InputError, closest
from ..fixed import FixedType, check_raw, quantize, to_float
from ..fixed.format import as_format
from .spec import ModelSpec, load_spec

#: How float weights become raw mantissas: "double" (the ``ap_fixed(double)``
#: constructor), "hls4ml" (printed with F decimals and read back, :func:`quantize_printed`),
#: "auto" ("hls4ml" for a spec in the hls4ml dialect, else "double").
ROUNDINGS = ("auto", "double", "hls4ml")


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


def quantize_printed(values, fmt: "FixedType | str", decimals: int | None = None, *,
                     warn: bool = True) -> np.ndarray:
    """hls4ml's weight quantization: print, read back, construct.

    hls4ml writes each weight as text with ``F = max(0, frac_bits)`` decimals
    (``WeightVariable``: ``'{:.Ff}'.format(w)``, correctly rounded, ties to even on the
    exact binary value); the C simulation reads it with ``istream >> double`` (correctly
    rounded) and assigns ``ap_fixed(double)`` (``nnet::load_weights_from_txt``; synthesis
    compiles the same text as C++ literals).  Two roundings: the decimal one, then the
    format's Q and O modes.

    Parameters
    ----------
    values : array of floats (float32 is widened exactly first)
    fmt : FixedType or format text
    decimals : int, optional
        Digits after the point (default: hls4ml's ``max(0, frac_bits)``).

    Returns
    -------
    numpy.ndarray of raw mantissas (``fmt.raw_dtype``), the shape of ``values``.

    Raises
    ------
    InputError
        Non-finite values, negative ``decimals``.

    >>> quantize_printed([0.15625, 0.0390625], "ap_fixed<8,4,AP_RND,AP_SAT>").tolist()  # '0.1562', '0.0391'
    [2, 1]
    >>> quantize([0.15625, 0.0390625], "ap_fixed<8,4,AP_RND,AP_SAT>").tolist()  # one rounding
    [3, 1]
    """
    fmt = as_format(fmt)
    arr = np.asarray(values, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise InputError("values printed for hls4ml's weight quantization must be finite")
    digits = max(0, fmt.frac_bits) if decimals is None else check_int("decimals", decimals,
                                                                        minimum=0)
    text = f".{digits}f"
    back = np.array([float(format(v, text)) for v in arr.reshape(-1).tolist()], np.float64)
    return quantize(back.reshape(arr.shape), fmt, warn=warn)


def quantize_weights(spec, float_weights: dict, *, warn: bool = True,
                     rounding: str = "auto") -> dict[str, np.ndarray]:
    """Quantize float arrays (PyTorch names and layouts) into the spec's formats.

    ``rounding`` "double": each value goes through the ``ap_fixed(double)`` constructor of
    its format, so the format's rounding and overflow modes apply (a
    :class:`~fixsim.fixed.FixsimWarning` counts saturated values when ``warn``).
    "hls4ml": as hls4ml writes and reads weights (:func:`quantize_printed`), so weights
    exported by hls4ml reproduce exactly.  "auto" (default): "hls4ml" for a spec in the
    hls4ml dialect, else "double".

    Raises
    ------
    InputError
        Names or shapes that do not match the spec, non-numeric or non-finite values,
        an unknown ``rounding``.
    """
    spec = load_spec(spec)
    check_choice("rounding", rounding, ROUNDINGS)
    if rounding == "auto":
        rounding = "hls4ml" if spec.dialect is not None and spec.dialect.name == "hls4ml" else "double"
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
        if rounding == "hls4ml":
            raw = quantize_printed(arr, fmts[name], warn=warn)
        else:
            raw = quantize(arr.astype(np.float64), fmts[name], warn=warn)
        out[name] = raw.astype(np.int64)
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


__all__ = ["ROUNDINGS", "check_weights", "quantize_weights", "quantize_printed",
           "dequantize_weights", "random_float_weights", "random_weights"]
