"""Spec field parsers shared by the spec loader and the layer kinds (one wording for errors).

Every function takes ``where`` (e.g. ``"layer 2 ('conv1')"``) and raises a one-line
:class:`~fixsim.errors.InputError` or :class:`~fixsim.errors.FormatError` naming the value,
the rule and, for names, the closest valid one.

>>> pair(3, "kernel", "layer 0")
(3, 3)
>>> choice("hwc", ("chw", "hwc"), "order", "layer 0")
'hwc'
"""

from __future__ import annotations

import re

import numpy as np

from .._validate import check_int, check_number
from ..errors import FormatError, InputError, UndefinedInHeaders, closest
from ..fixed import FixedType, quantize
from ..fixed.ops import check_convertible
from ..layers.mac import ACTIVATION_ON, ACTIVATIONS, SUM_ORDERS  # defined once, with MacConfig
from ..layers.mac import PRODUCTS as PRODUCT_MODES
from .spec_types import Activation, Options

#: A layer name: it names C++ types and files.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Keys a resolved layer may carry; on load they are checked against the inferred values.
DERIVED = ("in_shape", "out_shape", "in_format", "out_format", "product_format", "params",
           "input_permutation")


def keys(obj: dict, allowed, required, where: str) -> None:
    """``obj`` is a dict with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be a JSON object, got {obj!r}")
    for k in obj:
        if k not in allowed:
            raise InputError(f"{where}: unknown key {k!r}{closest(k, allowed)}; "
                             f"allowed: {', '.join(allowed)}")
    for k in required:
        if k not in obj:
            raise InputError(f"{where}: missing required key {k!r}")


def choice(value, choices, what: str, where: str) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = closest(value, choices) if isinstance(value, str) else ""
        raise InputError(f"{where}: {what} {value!r} is not one of {', '.join(choices)}{hint}")
    return value


def integer(value, what: str, where: str, minimum: int = 1) -> int:
    return check_int(f"{where}: {what}", value, minimum=minimum)


def boolean(value, what: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{where}: {what} must be true or false, got {value!r}")
    return value


def pair(value, what: str, where: str, minimum: int = 1) -> tuple[int, int]:
    """An integer or ``[h, w]`` as a pair of integers >= ``minimum``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InputError(f"{where}: {what} must be an integer or a pair [h, w], got {value!r}")
    return (integer(value[0], what, where, minimum), integer(value[1], what, where, minimum))


def fixed_format(text, what: str, where: str) -> FixedType:
    """A format of a network datapath (raw values held in int64)."""
    try:
        fmt = FixedType.parse(text)
    except FormatError as exc:
        raise FormatError(f"{where}: {what}: {exc}") from None
    if not fmt.signed and fmt.width == 64:
        raise FormatError(f"{where}: {what} {fmt} is a 64-bit unsigned format; network "
                          "datapaths hold raw values in int64 (use at most 63 bits unsigned)")
    return fmt


def options(obj, base: Options, where: str) -> Options:
    """Datapath options over ``base`` (the spec's global ones).

    ``reuse_factor`` belongs to ``sum_order`` "resource" (given with it, or inherited from
    a ``base`` that has it); it is 1 for the other orders.
    """
    keys(obj, ("product", "sum_order", "activation_on", "reuse_factor"), (), where)
    sum_order = choice(obj.get("sum_order", base.sum_order), SUM_ORDERS, "sum_order", where)
    if "reuse_factor" in obj and sum_order != "resource":
        raise InputError(f"{where}: reuse_factor belongs to sum_order 'resource' (hls4ml's "
                         f"Resource strategy), but sum_order is {sum_order!r}")
    reuse = 1
    if sum_order == "resource":
        reuse = integer(obj.get("reuse_factor", base.reuse_factor if base.sum_order == "resource"
                                else 1), "reuse_factor", where)
    return Options(
        product=choice(obj.get("product", base.product), PRODUCT_MODES, "product", where),
        sum_order=sum_order,
        activation_on=choice(obj.get("activation_on", base.activation_on), ACTIVATION_ON,
                             "activation_on", where),
        reuse_factor=reuse)


def alpha(value, alpha_format, where: str) -> Activation:
    """A leaky_relu with ``alpha`` quantized to ``alpha_format``."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"{where}: leaky_relu alpha must be a number, got {value!r}") from None
    check_number(f"{where}: leaky_relu alpha", value)  # validated only: the spec keeps its value
    if alpha_format is None:
        raise InputError(f"{where}: leaky_relu needs an 'alpha_format' (e.g. 'ap_fixed<16,1,AP_RND,AP_SAT>')")
    fmt = fixed_format(alpha_format, "alpha_format", where)
    if not fmt.min <= value <= fmt.max:
        raise FormatError(f"{where}: leaky_relu alpha {value!r} is outside the range of "
                          f"{fmt}: [{fmt.min}, {fmt.max}]")
    raw = int(quantize(np.array([float(value)]), fmt, warn=False)[0])
    return Activation("leaky_relu", float(value), fmt, raw)


def activation(value, where: str) -> Activation:
    """A fused activation: ``"relu"``, ``"linear"`` or ``{"leaky_relu": a, "alpha_format": f}``."""
    if isinstance(value, str):
        if value == "leaky_relu":
            raise InputError(f"{where}: leaky_relu needs {{'leaky_relu': alpha, 'alpha_format': ...}}")
        return Activation(choice(value, ACTIVATIONS, "activation", where))
    if isinstance(value, dict):
        keys(value, ("leaky_relu", "alpha_format"), ("leaky_relu",), f"{where} activation")
        return alpha(value["leaky_relu"], value.get("alpha_format"), where)
    raise InputError(f"{where}: activation must be 'relu', 'linear' or "
                     f"{{'leaky_relu': alpha, 'alpha_format': ...}}, got {value!r}")


def result_format(obj: dict, in_format: FixedType, where: str) -> FixedType | None:
    """The optional ``"formats": {"result": ...}`` of a layer without weights.

    None when absent or equal to ``in_format`` (the same C++ type: no conversion); the
    conversion ``result = input`` must be defined by the headers.
    """
    fm = obj.get("formats")
    if fm is None:
        return None
    keys(fm, ("result",), ("result",), f"{where} formats")
    fmt = fixed_format(fm["result"], "formats.result", where)
    if fmt == in_format:
        return None
    check_convert(in_format, fmt, f"input {in_format} into result", where)
    return fmt


def fits_int64(t: FixedType) -> bool:
    """Every raw value of ``t`` is an int64 (the kernels compute in int64)."""
    return t.width <= 64 if t.signed else t.width <= 63


def int64_type(make, what: str, where: str) -> FixedType:
    """``make()`` (a derived format), checked to hold its raw values in int64."""
    try:
        t = make()
    except FormatError as exc:
        raise FormatError(f"{where}: {what}: {exc}") from None
    if not fits_int64(t):
        raise FormatError(f"{where}: {what} is {t}, whose raw values exceed int64 "
                          "(narrow the operands by one bit)")
    return t


def check_convert(src: FixedType, dst: FixedType, what: str, where: str) -> None:
    """``dst = src`` is defined by the Xilinx headers (no kernel runs: loading compiles nothing)."""
    try:
        check_convertible(src, dst)
    except UndefinedInHeaders as exc:
        raise FormatError(f"{where}: {what}: {exc}") from None


def _rank_hint(in_shape) -> str:
    if len(in_shape) == 1:
        return " (a flatten or dense layer came before it)"
    if len(in_shape) == 2:
        return " (a 1-D (C, L) map: use the 1-D layer types, e.g. conv1d, maxpool1d)"
    return " (a 2-D (C, H, W) map: use the 2-D layer types, e.g. conv2d, maxpool2d)"


def spatial(in_shape, where: str, kind: str):
    """``in_shape`` as (C, H, W), or the error naming ``kind``."""
    if len(in_shape) != 3:
        raise InputError(f"{where}: {kind} needs a (C, H, W) input, got shape "
                         f"{tuple(in_shape)}{_rank_hint(in_shape)}")
    return in_shape


def sequence(in_shape, where: str, kind: str):
    """``in_shape`` as a 1-D map (C, L), or the error naming ``kind``."""
    if len(in_shape) != 2:
        raise InputError(f"{where}: {kind} needs a (C, L) input, got shape "
                         f"{tuple(in_shape)}{_rank_hint(in_shape)}")
    return in_shape


__all__ = ["NAME", "DERIVED", "PRODUCT_MODES", "SUM_ORDERS", "ACTIVATION_ON", "ACTIVATIONS",
           "keys", "choice", "integer", "boolean", "pair", "fixed_format", "options", "alpha",
           "activation", "fits_int64", "int64_type", "check_convert", "spatial", "sequence"]
