"""Keras model files written with h5py and zipfile in Keras's exact layouts (no TensorFlow).

Keras 2 (``model.save("x.h5")``): root attributes ``model_config``/``keras_version``/
``backend``, ``model_weights`` with ``layer_names`` and per layer ``weight_names`` =
``<layer>/<var>:0`` datasets.  Keras 3 (``model.save("x.keras")``): ``config.json``,
``metadata.json``, ``model.weights.h5`` with ``layers/<snake-case class>[_k]/vars/<i>``
(Keras 3's saving_lib keys layers by class).  Three architectures of issue 12 (a
LeNet-style CNN, a Conv1D waveform classifier, an MLP) as Keras layer configs, and their
random weights in Keras layouts.  Used by tests/network/test_import_keras.py and
tests/hls4ml/test_hls4ml_import_keras.py.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import h5py
import numpy as np


def snake_case(name: str) -> str:
    """Keras's ``naming.to_snake_case``, written out again here (the importer has its own)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _layer(cls, name, **cfg):
    return {"class_name": cls, "config": {"name": name, "trainable": True, "dtype": "float32",
                                          **cfg}}


def _input(name, shape):
    return _layer("InputLayer", name, batch_input_shape=[None, *shape], sparse=False,
                  ragged=False)


def _weights_of(layers, rng):
    """Random weights in Keras layouts for the layers (by name -> [(var, array)])."""
    out, shape = {}, None
    for entry in layers:
        c, cls = entry["config"], entry["class_name"]
        if cls == "InputLayer":
            shape = list(c["batch_input_shape"][1:])
            continue
        if cls in ("Conv1D", "Conv2D"):
            nd = 1 if cls == "Conv1D" else 2
            k = c["kernel_size"]
            cin = shape[-1]
            out[c["name"]] = [("kernel", rng.normal(0, 0.4, (*k, cin, c["filters"])))]
            if c.get("use_bias", True):
                out[c["name"]].append(("bias", rng.normal(0, 0.2, c["filters"])))
            s = c.get("strides", [1] * nd)
            if c.get("padding") == "same":
                sp = [-(-shape[i] // s[i]) for i in range(nd)]
            else:
                sp = [(shape[i] - k[i]) // s[i] + 1 for i in range(nd)]
            shape = sp + [c["filters"]]
        elif cls == "Dense":
            n = shape[-1]
            out[c["name"]] = [("kernel", rng.normal(0, 0.4, (n, c["units"])))]
            if c.get("use_bias", True):
                out[c["name"]].append(("bias", rng.normal(0, 0.2, c["units"])))
            shape = shape[:-1] + [c["units"]]
        elif cls == "BatchNormalization":
            ch = shape[-1]
            out[c["name"]] = [("gamma", rng.uniform(0.5, 1.5, ch)), ("beta", rng.normal(0, .3, ch)),
                              ("moving_mean", rng.normal(0, .3, ch)),
                              ("moving_variance", rng.uniform(0.5, 2.0, ch))]
        elif cls.startswith(("MaxPooling", "AveragePooling")):
            nd = len(shape) - 1
            k = c["pool_size"]
            s = c.get("strides") or k
            if c.get("padding") == "same":
                shape = [-(-shape[i] // s[i]) for i in range(nd)] + shape[-1:]
            else:
                shape = [(shape[i] - k[i]) // s[i] + 1 for i in range(nd)] + shape[-1:]
        elif cls.startswith("Global"):
            shape = shape[-1:]
        elif cls in ("Flatten", "Reshape"):
            shape = [int(np.prod(shape))]
        elif cls == "ZeroPadding2D":
            (t, b), (left, r) = c["padding"]
            shape = [shape[0] + t + b, shape[1] + left + r, shape[2]]
        elif cls == "ZeroPadding1D":
            shape = [shape[0] + sum(c["padding"]), shape[1]]
    return out


def write_h5(path, layers, weights, *, model=None, version="2.13.1"):
    """A Keras 2 ``model.save("x.h5")`` file."""
    model = model or {"class_name": "Sequential", "config": {"name": "sequential",
                                                             "layers": layers}}
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = version.encode()
        f.attrs["model_config"] = json.dumps(model).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = version.encode()
        names = [entry["config"]["name"] for entry in layers]
        mw.attrs["layer_names"] = np.array([n.encode() for n in names])
        for n in names:
            g = mw.create_group(n)
            wn = [f"{n}/{var}:0" for var, _ in weights.get(n, [])]
            g.attrs["weight_names"] = np.array([w.encode() for w in wn]) if wn else np.array([])
            for w, (_, arr) in zip(wn, weights.get(n, []), strict=True):
                g.create_dataset(w, data=np.asarray(arr, np.float32))
    return path


def write_keras(path, layers, weights, *, functional=False):
    """A Keras 3 ``model.save("x.keras")`` zip (config.json, metadata.json, weights)."""
    k3 = []
    for entry in layers:
        c = dict(entry["config"])
        if "batch_input_shape" in c:
            c["batch_shape"] = c.pop("batch_input_shape")
            c.pop("ragged", None)
        k3.append({"module": "keras.layers", "class_name": entry["class_name"], "config": c,
                   "registered_name": None})
    if functional:
        prev = None
        for e in k3:
            e["name"] = e["config"]["name"]
            e["inbound_nodes"] = [] if prev is None else [{"args": [{
                "class_name": "__keras_tensor__",
                "config": {"shape": [None], "dtype": "float32", "keras_history": [prev, 0, 0]}}],
                "kwargs": {}}]
            prev = e["name"]
        config = {"module": "keras.src.models.functional", "class_name": "Functional",
                  "config": {"name": "functional", "layers": k3,
                             "input_layers": [k3[0]["name"], 0, 0],
                             "output_layers": [k3[-1]["name"], 0, 0]}, "registered_name": None}
    else:
        config = {"module": "keras", "class_name": "Sequential",
                  "config": {"name": "sequential", "layers": k3}, "registered_name": None}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:  # Keras 3 keys layers by class: conv2d, conv2d_1, ...
        f.create_group("vars")
        used: dict = {}
        for e in k3[1:]:
            key = snake_case(e["class_name"])
            used[key] = used.get(key, -1) + 1
            key = f"{key}_{used[key]}" if used[key] else key
            g = f.create_group(f"layers/{key}/vars")
            for i, (_, arr) in enumerate(weights.get(e["config"]["name"], [])):
                g.create_dataset(str(i), data=np.asarray(arr, np.float32))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0",
                                                 "date_saved": "2026-12-02@00:00:00"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", buf.getvalue())
    return path


# ------------------------------------------------------------------ the architectures
def cnn():
    """LeNet-style: Conv2D+BN+ReLU, MaxPooling2D, Conv2D (same, stride 2), AveragePooling2D,
    Flatten, Dense, Dropout, Dense + softmax."""
    return [_input("image", [16, 16, 1]),
            _layer("Conv2D", "conv1", filters=4, kernel_size=[3, 3], strides=[1, 1],
                   padding="valid", data_format="channels_last", dilation_rate=[1, 1],
                   groups=1, activation="linear", use_bias=True),
            _layer("BatchNormalization", "bn1", axis=-1, momentum=0.99, epsilon=0.001,
                   center=True, scale=True),
            _layer("ReLU", "relu1", max_value=None, negative_slope=0.0, threshold=0.0),
            _layer("MaxPooling2D", "pool1", pool_size=[2, 2], padding="valid", strides=[2, 2],
                   data_format="channels_last"),
            _layer("ZeroPadding2D", "pad", padding=[[1, 0], [0, 1]],
                   data_format="channels_last"),
            _layer("Conv2D", "conv2", filters=6, kernel_size=[3, 3], strides=[2, 2],
                   padding="same", data_format="channels_last", dilation_rate=[1, 1],
                   groups=1, activation="relu", use_bias=True),
            _layer("AveragePooling2D", "pool2", pool_size=[2, 2], padding="valid",
                   strides=[1, 1], data_format="channels_last"),
            _layer("Flatten", "flatten", data_format="channels_last"),
            _layer("Dense", "fc1", units=10, activation="tanh", use_bias=True),
            _layer("Dropout", "drop", rate=0.25),
            _layer("Dense", "fc2", units=5, activation="softmax", use_bias=True)]


def wave():
    """Conv1D waveform classifier: Conv1D (same), BN, LeakyReLU, MaxPooling1D, Conv1D + relu,
    GlobalAveragePooling1D, Dense + sigmoid."""
    return [_input("wave", [32, 2]),
            _layer("Conv1D", "conv1", filters=4, kernel_size=[5], strides=[1], padding="same",
                   data_format="channels_last", dilation_rate=[1], groups=1,
                   activation="linear", use_bias=False),
            _layer("BatchNormalization", "bn1", axis=-1, epsilon=0.001, center=True, scale=True),
            _layer("LeakyReLU", "lrelu", alpha=0.1),
            _layer("MaxPooling1D", "pool1", pool_size=[2], strides=[2], padding="valid",
                   data_format="channels_last"),
            _layer("Conv1D", "conv2", filters=6, kernel_size=[3], strides=[1], padding="valid",
                   data_format="channels_last", dilation_rate=[1], groups=1, activation="relu",
                   use_bias=True),
            _layer("GlobalAveragePooling1D", "gap", data_format="channels_last",
                   keepdims=False),
            _layer("Dense", "out", units=1, activation="sigmoid", use_bias=True)]


def mlp():
    """MLP: Dense + relu, BN, Dense + tanh, Dense, Activation softmax."""
    return [_input("features", [12]),
            _layer("Dense", "fc1", units=16, activation="relu", use_bias=True),
            _layer("BatchNormalization", "bn", axis=-1, epsilon=0.001, center=True, scale=True),
            _layer("Dense", "fc2", units=8, activation="tanh", use_bias=True),
            _layer("Dense", "fc3", units=3, activation="linear", use_bias=True),
            _layer("Activation", "act", activation="softmax")]


ARCHS = {"cnn": cnn, "wave": wave, "mlp": mlp}
