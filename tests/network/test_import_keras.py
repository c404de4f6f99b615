"""fixsim import from Keras .h5 (Keras 2 HDF5) and .keras (Keras 3 zip) files (issue 12).

The files are written with h5py and zipfile in Keras's exact layouts (keras_files.py; no
TensorFlow).  The float reference is ``keras_ref`` (NHWC numpy einsum), and a second,
loop-based NHWC convolution below checks that reference itself.  The hls4ml-config
imports against hls4ml's own Keras converter and C simulation are in
tests/hls4ml/test_hls4ml_import_keras.py (-m slow).
"""

from __future__ import annotations

import io
import json
import zipfile

import h5py
import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.network.importers import Config, import_model
from fixsim.network.importers import keras as K
from fixsim.network.importers import keras_ref
from fixsim.network.spec import load_spec

from .keras_files import ARCHS, _input, _layer, _weights_of, cnn, write_h5, write_keras

P16 = "ap_fixed<16,6>"


def _h5(tmp_path, arch, seed=0):
    layers = ARCHS[arch]()
    weights = _weights_of(layers, np.random.default_rng(seed))
    return write_h5(tmp_path / f"{arch}.h5", layers, weights)


# ------------------------------------------------------------------ float twin = Keras
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_float_twin_equals_keras_reference(tmp_path, arch):
    path = _h5(tmp_path, arch)
    for keep_bn in (False, True):
        r = import_model(str(path), config=Config.default(P16), keep_bn=keep_bn)
        assert r.check.passed and r.check.relative_error <= 1e-5, r.check.line()
        assert r.check.max_abs_reference > 0.01  # the outputs are not all zero
        assert r.report["source"]["kind"] == "keras"
        assert r.report["source"]["keras_version"] == "2.13.1"
        n_bn = [l.type for l in r.spec.layers].count("batchnorm")
        # the MLP's BatchNorm follows a relu, so it cannot fold into fc1
        assert n_bn == (1 if keep_bn or arch == "mlp" else 0)


def test_layouts_and_layer_names(tmp_path):
    path = _h5(tmp_path, "cnn")
    r = import_model(str(path), config=Config.default(P16))
    spec = r.spec
    assert spec.input_shape == (1, 16, 16)  # channels first
    names = [(l.name, l.type) for l in spec.layers]
    assert names == [("conv1", "conv2d"), ("relu1", "relu"), ("pool1", "maxpool2d"),
                     ("pad", "zeropad2d"), ("conv2_pad", "zeropad2d"), ("conv2", "conv2d"),
                     ("conv2_relu", "relu"), ("pool2", "avgpool2d"), ("flatten", "flatten"),
                     ("fc1", "dense"), ("fc1_tanh", "tanh"), ("fc2", "dense"),
                     ("fc2_softmax", "softmax")]
    assert spec.layer("flatten").order == "hwc"
    model = K.load(str(path))
    conv2 = next(l for l in model.layers if l.name == "conv2")
    assert np.array_equal(r.float_weights["conv2.weight"],
                          conv2.weights["kernel"].transpose(3, 2, 0, 1))
    fc2 = next(l for l in model.layers if l.name == "fc2")
    assert np.array_equal(r.float_weights["fc2.weight"], fc2.weights["kernel"].T)


def test_keras_reference_matches_loop_convolution():
    """keras_ref's einsum convolution against explicit NHWC loops (TensorFlow's 'same')."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 7, 6, 3))
    kernel, bias = rng.normal(size=(3, 2, 3, 4)), rng.normal(size=4)
    for padding, s in (("valid", (1, 1)), ("same", (2, 2)), ("same", (1, 1))):
        cfg = {"strides": list(s), "padding": padding, "activation": "linear"}
        got = keras_ref.layer(x, "Conv2D", cfg, {"kernel": kernel, "bias": bias})
        if padding == "same":
            pads = [K.same_pads(x.shape[1 + i], kernel.shape[i], s[i]) for i in range(2)]
            xp = np.pad(x, [(0, 0), pads[0][1:], pads[1][1:], (0, 0)])
        else:
            xp = x
        ho = (xp.shape[1] - 3) // s[0] + 1
        wo = (xp.shape[2] - 2) // s[1] + 1
        want = np.zeros((2, ho, wo, 4))
        for n in range(2):
            for i in range(ho):
                for j in range(wo):
                    for o in range(4):
                        acc = bias[o]
                        for a in range(3):
                            for b in range(2):
                                for c in range(3):
                                    acc += xp[n, i * s[0] + a, j * s[1] + b, c] * kernel[a, b, c, o]
                        want[n, i, j, o] = acc
        assert got.shape == want.shape and np.allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("functional", [False, True])
def test_keras3_zip_imports_like_h5(tmp_path, functional):
    layers = cnn()
    weights = _weights_of(layers, np.random.default_rng(7))
    h5 = write_h5(tmp_path / "m.h5", layers, weights)
    zp = write_keras(tmp_path / "m.keras", layers, weights, functional=functional)
    a = import_model(str(h5), config=Config.default(P16), name="m")
    b = import_model(str(zp), config=Config.default(P16), name="m")
    assert b.check.passed, b.check.line()
    assert b.report["source"]["format"] == "keras"
    # Keras 3's saving_lib keys: snake-case class names, counted per class
    assert K.weight_keys(K.load(str(zp))) == [
        "conv2d", "batch_normalization", "re_lu", "max_pooling2d", "zero_padding2d",
        "conv2d_1", "average_pooling2d", "flatten", "dense", "dropout", "dense_1"]
    assert a.spec.spec_hash() == b.spec.spec_hash()
    for k in a.weights:
        assert np.array_equal(a.weights[k], b.weights[k])


def test_same_pooling_and_dense_on_sequence(tmp_path):
    layers = [_input("x", [9, 3]),
              _layer("Conv1D", "c", filters=4, kernel_size=[2], strides=[2], padding="same",
                     activation="linear", use_bias=True),
              _layer("MaxPooling1D", "mp", pool_size=[2], strides=[2], padding="same"),
              _layer("AveragePooling1D", "ap", pool_size=[3], strides=[1], padding="same"),
              _layer("ZeroPadding1D", "zp", padding=[1, 2]),
              _layer("Dense", "d", units=3, activation="softmax", use_bias=True),
              _layer("Flatten", "f"),
              _layer("Dense", "o", units=2, activation="linear", use_bias=True)]
    path = write_h5(tmp_path / "seq.h5", layers, _weights_of(layers, np.random.default_rng(1)))
    r = import_model(str(path), config=Config.default(P16))
    assert r.check.passed, r.check.line()
    # TensorFlow's "same": the max pool clips its last window (PyTorch's ceil mode), the
    # average pool pads symmetrically and divides by the elements inside the input
    assert r.spec.layer("mp").ceil_mode
    assert r.spec.layer("ap").padding == 1 and r.spec.layer("ap").cfg.count_pad is False
    assert r.spec.layer("c_pad").type == "zeropad1d"  # stride 2, "same": pad (0, 1) first


# ------------------------------------------------------------------ CLI
def test_cli_keras_writes_spec_weights_that_fixsim_runs(tmp_path, capsys):
    from fixsim.network import run
    from fixsim.vectors.weight_io import load_weights

    path = _h5(tmp_path, "cnn")
    out = tmp_path / "out"
    rc = main(["import", "keras", str(path), "--precision", P16, "--out", str(out),
               "--write-config", str(tmp_path / "cnn.yml")])
    text, err = capsys.readouterr()
    assert rc == 0, err
    assert "PASS" in text
    report = json.loads((out / "import_report.json").read_text())
    assert report["source"]["kind"] == "keras" and len(report["source"]["sha256"]) == 64
    assert main(["spec", str(out / "spec.json")]) == 0
    spec = load_spec(out / "spec.json")
    weights, _ = load_weights(spec, str(out / "weights.npz"))
    x = np.random.default_rng(0).normal(size=(3,) + spec.input_shape)
    from fixsim.fixed import quantize

    y = run(spec, weights, quantize(x, spec.input_format, warn=False), taps=False)
    assert y[spec.layers[-1].name].shape == (3, 5)
    # the written hls4ml-style config drives the same import; it leaves hls4ml's
    # ChannelsLastConversion at its default 'off' (a Keras model is channels last already)
    import yaml

    assert "ChannelsLastConversion" not in yaml.safe_load(
        (tmp_path / "cnn.yml").read_text())["Model"]
    rc = main(["import", str(path), "--config", str(tmp_path / "cnn.yml"), "--out",
               str(tmp_path / "again")])
    capsys.readouterr()
    assert rc == 0
    assert load_spec(tmp_path / "again" / "spec.json").spec_hash() == spec.spec_hash()


# ------------------------------------------------------------------ hostile files
def _one_line(err: str) -> str:
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _hostile(tmp_path, case):
    layers = cnn()
    weights = _weights_of(layers, np.random.default_rng(0))
    path = tmp_path / "bad.h5"
    if case == "not_hdf5":
        path.write_text("not a model\n")
    elif case == "no_model_config":
        write_h5(path, layers, weights)
        with h5py.File(path, "a") as f:
            del f.attrs["model_config"]
    elif case == "lstm":
        layers.insert(3, _layer("LSTM", "lstm1", units=4))
        write_h5(path, layers, weights)
    elif case == "branched":
        fl = [dict(e, name=e["config"]["name"]) for e in layers[:3]]
        fl[0]["inbound_nodes"] = []
        fl[1]["inbound_nodes"] = [[["image", 0, 0, {}]]]
        fl[2]["inbound_nodes"] = [[["image", 0, 0, {}]]]  # a second branch off the input
        model = {"class_name": "Functional", "config": {
            "name": "model", "layers": fl, "input_layers": [["image", 0, 0]],
            "output_layers": [["bn1", 0, 0]]}}
        write_h5(path, fl, weights, model=model)
    elif case == "missing_weights":
        del weights["conv2"]
        write_h5(path, layers, weights)
    elif case == "wrong_shape":
        weights["fc1"][0] = ("kernel", np.zeros((7, 10)))
        write_h5(path, layers, weights)
    elif case == "malformed_config":
        del layers[-1]["config"]["units"]
        write_h5(path, layers, weights)
    elif case == "string_weights":
        write_h5(path, layers, weights)
        with h5py.File(path, "a") as f:
            del f["model_weights/fc2/fc2/bias:0"]
            f["model_weights/fc2/fc2/bias:0"] = np.array([b"x"] * 5)
    elif case == "dynamic_shape":
        layers[0]["config"]["batch_input_shape"] = [None, None, 16, 1]
        write_h5(path, layers, weights)
    return path


HOSTILE = {"not_hdf5": "neither an HDF5 file", "no_model_config": "no 'model_config'",
           "lstm": "layer 'lstm1': unsupported Keras layer 'LSTM'",
           "branched": "layer 'bn1' takes ['image']", "missing_weights": "layer 'conv2'",
           "wrong_shape": "layer 'fc1' (Dense): kernel shape (7, 10)",
           "dynamic_shape": "dynamic or unknown shape",
           "malformed_config": "layer 'fc2' (Dense): malformed layer config (KeyError",
           "string_weights": "unreadable weights"}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_keras_files_one_line_exit_2(tmp_path, capsys, case):
    path = _hostile(tmp_path, case)
    rc = main(["import", str(path), "--precision", P16, "--out", str(tmp_path / "o")])
    _, err = capsys.readouterr()
    line = _one_line(err)
    assert rc == 2 and HOSTILE[case] in line, line
    assert not (tmp_path / "o").exists()


def test_keras_kind_needs_a_keras_file(tmp_path, capsys):
    path = _h5(tmp_path, "mlp")
    for argv in (["keras", str(tmp_path / "m.onnx")], ["torch", str(path)]):
        rc = main(["import", *argv, "--precision", P16, "--out", str(tmp_path / "o")])
        line = _one_line(capsys.readouterr()[1])
        assert rc == 2 and "Keras models are .h5, .hdf5 or .keras files" in line


def test_keras2_functional_chain_and_sequential_without_input_layer(tmp_path):
    layers = ARCHS["mlp"]()
    weights = _weights_of(layers, np.random.default_rng(5))
    # Keras 2 Functional: inbound_nodes [[[name, 0, 0, {}]]], input/output_layers lists
    fl, prev = [], None
    for e in layers:
        e = dict(e, name=e["config"]["name"])
        e["inbound_nodes"] = [] if prev is None else [[[prev, 0, 0, {}]]]
        prev = e["name"]
        fl.append(e)
    model = {"class_name": "Functional", "config": {
        "name": "model", "layers": fl, "input_layers": [["features", 0, 0]],
        "output_layers": [[prev, 0, 0]]}}
    func = import_model(str(write_h5(tmp_path / "f.h5", fl, weights, model=model)),
                        config=Config.default(P16), name="m")
    assert func.check.passed, func.check.line()
    # Keras 2 Sequential built without an InputLayer: the first layer's batch_input_shape
    seq = [dict(e, config=dict(e["config"])) for e in layers[1:]]
    seq[0]["config"]["batch_input_shape"] = [None, 12]
    plain = import_model(str(write_h5(tmp_path / "s.h5", seq, weights)),
                         config=Config.default(P16), name="m")
    assert plain.check.passed and plain.report["layers"][0]["name"] == "fc1_input_flatten"
    assert [l.type for l in plain.spec.layers] == [l.type for l in func.spec.layers]
    for k in func.weights:
        assert np.array_equal(func.weights[k], plain.weights[k])


@pytest.mark.parametrize("case", ["no_weights_file", "missing_layer_vars", "not_zip_member_json"])
def test_hostile_keras3_zips_one_line_exit_2(tmp_path, capsys, case):
    layers = cnn()
    weights = _weights_of(layers, np.random.default_rng(0))
    good = write_keras(tmp_path / "good.keras", layers, weights)
    path = tmp_path / "bad.keras"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if case == "no_weights_file" and item == "model.weights.h5":
                continue
            if case == "missing_layer_vars" and item == "model.weights.h5":
                src = h5py.File(io.BytesIO(data), "r")
                buf = io.BytesIO()
                with src, h5py.File(buf, "w") as dst:
                    for key in src["layers"]:
                        if key != "conv2d_1":
                            src.copy(src[f"layers/{key}"], dst, f"layers/{key}")
                data = buf.getvalue()
            if case == "not_zip_member_json" and item == "config.json":
                data = b"{not json"
            zout.writestr(item, data)
    rc = main(["import", "keras", str(path), "--precision", P16, "--out", str(tmp_path / "o")])
    line = _one_line(capsys.readouterr()[1])
    want = {"no_weights_file": "has no model.weights.h5",
            "missing_layer_vars": "layer 'conv2' (Conv2D): missing weights (no group "
                                  "layers/conv2d_1/vars",
            "not_zip_member_json": "config.json is not valid JSON"}[case]
    assert rc == 2 and want in line, line


def test_dialect_none_and_a_wrong_layout_fails_the_float_check(tmp_path, monkeypatch):
    path = _h5(tmp_path, "cnn")
    snl = import_model(str(path), config=Config.default(P16), dialect="none")
    assert snl.check.passed, snl.check.line()
    assert snl.spec.layer("conv2").activation.kind == "relu"  # SNL style: fused
    # the float check sees a layout error: dense columns left in Keras's (h, w, c) order
    real = K._Reader.dense

    def no_permutation(self, layer, shape):
        self.hwc_map = None
        return real(self, layer, shape)

    monkeypatch.setattr(K._Reader, "dense", no_permutation)
    wrong = import_model(str(path), config=Config.default(P16))
    assert not wrong.check.passed and wrong.check.relative_error > 1e-3
