"""The float reference of a Keras import: the Keras layers in float64 numpy, channels last.

Written from the Keras/TensorFlow semantics (NHWC tensors, kernels in Keras layout,
TensorFlow's ``"same"`` padding, average pools dividing by the elements inside the input,
max pools ignoring the padding), independent of fixsim's float twin and of the layout
conversion of :mod:`.keras`: the import report compares the two.  Convolutions are
``np.einsum`` over sliding windows.

>>> x = np.arange(8.0).reshape(1, 4, 2)             # (N, L, C)
>>> _pool(x, [2], [2], "valid", np.max)[0].tolist()
[[2.0, 3.0], [6.0, 7.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...errors import InputError


def _tuple(v, n):
    v = [v] * n if isinstance(v, int) else list(v)
    return v * n if len(v) == 1 and n > 1 else v


def _same(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad(x, k, s, padding, value=0.0):
    """x (N, *spatial, C) padded as TensorFlow's ``padding`` does for windows k, strides s."""
    if padding == "valid":
        return x
    pads = [(0, 0)] + [_same(x.shape[1 + i], k[i], s[i]) for i in range(len(k))] + [(0, 0)]
    return np.pad(x, pads, constant_values=value)


def _windows(x, k, s):
    """(N, *out, C, *k): the windows of x (N, *spatial, C) at strides s."""
    nd = len(k)
    w = sliding_window_view(x, tuple(k), axis=tuple(range(1, 1 + nd)))
    index = (slice(None),) + tuple(slice(None, None, si) for si in s)
    return w[index]


def _conv(x, kernel, bias, c, nd):
    k = list(kernel.shape[:nd])
    s = _tuple(c.get("strides", 1), nd)
    xp = _pad(x, k, s, str(c.get("padding", "valid")).lower())
    win = _windows(xp, k, s)  # (N, *out, Cin, *k)
    if nd == 1:
        y = np.einsum("nlci,ico->nlo", win, kernel)
    else:
        y = np.einsum("nhwcij,ijco->nhwo", win, kernel)
    return y + bias if bias is not None else y


def _pool(x, k, s, padding, reduce):
    if padding == "valid":
        win = _windows(x, k, s)
        return reduce(win.reshape(win.shape[:-len(k)] + (-1,)), axis=-1)
    if reduce is np.max:
        xp = _pad(x, k, s, padding, value=-np.inf)
        win = _windows(xp, k, s)
        return np.max(win.reshape(win.shape[:-len(k)] + (-1,)), axis=-1)
    xp, ones = _pad(x, k, s, padding), _pad(np.ones_like(x), k, s, padding)
    total = _windows(xp, k, s).reshape(_windows(xp, k, s).shape[:-len(k)] + (-1,)).sum(-1)
    count = _windows(ones, k, s).reshape(_windows(ones, k, s).shape[:-len(k)] + (-1,)).sum(-1)
    return total / count


def _activation(x, name, c=None):
    if isinstance(name, dict):
        name = (name.get("config") or {}).get("name", name.get("class_name"))
    name = "linear" if name is None else str(name).lower()
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "leaky_relu":
        return np.where(x >= 0, x, 0.2 * x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "softmax":
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise InputError(f"the Keras reference has no activation {name!r}")


def layer(x, cls: str, c: dict, w: dict):  # noqa: C901 - one table-like dispatch
    """One Keras layer of class ``cls`` (config ``c``, weights ``w`` by role) on NHWC x."""
    if cls in ("Dropout", "SpatialDropout1D", "SpatialDropout2D"):
        return x
    if cls in ("Conv1D", "Conv2D"):
        nd = 1 if cls == "Conv1D" else 2
        y = _conv(x, w["kernel"], w.get("bias"), c, nd)
        return _activation(y, c.get("activation"))
    if cls == "Dense":
        y = x @ w["kernel"]
        if "bias" in w:
            y = y + w["bias"]
        return _activation(y, c.get("activation"))
    if cls == "BatchNormalization":
        ch = x.shape[-1]
        gamma = w.get("gamma", np.ones(ch))
        beta = w.get("beta", np.zeros(ch))
        eps = float(c.get("epsilon", 1e-3))
        return (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + eps) * gamma + beta
    if cls == "Activation":
        return _activation(x, c.get("activation"))
    if cls == "ReLU":
        slope = float(c.get("negative_slope", 0.0) or 0.0)
        return np.where(x >= 0, x, slope * x)
    if cls == "LeakyReLU":
        alpha = float(c.get("negative_slope", c.get("alpha", 0.3)))
        return np.where(x >= 0, x, alpha * x)
    if cls == "Softmax":
        return _activation(x, "softmax")
    if cls.startswith(("MaxPooling", "AveragePooling")):
        nd = 1 if cls.endswith("1D") else 2
        k = _tuple(c.get("pool_size", 2), nd)
        s = k if c.get("strides") is None else _tuple(c["strides"], nd)
        reduce = np.max if cls.startswith("Max") else np.mean
        return _pool(x, k, s, str(c.get("padding", "valid")).lower(), reduce)
    if cls.startswith("Global"):
        axes = tuple(range(1, x.ndim - 1))
        y = np.mean(x, axis=axes) if "Average" in cls else np.max(x, axis=axes)
        return y  # keepdims: (N, 1, .., C) holds the same values
    if cls == "Flatten":
        return x.reshape(len(x), -1)
    if cls == "Reshape":
        return x.reshape((len(x),) + tuple(c["target_shape"]))
    if cls == "ZeroPadding1D":
        p = _tuple(c.get("padding", 1), 2)
        return np.pad(x, [(0, 0), tuple(p), (0, 0)])
    if cls == "ZeroPadding2D":
        p = c.get("padding", 1)
        if isinstance(p, int):
            pairs = [(p, p), (p, p)]
        elif all(isinstance(v, int) for v in p):
            pairs = [(p[0], p[0]), (p[1], p[1])]
        else:
            pairs = [tuple(v) for v in p]
        return np.pad(x, [(0, 0)] + pairs + [(0, 0)])
    raise InputError(f"the Keras reference has no layer {cls!r}")


def run(model, x: np.ndarray) -> np.ndarray:
    """The Keras model (:class:`~.keras.KerasModel`) on channels-last frames x (N, ...)."""
    y = np.asarray(x, np.float64)
    for lay in model.layers:
        y = layer(y, lay.cls, lay.config, lay.weights)
    return y


__all__ = ["run", "layer"]
