"""The model spec: layers, shapes, per-layer formats and datapath options (docs/datapath.md).

:func:`load_spec` reads a JSON spec (a bundled name such as ``"specklenn-snl"``, a path,
JSON text or a dict), validates it, infers every layer's shapes and returns an immutable
:class:`ModelSpec`.  ``spec.to_json()`` is the canonical form (every default explicit, so
equivalent specs have the same :meth:`ModelSpec.spec_hash`); ``spec.to_json(resolved=True)``
adds the derived fields (shapes, input/output/product formats, parameter counts) that
code generators need, and still loads back (the derived fields are checked).

>>> spec = load_spec("specklenn-snl")
>>> [(l.name, l.out_shape) for l in spec.layers][:3]
[('conv1', (7, 61, 61)), ('pool1', (7, 31, 31)), ('conv2', (3, 27, 27))]
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from .._validate import check_int, check_number
from ..errors import FormatError, InputError, UndefinedInHeaders, closest
from ..fixed import FixedType, product_type, quantize, sum_type
from ..fixed.ops import check_convertible
from ..layers.mac import ACTIVATION_ON, ACTIVATIONS, SUM_ORDERS  # defined once, with MacConfig
from ..layers.mac import PRODUCTS as PRODUCT_MODES
from ..layers.pool import pool_out
from .spec_types import (Activation, ActivationLayer, Conv2D, Dense, Flatten, Layer, LayerFormats,
                         MaxPool2D, ModelSpec, Options, _MacLayer)

SPEC_DIR = Path(__file__).parent / "specs"

LAYER_TYPES = ("conv2d", "maxpool2d", "dense", "flatten", "relu", "linear", "leaky_relu")
FLATTEN_ORDERS = ("chw", "hwc")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Keys a resolved layer may carry; on load they are checked against the inferred values.
_DERIVED = ("in_shape", "out_shape", "in_format", "out_format", "product_format", "params",
            "input_permutation")


# ------------------------------------------------------------------ loading
def bundled_specs() -> list[str]:
    """Names of the specs shipped in ``fixsim/network/specs``."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.json"))


def load_spec(source: "str | os.PathLike | dict | ModelSpec") -> ModelSpec:
    """Load and validate a model spec.

    Parameters
    ----------
    source : str, path, dict or ModelSpec
        A bundled spec name (see :func:`bundled_specs`), a path to a JSON file, JSON
        text, or the already-parsed dict.

    Returns
    -------
    ModelSpec

    Raises
    ------
    InputError
        Unknown name or file, malformed JSON, unknown keys or layer types (with the
        closest valid name), impossible shapes.
    FormatError
        Invalid formats, or formats the datapath cannot hold exactly (products wider
        than 64 bits, an accumulator that cannot hold a product with ``product="exact"``,
        conversions the Xilinx headers leave undefined).
    """
    if isinstance(source, ModelSpec):
        return source
    if isinstance(source, dict):
        return _build(source, "<dict>")
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"a spec must be a name, a path, JSON text or a dict, got {type(source).__name__}")
    text = str(source)
    if text.lstrip().startswith("{"):
        return _build(_parse_json(text, "<json text>"), "<json text>")
    path = Path(text)
    if not path.is_file():
        if text in bundled_specs():
            path = SPEC_DIR / f"{text}.json"
        elif os.sep in text or text.endswith(".json"):
            raise InputError(f"spec file {text!r} does not exist")
        else:
            raise InputError(f"unknown spec {text!r}{closest(text, bundled_specs())}; "
                             f"bundled: {', '.join(bundled_specs())}")
    from .._files import read_text

    raw_text = read_text(path, "spec")
    return _build(_parse_json(raw_text, str(path)), str(path))


def _parse_json(text: str, where: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: malformed JSON at line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: a spec must be a JSON object, got {type(data).__name__}")
    return data


def _keys(obj: dict, allowed, required, where: str) -> None:
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be a JSON object, got {obj!r}")
    for k in obj:
        if k not in allowed:
            raise InputError(f"{where}: unknown key {k!r}{closest(k, allowed)}; "
                             f"allowed: {', '.join(allowed)}")
    for k in required:
        if k not in obj:
            raise InputError(f"{where}: missing required key {k!r}")


def _choice(value, choices, what: str, where: str) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = closest(value, choices) if isinstance(value, str) else ""
        raise InputError(f"{where}: {what} {value!r} is not one of {', '.join(choices)}{hint}")
    return value


def _int(value, what: str, where: str, minimum: int = 1) -> int:
    return check_int(f"{where}: {what}", value, minimum=minimum)


def _pair(value, what: str, where: str, minimum: int = 1) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InputError(f"{where}: {what} must be an integer or a pair [h, w], got {value!r}")
    return (_int(value[0], what, where, minimum), _int(value[1], what, where, minimum))


def _format(text, what: str, where: str) -> FixedType:
    try:
        fmt = FixedType.parse(text)
    except FormatError as exc:
        raise FormatError(f"{where}: {what}: {exc}") from None
    if not fmt.signed and fmt.width == 64:
        raise FormatError(f"{where}: {what} {fmt} is a 64-bit unsigned format; network "
                          "datapaths hold raw values in int64 (use at most 63 bits unsigned)")
    return fmt


def _options(obj, base: Options, where: str) -> Options:
    _keys(obj, ("product", "sum_order", "activation_on"), (), where)
    return Options(
        product=_choice(obj.get("product", base.product), PRODUCT_MODES, "product", where),
        sum_order=_choice(obj.get("sum_order", base.sum_order), SUM_ORDERS, "sum_order", where),
        activation_on=_choice(obj.get("activation_on", base.activation_on), ACTIVATION_ON,
                              "activation_on", where))


def _alpha(alpha, alpha_format, where: str) -> Activation:
    if isinstance(alpha, str):
        try:
            alpha = float(alpha)
        except ValueError:
            raise InputError(f"{where}: leaky_relu alpha must be a number, got {alpha!r}") from None
    check_number(f"{where}: leaky_relu alpha", alpha)  # validated only: the spec keeps its value
    if alpha_format is None:
        raise InputError(f"{where}: leaky_relu needs an 'alpha_format' (e.g. 'ap_fixed<16,1,AP_RND,AP_SAT>')")
    fmt = _format(alpha_format, "alpha_format", where)
    if not fmt.min <= alpha <= fmt.max:
        raise FormatError(f"{where}: leaky_relu alpha {alpha!r} is outside the range of "
                          f"{fmt}: [{fmt.min}, {fmt.max}]")
    raw = int(quantize(np.array([float(alpha)]), fmt, warn=False)[0])
    return Activation("leaky_relu", float(alpha), fmt, raw)


def _activation(value, where: str) -> Activation:
    if isinstance(value, str):
        if value == "leaky_relu":
            raise InputError(f"{where}: leaky_relu needs {{'leaky_relu': alpha, 'alpha_format': ...}}")
        return Activation(_choice(value, ACTIVATIONS, "activation", where))
    if isinstance(value, dict):
        _keys(value, ("leaky_relu", "alpha_format"), ("leaky_relu",), f"{where} activation")
        return _alpha(value["leaky_relu"], value.get("alpha_format"), where)
    raise InputError(f"{where}: activation must be 'relu', 'linear' or "
                     f"{{'leaky_relu': alpha, 'alpha_format': ...}}, got {value!r}")


def _fits_int64(t: FixedType) -> bool:
    """Every raw value of ``t`` is an int64 (the kernels compute in int64)."""
    return t.width <= 64 if t.signed else t.width <= 63


def _int64_type(make, what: str, where: str) -> FixedType:
    try:
        t = make()
    except FormatError as exc:
        raise FormatError(f"{where}: {what}: {exc}") from None
    if not _fits_int64(t):
        raise FormatError(f"{where}: {what} is {t}, whose raw values exceed int64 "
                          "(narrow the operands by one bit)")
    return t


def _check_convert(src: FixedType, dst: FixedType, what: str, where: str) -> None:
    try:
        check_convertible(src, dst)  # no kernel runs: loading a spec compiles nothing
    except UndefinedInHeaders as exc:
        raise FormatError(f"{where}: {what}: {exc}") from None


def _check_mac_formats(layer: _MacLayer, where: str) -> None:
    """Reject formats the datapath cannot evaluate exactly (see docs/datapath.md, 'Formats')."""
    f = layer.formats
    pt = _int64_type(lambda: layer.product_format,
                     f"the product input {layer.in_format} x weight {f.weight}", where)
    acc = f.accum
    if layer.options.product == "exact":
        if acc.frac_bits < pt.frac_bits or acc.int_bits < pt.int_bits or (pt.signed and not acc.signed):
            raise FormatError(
                f"{where}: accumulator {acc} cannot hold a product {pt} with product='exact' "
                f"(needs F >= {pt.frac_bits}, I >= {pt.int_bits}{', signed' if pt.signed else ''}); "
                "widen it or use product='to_accum'")
        _int64_type(lambda: sum_type(acc, pt), "accumulator + product", where)
    else:
        _check_convert(pt, acc, f"product {pt} into accumulator", where)
    if acc.width > (63 if acc.signed else 62):
        raise FormatError(f"{where}: accumulator {acc} is {acc.width} bits; the sum of two "
                          "accumulator values must fit int64 (use W <= 63 signed, 62 unsigned)")
    if f.bias is not None:
        _check_convert(f.bias, acc, "bias into accumulator", where)
    _check_convert(acc, f.result, "accumulator into result", where)
    act = layer.activation
    if act.kind == "leaky_relu":
        src = f.result if layer.options.activation_on == "result" else acc
        ap = _int64_type(lambda: product_type(src, act.alpha_format), "leaky_relu alpha product", where)
        _check_convert(ap, f.result, "alpha product into result", where)


def _mac_common(obj: dict, in_shape, in_fmt, base: Options, where: str) -> dict:
    bias = obj.get("bias", True)
    if not isinstance(bias, bool):
        raise InputError(f"{where}: bias must be true or false, got {bias!r}")
    fm = obj["formats"]
    req = ("weight", "accum", "result") + (("bias",) if bias else ())
    _keys(fm, ("weight", "bias", "accum", "result"), req, f"{where} formats")
    if not bias and "bias" in fm:
        raise InputError(f"{where}: formats.bias is given but the layer has bias: false")
    formats = LayerFormats(
        weight=_format(fm["weight"], "formats.weight", where),
        bias=_format(fm["bias"], "formats.bias", where) if bias else None,
        accum=_format(fm["accum"], "formats.accum", where),
        result=_format(fm["result"], "formats.result", where))
    own = {k: obj[k] for k in ("product", "sum_order", "activation_on") if k in obj}
    nested = obj.get("options", {})
    if not isinstance(nested, dict):
        raise InputError(f"{where}: options must be a JSON object, got {nested!r}")
    both = set(own) & set(nested)
    if both:
        raise InputError(f"{where}: option {sorted(both)[0]!r} is given twice "
                         "(in the layer and in its options)")
    options = _options({**nested, **own}, base, where)
    return dict(bias=bias, activation=_activation(obj.get("activation", "linear"), where),
                formats=formats, options=options)


_MAC_KEYS = ("name", "type", "bias", "activation", "formats", "options", "product",
             "sum_order", "activation_on") + _DERIVED
_ALLOWED = {
    "conv2d": _MAC_KEYS + ("out_channels", "kernel", "stride", "padding"),
    "dense": _MAC_KEYS + ("out_features",),
    "maxpool2d": ("name", "type", "kernel", "stride", "ceil_mode") + _DERIVED,
    "flatten": ("name", "type", "order") + _DERIVED,
    "relu": ("name", "type") + _DERIVED,
    "linear": ("name", "type") + _DERIVED,
    "leaky_relu": ("name", "type", "alpha", "alpha_format") + _DERIVED,
}
_REQUIRED = {
    "conv2d": ("name", "type", "out_channels", "kernel", "formats"),
    "dense": ("name", "type", "out_features", "formats"),
    "maxpool2d": ("name", "type", "kernel"),
    "flatten": ("name", "type"),
    "relu": ("name", "type"), "linear": ("name", "type"),
    "leaky_relu": ("name", "type", "alpha", "alpha_format"),
}


def _spatial(in_shape, where: str, kind: str):
    if len(in_shape) != 3:
        raise InputError(f"{where}: {kind} needs a (C, H, W) input, got shape {tuple(in_shape)} "
                         "(a flatten or dense layer came before it)")
    return in_shape


def _layer(obj, idx: int, in_shape, in_fmt, base: Options, prev_flatten) -> Layer:
    where = f"layer {idx}"
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be a JSON object, got {obj!r}")
    name = obj.get("name")
    if isinstance(name, str):
        where = f"layer {idx} ({name!r})"
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        hint = closest(kind, LAYER_TYPES) if isinstance(kind, str) else ""
        raise InputError(f"{where}: unknown layer type {kind!r}{hint}; allowed: {', '.join(LAYER_TYPES)}")
    _keys(obj, _ALLOWED[kind], _REQUIRED[kind], where)
    if not isinstance(name, str) or not _NAME.match(name) or name == "input":
        raise InputError(f"{where}: layer name {name!r} must be an identifier other than 'input' "
                         "(it names C++ types and files)")
    common = dict(name=name, in_shape=tuple(in_shape), in_format=in_fmt)
    if kind == "conv2d":
        c, h, w = _spatial(in_shape, where, "conv2d")
        kh, kw = _pair(obj["kernel"], "kernel", where)
        sh, sw = _pair(obj.get("stride", 1), "stride", where)
        pad = obj.get("padding", "valid")
        if pad == "valid":
            ph = pw = 0
        elif pad == "same":
            if kh % 2 == 0 or kw % 2 == 0:
                raise InputError(f"{where}: padding 'same' needs an odd kernel (symmetric zero "
                                 f"padding), got {[kh, kw]}; give [ph, pw] explicitly")
            ph, pw = (kh - 1) // 2, (kw - 1) // 2
        elif isinstance(pad, str):
            raise InputError(f"{where}: padding {pad!r} is not 'valid', 'same' or [ph, pw]"
                             f"{closest(pad, ('valid', 'same'))}")
        else:
            ph, pw = _pair(pad, "padding", where, minimum=0)
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise InputError(f"{where}: kernel {[kh, kw]} is larger than the padded input "
                             f"{[h + 2 * ph, w + 2 * pw]} (input shape {tuple(in_shape)})")
        cout = _int(obj["out_channels"], "out_channels", where)
        layer = Conv2D(**common, out_shape=(cout, oh, ow), out_channels=cout, kernel=(kh, kw),
                       stride=(sh, sw), padding=(ph, pw),
                       **_mac_common(obj, in_shape, in_fmt, base, where))
        _check_mac_formats(layer, where)
    elif kind == "dense":
        if len(in_shape) != 1:
            raise InputError(f"{where}: dense needs a flat input (F,), got shape {tuple(in_shape)}; "
                             "add a flatten layer before it")
        n = _int(obj["out_features"], "out_features", where)
        perm = tuple(prev_flatten.in_shape) if (prev_flatten is not None
                                                and prev_flatten.order == "hwc") else None
        layer = Dense(**common, out_shape=(n,), out_features=n, input_permutation=perm,
                      **_mac_common(obj, in_shape, in_fmt, base, where))
        _check_mac_formats(layer, where)
    elif kind == "maxpool2d":
        c, h, w = _spatial(in_shape, where, "maxpool2d")
        kh, kw = _pair(obj["kernel"], "kernel", where)
        sh, sw = _pair(obj.get("stride", [kh, kw]), "stride", where)
        ceil_mode = obj.get("ceil_mode", False)
        if not isinstance(ceil_mode, bool):
            raise InputError(f"{where}: ceil_mode must be true or false, got {ceil_mode!r}")
        if h < kh or w < kw:
            raise InputError(f"{where}: pool kernel {[kh, kw]} is larger than the input "
                             f"{[h, w]} (shape {tuple(in_shape)})")
        out = (c, pool_out(h, kh, sh, ceil_mode), pool_out(w, kw, sw, ceil_mode))
        layer = MaxPool2D(**common, out_shape=out, kernel=(kh, kw), stride=(sh, sw),
                          ceil_mode=ceil_mode)
    elif kind == "flatten":
        c, h, w = _spatial(in_shape, where, "flatten")
        order = _choice(obj.get("order", "chw"), FLATTEN_ORDERS, "order", where)
        layer = Flatten(**common, out_shape=(c * h * w,), order=order)
    else:
        if kind == "leaky_relu":
            act = _alpha(obj["alpha"], obj["alpha_format"], where)
            ap = _int64_type(lambda: product_type(in_fmt, act.alpha_format),
                             "leaky_relu alpha product", where)
            _check_convert(ap, in_fmt, "alpha product into the layer format", where)
        else:
            act = Activation(kind)
        layer = ActivationLayer(**common, out_shape=tuple(in_shape), activation=act)
    _check_derived(obj, layer, where)
    return layer


def _check_derived(obj: dict, layer: Layer, where: str) -> None:
    resolved = layer.to_dict(resolved=True)
    for key in _DERIVED:
        if key in obj and obj[key] != resolved.get(key):
            raise InputError(f"{where}: {key} is given as {obj[key]!r} but the spec implies "
                             f"{resolved.get(key)!r}")


def _build(data: dict, where: str) -> ModelSpec:
    _keys(data, ("name", "description", "input", "options", "layers", "params"),
          ("name", "input", "layers"), where)
    name = data["name"]
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: name must be a non-empty string, got {name!r}")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise InputError(f"{where}: description must be a string")
    inp = data["input"]
    _keys(inp, ("shape", "format"), ("shape", "format"), f"{where} input")
    shape = inp["shape"]
    if not isinstance(shape, list) or len(shape) != 3:
        raise InputError(f"{where}: input.shape must be [C, H, W], got {shape!r}")
    shape = tuple(_int(s, "input.shape entries", where) for s in shape)
    in_fmt = _format(inp["format"], "input.format", where)
    options = _options(data.get("options", {}), Options(), f"{where} options")
    layers_in = data["layers"]
    if not isinstance(layers_in, list) or not layers_in:
        raise InputError(f"{where}: layers must be a non-empty list")
    layers: list[Layer] = []
    cur_shape, cur_fmt, prev_flatten = shape, in_fmt, None
    for idx, obj in enumerate(layers_in):
        layer = _layer(obj, idx, cur_shape, cur_fmt, options, prev_flatten)
        if any(l.name == layer.name for l in layers):
            raise InputError(f"{where}: layer name {layer.name!r} is used twice")
        layers.append(layer)
        if isinstance(layer, Flatten):
            prev_flatten = layer
        elif not isinstance(layer, ActivationLayer):
            prev_flatten = None  # elementwise layers keep the feature order
        cur_shape, cur_fmt = layer.out_shape, layer.out_format
    spec = ModelSpec(name=name, input_shape=shape, input_format=in_fmt, options=options,
                     layers=tuple(layers), description=desc)
    if "params" in data and data["params"] != spec.num_params:
        raise InputError(f"{where}: params is given as {data['params']!r} but the layers "
                         f"have {spec.num_params}")
    return spec


__all__ = ["load_spec", "bundled_specs", "ModelSpec", "Options", "Activation", "LayerFormats",
           "Layer", "Conv2D", "Dense", "MaxPool2D", "Flatten", "ActivationLayer", "pool_out",
           "PRODUCT_MODES", "SUM_ORDERS", "ACTIVATION_ON", "LAYER_TYPES"]
