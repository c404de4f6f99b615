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
from pathlib import Path

from ..errors import InputError, closest
from ..layers.pool import pool_out
from . import schema as S
from .dialect import parse_dialect, spec_options
from .kinds import (LAYER_TYPES, REGISTRY, ActivationLayer, Conv2D, Dense, Flatten, MaxPool2D,
                    ParseContext, kind_of)
from .schema import ACTIVATION_ON, PRODUCT_MODES, SUM_ORDERS
from .spec_types import Activation, Layer, LayerFormats, ModelSpec, Options

SPEC_DIR = Path(__file__).parent / "specs"


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


#: Accepted input shapes by rank (a layer's parser checks the shape it needs): 2-D maps
#: (C, H, W) and 1-D maps (C, L) (sequences: waveforms with C channels of length L).
INPUT_SHAPES = {3: "[C, H, W]", 2: "[C, L]"}


def _layer(obj, idx: int, in_shape, in_fmt, base: Options, hwc_source, dialect=None) -> Layer:
    where = f"layer {idx}"
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be a JSON object, got {obj!r}")
    name = obj.get("name")
    if isinstance(name, str):
        where = f"layer {idx} ({name!r})"
    kind = kind_of(obj.get("type"), where)
    S.keys(obj, kind.allowed, kind.required, where)
    if not isinstance(name, str) or not S.NAME.match(name) or name == "input":
        raise InputError(f"{where}: layer name {name!r} must be an identifier other than 'input' "
                         "(it names C++ types and files)")
    ctx = ParseContext(where=where, name=name, in_shape=tuple(in_shape), in_format=in_fmt,
                       options=base, hwc_source=hwc_source, dialect=dialect)
    layer = kind.parse(obj, ctx)
    _check_derived(obj, layer, where)
    return layer


def _check_derived(obj: dict, layer: Layer, where: str) -> None:
    resolved = layer.to_dict(resolved=True)
    for key in S.DERIVED:
        if key in obj and obj[key] != resolved.get(key):
            raise InputError(f"{where}: {key} is given as {obj[key]!r} but the spec implies "
                             f"{resolved.get(key)!r}")


def _build(data: dict, where: str) -> ModelSpec:
    S.keys(data, ("name", "description", "dialect", "input", "options", "layers", "params"),
           ("name", "input", "layers"), where)
    name = data["name"]
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: name must be a non-empty string, got {name!r}")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise InputError(f"{where}: description must be a string")
    inp = data["input"]
    S.keys(inp, ("shape", "format"), ("shape", "format"), f"{where} input")
    shape = inp["shape"]
    if not isinstance(shape, list) or len(shape) not in INPUT_SHAPES:
        raise InputError(f"{where}: input.shape must be {' or '.join(INPUT_SHAPES.values())}, "
                         f"got {shape!r}")
    shape = tuple(S.integer(s, "input.shape entries", where) for s in shape)
    in_fmt = S.fixed_format(inp["format"], "input.format", where)
    dialect = parse_dialect(data.get("dialect"), where)
    if dialect is None:
        options = S.options(data.get("options", {}), Options(), f"{where} options")
    else:
        options = spec_options(data.get("options", {}), f"{where} options")
    layers_in = data["layers"]
    if not isinstance(layers_in, list) or not layers_in:
        raise InputError(f"{where}: layers must be a non-empty list")
    layers: list[Layer] = []
    cur_shape, cur_fmt, hwc_source = shape, in_fmt, None
    for idx, obj in enumerate(layers_in):
        layer = _layer(obj, idx, cur_shape, cur_fmt, options, hwc_source, dialect)
        if any(l.name == layer.name for l in layers):
            raise InputError(f"{where}: layer name {layer.name!r} is used twice")
        layers.append(layer)
        if not REGISTRY[layer.type].elementwise:  # elementwise layers keep the feature order
            hwc_source = layer.hwc_source
        cur_shape, cur_fmt = layer.out_shape, layer.out_format
    spec = ModelSpec(name=name, input_shape=shape, input_format=in_fmt, options=options,
                     layers=tuple(layers), description=desc, dialect=dialect)
    if "params" in data and data["params"] != spec.num_params:
        raise InputError(f"{where}: params is given as {data['params']!r} but the layers "
                         f"have {spec.num_params}")
    return spec


__all__ = ["load_spec", "bundled_specs", "ModelSpec", "Options", "Activation", "LayerFormats",
           "Layer", "Conv2D", "Dense", "MaxPool2D", "Flatten", "ActivationLayer", "pool_out",
           "PRODUCT_MODES", "SUM_ORDERS", "ACTIVATION_ON", "LAYER_TYPES", "REGISTRY"]
