"""Keras ``.h5`` and ``.keras`` models into a :class:`~fixsim.network.importers.graph.Graph`.

The files are read by :mod:`.keras_io` (h5py and zipfile alone, no TensorFlow or Keras
import): Sequential and chain-shaped Functional models, ``channels_last`` only.  Keras is
channels last: the spec's input is channels first ((C, H, W) or (C, L)), conv kernels
(KH, KW, Cin, Cout) become (Cout, Cin, KH, KW), dense kernels (In, Out) become (Out, In),
and a Flatten of a map is fixsim's ``"order": "hwc"`` flatten (the dense layer after it
gets its columns in fixsim's (c, h, w) weight order, which the hwc flatten permutes
back).  An activation given to a Conv/Dense layer becomes a layer of its own named
``<layer>_<activation>`` (hls4ml's name for it).  The float reference of the import
report is :mod:`.keras_ref` (the Keras layers in float64 numpy, channels last).
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from .graph import Graph, Op, layer_name
from .keras_io import DROPPED, LAYERS, KerasLayer, KerasModel, load, snake_case, weight_keys

#: Activation names (of Activation layers and of Conv/Dense ``activation``) -> layer type.
ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
               "leaky_relu": "leaky_relu", "linear": None}

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
           "LAYERS", "snake_case", "weight_keys"]
