"""Keras ``.h5`` and ``.keras`` files read with h5py and zipfile alone (no TensorFlow).

- a Keras 2 HDF5 file (``model.save("m.h5")``): the root attributes ``model_config`` (the
  model's JSON) and ``keras_version``; the group ``model_weights`` with the attribute
  ``layer_names`` and one group per layer whose ``weight_names`` attribute lists its
  datasets (``conv2d/kernel:0``, ``conv2d/bias:0``, ...) relative to that group;
- a Keras 3 zip (``model.save("m.keras")``): ``config.json`` (the model's JSON),
  ``metadata.json`` (``keras_version``) and ``model.weights.h5`` with the variables of
  each layer at ``layers/<key>/vars/0..n`` in the layer's order (kernel, bias; gamma,
  beta, moving mean, moving variance).  Keras 3 keys a layer by its class, not its name
  (``saving_lib``: the snake-case class name, ``_1``, ``_2``, ... for later layers of the
  same class, in the model's layer order: ``conv2d``, ``batch_normalization``,
  ``conv2d_1``); Keras 2.13-2.15 zips say ``_layer_checkpoint_dependencies`` for
  ``layers``.

Sequential models and chain-shaped Functional models (one input, one output, each layer
fed by the layer before it only) of the layer classes in :data:`LAYERS`, read into a
:class:`KerasModel`: each layer's class, name, config and weights by role, in Keras
layout.  :mod:`.keras` maps them to fixsim layers.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import InputError

#: Keras layer classes fixsim imports (Dropout-like layers are dropped).
LAYERS = ("InputLayer", "Conv1D", "Conv2D", "Dense", "BatchNormalization", "Activation",
          "ReLU", "LeakyReLU", "Softmax", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
          "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
          "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Flatten", "Reshape", "ZeroPadding1D",
          "ZeroPadding2D", "Dropout", "SpatialDropout1D", "SpatialDropout2D")
DROPPED = ("Dropout", "SpatialDropout1D", "SpatialDropout2D")
#: Keras 2 class aliases (``MaxPool2D`` is ``MaxPooling2D``, ...).
ALIASES = {"MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D",
           "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D",
           "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
           "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalMaxPool2D": "GlobalMaxPooling2D",
           "Convolution1D": "Conv1D", "Convolution2D": "Conv2D"}
MODEL_CLASSES = ("Sequential", "Functional", "Model")


@dataclass
class KerasLayer:
    """One Keras layer: class, name, config and weights by role, in Keras layout."""

    cls: str  # Keras 3's class name (Keras 2 aliases such as MaxPool2D resolved)
    name: str
    config: dict
    weights: dict = field(default_factory=dict)  # role -> float64 array (Keras layout)
    raw_cls: str = ""  # the class name as the file gives it


@dataclass
class KerasModel:
    """A Keras model read from a file (no framework objects)."""

    path: str
    format: str  # "h5" (Keras 2 HDF5) or "keras" (Keras 3 zip)
    keras_version: str
    model_class: str
    input_name: str
    input_shape: tuple  # Keras order (channels last), no batch
    layers: list  # KerasLayer, the InputLayer excluded


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v[()])
    return str(v)


def _json(raw, where: str) -> dict:
    try:
        data = json.loads(_text(raw))
    except ValueError as exc:
        raise InputError(f"{where} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{where} is not a JSON object")
    return data


def load(path: str) -> KerasModel:
    """Read a Keras 2 ``.h5`` or Keras 3 ``.keras`` file (see the module docstring).

    Raises
    ------
    InputError
        Not an HDF5 file / zip, no model config, an unsupported layer or model shape
        (naming the layer), missing weights or weights of the wrong count.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model file {path!r} does not exist")
    if zipfile.is_zipfile(p):
        return _load_keras(path)
    import h5py

    try:
        fh = h5py.File(p, "r")
    except OSError:
        raise InputError(f"{path!r} is neither an HDF5 file (Keras 2 .h5) nor a zip (Keras 3 "
                         ".keras)") from None
    with fh:
        if "model_config" not in fh.attrs:
            raise InputError(f"{path!r} has no 'model_config' attribute: not a whole Keras model "
                             "(a weights-only file from save_weights?); save it with "
                             "model.save()")
        config = _json(fh.attrs["model_config"], f"{path!r}: model_config")
        version = _text(fh.attrs.get("keras_version", "unknown"))
        model = _model(path, "h5", version, config)
        if "model_weights" not in fh:
            raise InputError(f"{path!r} has no 'model_weights' group: the model was saved "
                             "without weights")
        _guarded(_h5_weights, model, fh["model_weights"])
    return model


def _load_keras(path: str) -> KerasModel:
    import h5py

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for need in ("config.json", "model.weights.h5"):
                if need not in names:
                    raise InputError(f"{path!r}: the .keras zip has no {need}")
            config = _json(zf.read("config.json"), f"{path!r}: config.json")
            meta = (_json(zf.read("metadata.json"), f"{path!r}: metadata.json")
                    if "metadata.json" in names else {})
            blob = zf.read("model.weights.h5")
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path!r} is not a readable zip ({exc})") from None
    model = _model(path, "keras", str(meta.get("keras_version", "unknown")), config)
    try:
        fh = h5py.File(io.BytesIO(blob), "r")
    except OSError:
        raise InputError(f"{path!r}: model.weights.h5 is not an HDF5 file") from None
    with fh:
        _guarded(_keras3_weights, model, fh)
    return model


def _guarded(read_weights, model: KerasModel, group) -> None:
    """Weights read by ``read_weights``; unreadable ones (a string dataset, a group where a
    dataset belongs) are one line."""
    try:
        read_weights(model, group)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
        raise InputError(f"{model.path!r}: unreadable weights ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def _h5_weights(model: KerasModel, group) -> None:
    """Keras 2 weights: ``model_weights/<layer>`` with its ``weight_names`` attribute."""
    for layer in model.layers:
        roles = _roles(layer)
        if not roles:
            continue
        if layer.name not in group:
            raise InputError(f"layer {layer.name!r} ({layer.cls}): missing weights (no group "
                             f"model_weights/{layer.name})")
        g = group[layer.name]
        names = [_text(n) for n in g.attrs.get("weight_names", [])]
        arrays = []
        for n in names:
            if n not in g:
                raise InputError(f"layer {layer.name!r} ({layer.cls}): missing weights (dataset "
                                 f"{n!r} listed in weight_names is absent)")
            arrays.append(np.asarray(g[n][()], np.float64))
        basenames = [n.rsplit("/", 1)[-1].split(":")[0] for n in names]
        _assign(layer, roles, arrays, basenames)


def snake_case(name: str) -> str:
    """Keras's ``naming.to_snake_case`` (the key of a layer in a Keras 3 weights file).

    >>> snake_case("Conv2D"), snake_case("BatchNormalization"), snake_case("ReLU")
    ('conv2d', 'batch_normalization', 're_lu')
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def weight_keys(model: KerasModel) -> list[str]:
    """The Keras 3 weights-file key of each layer (class name with a per-class counter)."""
    used: dict = {}
    keys = []
    for layer in model.layers:
        key = snake_case(layer.raw_cls)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys.append(key)
    return keys


def _keras3_weights(model: KerasModel, fh) -> None:
    """Keras 3 weights: ``layers/<key>/vars/0..n`` (:func:`weight_keys`)."""
    top = "_layer_checkpoint_dependencies" if "_layer_checkpoint_dependencies" in fh and \
        "layers" not in fh else "layers"
    for layer, key in zip(model.layers, weight_keys(model), strict=True):
        roles = _roles(layer)
        if not roles:
            continue
        path = f"{top}/{key}/vars"
        if path not in fh:
            raise InputError(f"layer {layer.name!r} ({layer.cls}): missing weights (no group "
                             f"{path} in model.weights.h5)")
        g = fh[path]
        keys = sorted(g.keys(), key=lambda k: int(k) if k.isdigit() else 1 << 30)
        _assign(layer, roles, [np.asarray(g[k][()], np.float64) for k in keys], None)


def _roles(layer: KerasLayer) -> list[str]:
    c = layer.config
    if layer.cls in ("Conv1D", "Conv2D", "Dense"):
        return ["kernel"] + (["bias"] if c.get("use_bias", True) else [])
    if layer.cls == "BatchNormalization":
        return ((["gamma"] if c.get("scale", True) else []) +
                (["beta"] if c.get("center", True) else []) + ["moving_mean", "moving_variance"])
    return []


def _assign(layer: KerasLayer, roles, arrays, basenames) -> None:
    if len(arrays) != len(roles):
        raise InputError(f"layer {layer.name!r} ({layer.cls}): {len(arrays)} weight arrays, "
                         f"expected {len(roles)} ({', '.join(roles)})")
    if basenames is not None and all(b in _ROLE_NAMES for b in basenames):
        order = [b for b in basenames]
        if sorted(order) != sorted(roles):
            raise InputError(f"layer {layer.name!r} ({layer.cls}): weights {order}, expected "
                             f"{roles}")
        layer.weights = dict(zip(order, arrays, strict=True))
        return
    layer.weights = dict(zip(roles, arrays, strict=True))


_ROLE_NAMES = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")


def _model(path: str, fmt: str, version: str, config: dict) -> KerasModel:
    cls = config.get("class_name")
    body = config.get("config")
    if cls not in MODEL_CLASSES:
        raise InputError(f"{path!r}: model class {cls!r}; fixsim imports Sequential and "
                         "chain-shaped Functional models")
    if isinstance(body, list):  # Keras 1/early 2 Sequential: the layer list itself
        body = {"layers": body}
    if not isinstance(body, dict) or not isinstance(body.get("layers"), list):
        raise InputError(f"{path!r}: the model config has no layer list")
    raw = body["layers"]
    if cls != "Sequential":
        _check_chain(raw, body)
    layers, input_name, input_shape = [], None, None
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise InputError(f"{path!r}: layer {i} of the model config is malformed")
        lcls = ALIASES.get(entry.get("class_name"), entry.get("class_name"))
        lc = entry["config"]
        name = str(lc.get("name", entry.get("name", f"layer{i}")))
        if lcls not in LAYERS:
            raise InputError(f"layer {name!r}: unsupported Keras layer {lcls!r}; fixsim imports "
                             f"{', '.join(LAYERS)} (docs/import.md)")
        if lc.get("data_format", "channels_last") not in ("channels_last", None):
            raise InputError(f"layer {name!r} ({lcls}): data_format {lc['data_format']!r}; "
                             "fixsim imports channels_last Keras models")
        shape = lc.get("batch_input_shape", lc.get("batch_shape"))
        if lcls == "InputLayer":
            if i != 0:
                raise InputError(f"layer {name!r}: an InputLayer inside the chain")
            input_name, input_shape = name, shape
            continue
        if i == 0 and shape is not None:  # Keras 2 Sequential without an InputLayer
            input_name, input_shape = f"{name}_input", shape
        layers.append(KerasLayer(lcls, name, lc, raw_cls=str(entry["class_name"])))
    if input_shape is None:
        build = body.get("build_input_shape") or (config.get("build_config") or {}).get(
            "input_shape")
        input_shape, input_name = build, input_name or "input"
    if input_shape is None:
        raise InputError(f"{path!r}: the model has no input shape (no InputLayer, "
                         "batch_input_shape or build_input_shape)")
    dims = list(input_shape)[1:]
    if not dims or any(not isinstance(d, int) or d < 1 for d in dims):
        raise InputError(f"{path!r}: input {input_name!r} has dynamic or unknown shape "
                         f"{list(input_shape)}; fixsim needs static dims after the batch")
    if len(dims) > 3:
        raise InputError(f"{path!r}: input {input_name!r} of shape {dims}: fixsim imports "
                         "(H, W, C), (L, C) and (F,) inputs")
    if not layers:
        raise InputError(f"{path!r}: the model has no layers")
    return KerasModel(path, fmt, version, str(cls), str(input_name), tuple(dims), layers)


def _inbound(entry: dict) -> list[list[str]]:
    """The inbound layer names of each call node (Keras 2 lists, Keras 3 dicts)."""
    out = []
    for node in entry.get("inbound_nodes") or []:
        names: list[str] = []
        if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
            _history(node.get("args", []), names)
            _history(node.get("kwargs", {}), names)
        else:  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
            for t in node:
                if isinstance(t, list) and t and isinstance(t[0], str):
                    names.append(t[0])
        out.append(names)
    return out


def _history(obj, names: list) -> None:
    if isinstance(obj, dict):
        hist = obj.get("config", {}).get("keras_history") if isinstance(
            obj.get("config"), dict) else None
        if hist:
            names.append(str(hist[0]))
            return
        for v in obj.values():
            _history(v, names)
    elif isinstance(obj, list):
        for v in obj:
            _history(v, names)


def _io_names(value) -> list[str]:
    """``input_layers``/``output_layers``: ``[name, 0, 0]`` or a list of them."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [value[0]]
    return [v[0] for v in value or [] if isinstance(v, list) and v]


def _check_chain(raw: list, body: dict) -> None:
    """A Functional model must be one chain: each layer fed by the layer before it only."""
    inputs = _io_names(body.get("input_layers"))
    outputs = _io_names(body.get("output_layers"))
    if len(inputs) != 1:
        raise InputError(f"the model has inputs {inputs}; fixsim imports one-input chains")
    if len(outputs) != 1:
        raise InputError(f"the model has outputs {outputs}; fixsim imports one-output chains")
    prev, consumers = None, {}
    for entry in raw:
        name = str((entry.get("config") or {}).get("name", entry.get("name")))
        nodes = _inbound(entry)
        if prev is None:
            if nodes and any(nodes):
                raise InputError(f"layer {name!r}: the first layer of the model has inputs")
            if name != inputs[0]:
                raise InputError(f"layer {name!r}: the model's input is {inputs[0]!r}, not the "
                                 "first layer")
        else:
            if len(nodes) != 1 or nodes[0] != [prev]:
                srcs = [n for node in nodes for n in node]
                raise InputError(f"layer {name!r} takes {srcs or 'no input'}: fixsim imports "
                                 "chain-shaped models (each layer feeding the next; no "
                                 "branches, merges or shared layers)")
        for node in nodes:
            for src in node:
                consumers.setdefault(src, []).append(name)
        prev = name
    for src, users in consumers.items():
        if len(users) > 1:
            raise InputError(f"layer {src!r} feeds {users}: fixsim imports chain-shaped models "
                             "(no branches)")
    if outputs[0] != prev:
        raise InputError(f"the model's output {outputs[0]!r} is not the end of its layer chain "
                         f"({prev!r})")


__all__ = ["load", "KerasModel", "KerasLayer", "LAYERS", "DROPPED", "snake_case",
           "weight_keys"]
