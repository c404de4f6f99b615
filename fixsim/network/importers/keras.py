"""Keras ``.h5`` and ``.keras`` models into a :class:`~fixsim.network.importers.graph.Graph`.

Read with h5py and zipfile alone (no TensorFlow or Keras import):

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

Sequential models and chain-shaped Functional models (one input, each layer feeding the
next) of the layers in :data:`LAYERS`; ``channels_last`` only.  Keras is channels last:
the spec's input is channels first ((C, H, W) or (C, L)), conv kernels (KH, KW, Cin, Cout)
become (Cout, Cin, KH, KW), dense kernels (In, Out) become (Out, In), and a Flatten of a
map is fixsim's ``"order": "hwc"`` flatten (the dense layer after it gets its columns in
fixsim's (c, h, w) weight order, which the hwc flatten permutes back).  An activation
given to a Conv/Dense layer becomes a layer of its own named ``<layer>_<activation>``
(hls4ml's name for it).  The float reference of the import report is
:mod:`.keras_ref` (the Keras layers in float64 numpy, channels last).
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
from .graph import Graph, Op, layer_name

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
#: Activation names (of Activation layers and of Conv/Dense ``activation``) -> layer type.
ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
               "leaky_relu": "leaky_relu", "linear": None}
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


# --- the Keras layers as fixsim ops -------------------------------------------------------


def _ints(value, n: int, name: str, where: str) -> list[int]:
    v = [value] * n if isinstance(value, int) else list(value)
    if len(v) == 1 and n > 1:
        v = v * n
    if len(v) != n or any(not isinstance(i, int) or i < 0 for i in v):
        raise InputError(f"{where}: {name} {value!r} is not {n} non-negative integer(s)")
    return v


def _activation_name(value, where: str) -> str | None:
    if isinstance(value, dict):  # Keras 3 may serialise {"class_name": ..., "config": ...}
        value = (value.get("config") or {}).get("name", value.get("class_name"))
    if value is None:
        return None
    name = str(value).lower()
    if name not in ACTIVATIONS:
        raise InputError(f"{where}: activation {value!r} is not imported; fixsim has "
                         f"{', '.join(a for a in ACTIVATIONS)}")
    return ACTIVATIONS[name]


def same_pads(size: int, k: int, s: int) -> tuple[int, int, int]:
    """TensorFlow's ``padding="same"``: (output size, pad before, pad after).

    >>> same_pads(5, 3, 1), same_pads(6, 3, 2), same_pads(5, 2, 2)
    ((5, 1, 1), (3, 0, 1), (3, 0, 1))
    """
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


class _Reader:
    def __init__(self, model: KerasModel):
        self.m = model
        self.used: set = {model.input_name}
        self.ops: list[Op] = []
        self.hwc_map: tuple | None = None  # (C, H, W) of the last hwc flatten before a dense

    def add(self, layer: KerasLayer, kind, attrs=None, tensors=None, name=None):
        n = layer_name(name or layer.name, self.used)
        self.ops.append(Op(kind, n, f"layer {layer.name!r} ({layer.cls})", attrs or {},
                           tensors or {}))

    def read(self) -> Graph:
        dims = self.m.input_shape
        shape = tuple(dims) if len(dims) == 1 else (dims[-1],) + tuple(dims[:-1])
        for layer in self.m.layers:
            try:
                shape = self.map(layer, shape)
            except InputError:
                raise
            except (KeyError, TypeError, ValueError, IndexError) as exc:  # a malformed config
                raise InputError(f"{self.where(layer)}: malformed layer config "
                                 f"({type(exc).__name__}: {exc})") from None
        return Graph(shape_in(self.m), self.ops, input_name=self.m.input_name)

    def fused(self, layer: KerasLayer, shape) -> None:
        act = _activation_name(layer.config.get("activation"), f"layer {layer.name!r}")
        if act is not None:
            # Keras's leaky_relu activation function: negative_slope 0.2
            self.add(layer, act, {"alpha": 0.2} if act == "leaky_relu" else None,
                     name=f"{layer.name}_{act}")
            self._softmax_axis(layer, shape, act)

    def _softmax_axis(self, layer, shape, act) -> None:
        if act == "softmax" and len(shape) > 2:
            raise InputError(f"layer {layer.name!r}: softmax over a 2-D map; fixsim's softmax "
                             "runs over the channels of (F,) or (C, L)")

    def where(self, layer) -> str:
        return f"layer {layer.name!r} ({layer.cls})"

    def check(self, layer, role, expected) -> np.ndarray:
        arr = layer.weights.get(role)
        if arr is None:
            raise InputError(f"{self.where(layer)}: missing weights ({role})")
        if tuple(arr.shape) != tuple(expected):
            raise InputError(f"{self.where(layer)}: {role} shape {tuple(arr.shape)} does not "
                             f"match {tuple(expected)} (from its config and input)")
        return arr

    def map(self, layer: KerasLayer, shape):  # noqa: C901 - one table-like dispatch
        c, cls, w = layer.config, layer.cls, self.where(layer)
        if cls in DROPPED:
            return shape
        if cls in ("Conv1D", "Conv2D"):
            return self.conv(layer, shape)
        if cls == "Dense":
            return self.dense(layer, shape)
        if cls == "BatchNormalization":
            axis = c.get("axis", -1)
            axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
            rank = len(shape) + 1
            if not isinstance(axis, int) or axis % rank != rank - 1:
                raise InputError(f"{w}: axis {c.get('axis')!r}; fixsim imports BatchNormalization"
                                 " over the channels (axis -1)")
            ch = shape[0]
            t = {"mean": self.check(layer, "moving_mean", (ch,)),
                 "var": self.check(layer, "moving_variance", (ch,)),
                 "gamma": (self.check(layer, "gamma", (ch,)) if c.get("scale", True)
                           else np.ones(ch)),
                 "beta": (self.check(layer, "beta", (ch,)) if c.get("center", True)
                          else np.zeros(ch))}
            self.ops.append(Op("batchnorm_stats", layer_name(layer.name, self.used), w,
                               {"eps": float(c.get("epsilon", 1e-3))}, t))
            return shape
        if cls == "Activation":
            act = _activation_name(c.get("activation"), w)
            if act is not None:
                self._softmax_axis(layer, shape, act)
                self.add(layer, act, {"alpha": 0.2} if act == "leaky_relu" else None)
            return shape
        if cls == "ReLU":
            slope = float(c.get("negative_slope", 0.0) or 0.0)
            if c.get("max_value") is not None or float(c.get("threshold", 0.0) or 0.0) != 0.0:
                raise InputError(f"{w}: max_value/threshold are not imported (plain ReLU or "
                                 "negative_slope only)")
            if slope:
                self.add(layer, "leaky_relu", {"alpha": slope})
            else:
                self.add(layer, "relu")
            return shape
        if cls == "LeakyReLU":
            alpha = c.get("negative_slope", c.get("alpha", 0.3))
            self.add(layer, "leaky_relu", {"alpha": float(alpha)})
            return shape
        if cls == "Softmax":
            axis = c.get("axis", -1)
            if axis not in (-1, len(shape)) and axis != [-1]:
                raise InputError(f"{w}: axis {axis!r}; fixsim's softmax runs over the channels "
                                 "(axis -1)")
            self._softmax_axis(layer, shape, "softmax")
            self.add(layer, "softmax")
            return shape
        if cls.startswith(("MaxPooling", "AveragePooling")):
            return self.pool(layer, shape)
        if cls.startswith("Global"):
            nd = 1 if cls.endswith("1D") else 2
            if len(shape) != nd + 1:
                raise InputError(f"{w}: input of shape {shape} is not a {nd}-D map")
            kind = "avg" if "Average" in cls else "max"
            self.add(layer, f"global_{kind}pool{nd}d")
            self.hwc_map = None
            return (shape[0],)  # keepdims too: fixsim emits (C,), a later flatten is a no-op
        if cls in ("Flatten", "Reshape"):
            n = int(np.prod(shape))
            if cls == "Reshape":
                target = list(c.get("target_shape", []))
                if target not in ([n], [-1]):
                    raise InputError(f"{w}: target_shape {target} of a {n}-value input; only "
                                     "a reshape to flat (N,) is imported")
            if len(shape) == 1:
                return shape
            self.add(layer, "flatten", {"order": "hwc"})
            self.hwc_map = (shape[0], 1, shape[1]) if len(shape) == 2 else tuple(shape)
            return (n,)
        if cls in ("ZeroPadding1D", "ZeroPadding2D"):
            return self.zeropad(layer, shape)
        raise InputError(f"{w}: unsupported Keras layer")  # LAYERS and this table disagree

    def conv(self, layer, shape):
        c, w = layer.config, self.where(layer)
        nd = 1 if layer.cls == "Conv1D" else 2
        if len(shape) != nd + 1:
            raise InputError(f"{w}: input of shape {shape} (channels first) is not a {nd}-D map")
        k = _ints(c.get("kernel_size"), nd, "kernel_size", w)
        s = _ints(c.get("strides", 1), nd, "strides", w)
        if any(d != 1 for d in _ints(c.get("dilation_rate", 1), nd, "dilation_rate", w)) or \
                int(c.get("groups", 1)) != 1:
            raise InputError(f"{w}: dilation_rate/groups other than 1 (fixsim convs have neither)")
        if not all(s):
            raise InputError(f"{w}: strides {s} must be positive")
        filters, cin = int(c["filters"]), shape[0]
        kernel = self.check(layer, "kernel", tuple(k) + (cin, filters))
        tensors = {"weight": np.transpose(kernel, (nd + 1, nd) + tuple(range(nd)))}
        if c.get("use_bias", True):
            tensors["bias"] = self.check(layer, "bias", (filters,))
        padding = str(c.get("padding", "valid")).lower()
        spatial = list(shape[1:])
        if padding == "valid":
            pad = [0] * nd
        elif padding == "same":
            pads = [same_pads(spatial[i], k[i], s[i]) for i in range(nd)]
            if any(p[1] != p[2] for p in pads):
                self.pad_op(layer, [p[1] for p in pads], [p[2] for p in pads])
                spatial = [spatial[i] + pads[i][1] + pads[i][2] for i in range(nd)]
                pad = [0] * nd
            else:
                pad = [p[1] for p in pads]
        else:
            raise InputError(f"{w}: padding {padding!r}; fixsim imports 'valid' and 'same'")
        out = [(spatial[i] + 2 * pad[i] - k[i]) // s[i] + 1 for i in range(nd)]
        if any(o < 1 for o in out):
            raise InputError(f"{w}: kernel {k} is larger than its input {tuple(shape[1:])}")
        attrs = {"out_channels": filters, "bias": "bias" in tensors}
        if nd == 1:
            attrs.update(kernel=k[0], stride=s[0], padding=pad[0])
        else:
            attrs.update(kernel=k, stride=s, padding=pad)
        self.add(layer, f"conv{nd}d", attrs, tensors)
        shape = (filters,) + tuple(out)
        self.fused(layer, shape)
        return shape

    def pad_op(self, layer, begin, end):
        nd = len(begin)
        attrs = ({"padding": [begin[0], end[0]]} if nd == 1 else
                 {"padding": [[begin[0], end[0]], [begin[1], end[1]]]})
        self.add(layer, f"zeropad{nd}d", attrs, name=f"{layer.name}_pad")

    def dense(self, layer, shape):
        c, w = layer.config, self.where(layer)
        if len(shape) > 2:
            raise InputError(f"{w}: Dense on a {len(shape) - 1}-D map of shape {shape}; fixsim's "
                             "dense takes (F,) or (C, L): add a Flatten")
        units, n = int(c["units"]), shape[0]
        kernel = self.check(layer, "kernel", (n, units))
        weight = kernel.T
        if len(shape) == 1 and self.hwc_map is not None:
            # Keras's columns follow the hwc flatten; fixsim's dense weight is in (c, h, w)
            # order and the hwc flatten permutes it back (kinds/flatten.py)
            ch, hh, ww = self.hwc_map
            weight = weight.reshape(units, hh, ww, ch).transpose(0, 3, 1, 2).reshape(units, n)
        tensors = {"weight": np.ascontiguousarray(weight)}
        if c.get("use_bias", True):
            tensors["bias"] = self.check(layer, "bias", (units,))
        self.add(layer, "dense", {"out_features": units, "bias": "bias" in tensors}, tensors)
        self.hwc_map = None
        shape = (units,) + tuple(shape[1:])
        self.fused(layer, shape)
        return shape

    def pool(self, layer, shape):
        c, w, cls = layer.config, self.where(layer), layer.cls
        nd = 1 if cls.endswith("1D") else 2
        if len(shape) != nd + 1:
            raise InputError(f"{w}: input of shape {shape} (channels first) is not a {nd}-D map")
        k = _ints(c.get("pool_size", 2), nd, "pool_size", w)
        stride = c.get("strides")
        s = k if stride is None else _ints(stride, nd, "strides", w)
        padding = str(c.get("padding", "valid")).lower()
        spatial = list(shape[1:])
        attrs: dict = {}
        if padding == "valid":
            out = [(spatial[i] - k[i]) // s[i] + 1 for i in range(nd)]
            pad = [0] * nd
        elif padding == "same":
            pads = [same_pads(spatial[i], k[i], s[i]) for i in range(nd)]
            out = [p[0] for p in pads]
            if cls.startswith("Max"):
                # TensorFlow's windows ignore the padding: with no padding before, that is
                # PyTorch's ceil mode (windows clipped at the end) when the counts agree
                ceil = [-(-(spatial[i] - k[i]) // s[i]) + 1 for i in range(nd)]
                if any(p[1] for p in pads) or ceil != out:
                    raise InputError(f"{w}: padding 'same' pads before the first window "
                                     f"({[p[1] for p in pads]}); fixsim's max pools only clip "
                                     "windows at the end")
                pad = [0] * nd
                attrs["ceil_mode"] = any(p[2] for p in pads)
            else:
                if any(p[1] != p[2] for p in pads):
                    raise InputError(f"{w}: padding 'same' is asymmetric here "
                                     f"({[(p[1], p[2]) for p in pads]}); fixsim's average pools "
                                     "pad symmetrically")
                pad = [p[1] for p in pads]
        else:
            raise InputError(f"{w}: padding {padding!r}; fixsim imports 'valid' and 'same'")
        if any(o < 1 for o in out):
            raise InputError(f"{w}: pool_size {k} is larger than its input {tuple(spatial)}")
        if cls.startswith("Max"):
            attrs.setdefault("ceil_mode", False)
            attrs.update({"kernel": k[0], "stride": s[0]} if nd == 1 else {"kernel": k, "stride": s})
            self.add(layer, f"maxpool{nd}d", attrs)
        else:
            attrs.update({"kernel": k[0], "stride": s[0], "padding": pad[0]} if nd == 1 else
                         {"kernel": k, "stride": s, "padding": pad})
            if any(pad):
                attrs["count_pad"] = False  # TensorFlow divides by the elements inside
            self.add(layer, f"avgpool{nd}d", attrs)
        return (shape[0],) + tuple(out)

    def zeropad(self, layer, shape):
        c, w = layer.config, self.where(layer)
        nd = 1 if layer.cls.endswith("1D") else 2
        if len(shape) != nd + 1:
            raise InputError(f"{w}: input of shape {shape} is not a {nd}-D map")
        p = c.get("padding", 1)
        if nd == 1:
            begin, end = _ints(p, 2, "padding", w)
            self.add(layer, "zeropad1d", {"padding": [begin, end]})
            return (shape[0], shape[1] + begin + end)
        if isinstance(p, int):
            pairs = [[p, p], [p, p]]
        elif len(p) == 2 and all(isinstance(v, int) for v in p):
            pairs = [[p[0], p[0]], [p[1], p[1]]]
        else:
            pairs = [_ints(v, 2, "padding", w) for v in p]
        if len(pairs) != 2 or any(v < 0 for pr in pairs for v in pr):
            raise InputError(f"{w}: padding {p!r} is not ((top, bottom), (left, right))")
        self.add(layer, "zeropad2d", {"padding": pairs})
        return (shape[0], shape[1] + sum(pairs[0]), shape[2] + sum(pairs[1]))


def shape_in(model: KerasModel) -> tuple:
    """The spec's per-frame input shape: channels first ((C, H, W), (C, L) or (F,))."""
    d = model.input_shape
    return tuple(d) if len(d) == 1 else (d[-1],) + tuple(d[:-1])


def read(model: KerasModel) -> Graph:
    """The layer chain of a Keras model (channels-first shapes, PyTorch weight layouts)."""
    return _Reader(model).read()


def run_source(model: KerasModel, x: np.ndarray) -> np.ndarray:
    """The Keras model in float64 on channels-first frames ``x`` (N, *spec input shape);
    the output channels first too (see :mod:`.keras_ref`)."""
    from .keras_ref import run

    x = np.asarray(x, np.float64)
    if x.ndim > 2:  # channels first -> Keras's channels last
        x = np.moveaxis(x, 1, -1)
    y = run(model, x)
    return np.moveaxis(y, -1, 1) if y.ndim > 2 else y


__all__ = ["load", "read", "run_source", "shape_in", "same_pads", "KerasModel", "KerasLayer",
           "LAYERS"]
