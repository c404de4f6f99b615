"""fixsim import from PyTorch: the golden SpeckleNN, three architectures, configurations,
hostile models through the CLI (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="fixsim import torch needs torch (extra 'model')")

from fixsim.cli.main import main  # noqa: E402
from fixsim.network.importers import Config, import_model  # noqa: E402
from fixsim.network.importers.precision import mac_accum  # noqa: E402
from fixsim.network.importers.report import FloatCheck  # noqa: E402
from fixsim.network.spec import load_spec  # noqa: E402
from fixsim.network.weights import check_weights, quantize_weights  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(__file__).with_name("import_models.py")
SPECKLENN = ROOT / "fixsim" / "model" / "specklenn.py"
GOLDEN = ROOT / "golden"

#: (class, input shape) of the three architectures built in import_models.py.
ARCHS = {"WaveNet": (2, 32), "LeNet": (1, 16, 16), "MLP": (12,)}


def _checkpoint(tmp_path, cls_name: str) -> Path:
    """Seeded weights (and BatchNorm statistics away from the identity) saved as a state dict."""
    import import_models_loader as loader

    return loader.checkpoint(tmp_path, cls_name)


@pytest.fixture(autouse=True)
def _loader(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def _cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["import", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def _bundled_config(spec) -> dict:
    """The bundled spec's formats as an hls4ml-style configuration (written by hand here,
    independent of the importer's --write-config)."""
    layers = {"x": {"Precision": {"result": str(spec.input_format)}}}
    for l in spec.mac_layers:
        f = l.formats
        layers[l.name] = {"Precision": {"weight": str(f.weight), "bias": str(f.bias),
                                        "accum": str(f.accum), "result": str(f.result)}}
    return {"Model": {"Precision": str(spec.input_format), "ReuseFactor": 1,
                      "Strategy": "Latency"}, "IOType": "io_parallel", "LayerName": layers}


def _golden_args(config: Path, out: Path, spec) -> list:
    return [SPECKLENN.as_posix() + ":SpeckleNNInference", "--weights",
            GOLDEN / "model_folded.pt", "--input-shape", "1,65,65", "--config", config,
            "--dialect", "none", "--name", spec.name, "--description", spec.description,
            "--rename", "max_pool2d=pool1", "--rename", "max_pool2d_1=pool2", "--out", out]


def test_golden_specklenn_is_the_bundled_spec_and_weights(tmp_path, capsys):
    bundled = load_spec("specklenn-snl")
    config = tmp_path / "specklenn.yml"
    import yaml

    config.write_text(yaml.safe_dump(_bundled_config(bundled)))
    out = tmp_path / "imported"
    rc, text, err = _cli(capsys, "torch", *_golden_args(config, out, bundled),
                         "--write-config", tmp_path / "written.json")
    assert rc == 0, err
    spec = load_spec(out / "spec.json")
    assert spec.spec_hash() == bundled.spec_hash()
    golden = quantize_weights(bundled, dict(np.load(GOLDEN / "weights_folded.npz")))
    got = dict(np.load(out / "weights.npz"))
    assert sorted(got) == sorted(golden)
    for name in golden:
        assert got[name].dtype == np.int64
        np.testing.assert_array_equal(got[name], golden[name], err_msg=name)
    report = json.loads((out / "import_report.json").read_text())
    assert report["float_check"]["passed"] and report["float_check"]["relative_error"] < 1e-12
    assert report["spec"]["hash"] == bundled.spec_hash()
    assert len(report["source"]["sha256"]) == 64 and report["generator"].startswith("fixsim ")
    assert [r["name"] for r in report["layers"]] == [l.name for l in bundled.layers]
    assert "PASS" in (out / "import_report.txt").read_text()
    # the written configuration drives the same import again
    out2 = tmp_path / "again"
    args = _golden_args(tmp_path / "written.json", out2, bundled)
    rc, _, err = _cli(capsys, "torch", *args)
    assert rc == 0, err
    assert load_spec(out2 / "spec.json").spec_hash() == bundled.spec_hash()
    # every command that takes a spec takes it (fixsim spec validates it)
    assert main(["spec", str(out / "spec.json")]) == 0


@pytest.mark.parametrize("cls_name", sorted(ARCHS))
def test_architecture_float_twin_equals_pytorch(tmp_path, cls_name):
    ckpt = _checkpoint(tmp_path, cls_name)
    for dialect in ("hls4ml", "none"):
        r = import_model(f"{MODELS}:{cls_name}", weights=str(ckpt), input_shape=ARCHS[cls_name],
                         config=Config.default("ap_fixed<16,6>"), dialect=dialect)
        assert r.check.passed and r.check.relative_error <= 1e-5, r.check.line()
        assert r.check.max_abs_reference > 0.01  # the outputs are not all zero
        check_weights(r.spec, r.weights)
        assert load_spec(r.spec.to_json()).spec_hash() == r.spec.spec_hash()


def test_wavenet_layers_folded_and_kept(tmp_path):
    ckpt = _checkpoint(tmp_path, "WaveNet")
    model = f"{MODELS}:WaveNet"
    folded = import_model(model, weights=str(ckpt), input_shape=(2, 32),
                          config=Config.default("ap_fixed<16,6>"))
    assert [(l.name, l.type) for l in folded.spec.layers] == [
        ("conv1", "conv1d"), ("relu", "relu"), ("pool1", "maxpool1d"), ("conv2", "conv1d"),
        ("leaky_relu", "leaky_relu"), ("gap", "global_avgpool1d"), ("fc", "dense")]
    assert folded.spec.layer("pool1").ceil_mode
    kept = import_model(model, weights=str(ckpt), input_shape=(2, 32), keep_bn=True,
                        config=Config.default("ap_fixed<16,6>"))
    assert [l.type for l in kept.spec.layers].count("batchnorm") == 2
    assert kept.check.passed, kept.check.line()
    # SNL style: relu fused into the conv, leaky_relu too
    snl = import_model(model, weights=str(ckpt), input_shape=(2, 32), dialect="none",
                       config=Config.default("ap_fixed<16,6>"))
    assert snl.spec.layer("conv1").activation.kind == "relu"
    assert snl.spec.layer("conv2").activation.kind == "leaky_relu"
    assert snl.spec.dialect is None and folded.spec.dialect is not None


def test_precision_default_infers_accumulators_as_hls4ml(tmp_path):
    ckpt = _checkpoint(tmp_path, "MLP")
    r = import_model(f"{MODELS}:MLP", weights=str(ckpt), input_shape=(12,),
                     config=Config.default("ap_fixed<16,6>"))
    fc1 = r.spec.layer("fc1")
    p = fc1.formats.weight
    assert str(p) == "ap_fixed<16,6>" and fc1.formats.result == p
    # W = 16 + 16 + ceil(log2 12) = 36, I = 6 + 6 + 4 = 16; the bias adds one integer bit
    assert str(fc1.formats.accum) == "ap_fixed<37,17>" == str(mac_accum(p, p, p, 12))


def test_config_layer_formats_and_reuse(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, "LeNet")
    cfg = {"Model": {"Precision": "ap_fixed<18,8>", "ReuseFactor": 1, "Strategy": "Latency"},
           "IOType": "io_parallel",
           "LayerName": {"fc1": {"Precision": {"weight": "ap_fixed<8,2>", "accum": "auto"},
                                 "ReuseFactor": 6, "Strategy": "Resource"},
                         "act1": {"Precision": {"result": "ap_fixed<12,2>",
                                                "table": "ap_fixed<18,4>"}}}}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    out = tmp_path / "out"
    rc, text, err = _cli(capsys, "torch", f"{MODELS}:LeNet", "--weights", ckpt,
                         "--input-shape", "1,16,16", "--config", path, "--out", out, "--json",
                         "--hdf5", tmp_path / "w.h5")
    assert rc == 0, err
    spec = load_spec(out / "spec.json")
    from fixsim.vectors.weight_io import load_weights

    from_h5, _ = load_weights(spec, str(tmp_path / "w.h5"))
    from_npz, _ = load_weights(spec, str(out / "weights.npz"))
    assert sorted(from_h5) == sorted(from_npz) == sorted(spec.weight_shapes())
    for k in from_npz:
        np.testing.assert_array_equal(from_h5[k], from_npz[k])
    assert json.loads(text)["outputs"]["hdf5"]["sha256"]
    on_disk = json.loads((out / "import_report.json").read_text())["outputs"]
    assert sorted(on_disk) == ["hdf5", "spec", "weight_image", "weights"]
    from fixsim.vectors.weight_image import read_image

    image = read_image(out / "weights.img", spec)  # the board's weight image, checked
    for k in from_npz:
        np.testing.assert_array_equal(image.weights[k], from_npz[k])
    fc1 = spec.layer("fc1")
    assert str(fc1.formats.weight) == "ap_fixed<8,2>" and str(fc1.formats.bias) == "ap_fixed<18,8>"
    assert fc1.strategy == "Resource" and fc1.reuse_factor == 6
    assert fc1.options.sum_order == "resource"
    assert str(spec.layer("act1").out_format) == "ap_fixed<12,2>"
    assert spec.layer("reshape" if "reshape" in [l.name for l in spec.layers] else "view").order \
        == "hwc"  # io_parallel, a dense layer next: hls4ml's channels-last order
    assert str(spec.input_format) == "ap_fixed<18,8>"


# ------------------------------------------------------------------ hostile models
def _one_line(err: str) -> str:
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_unsupported_op_names_the_op_and_node(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, "Unsupported")
    rc, _, err = _cli(capsys, "torch", f"{MODELS}:Unsupported", "--weights", ckpt,
                      "--input-shape", "1,8,8", "--precision", "ap_fixed<16,6>", "--out",
                      tmp_path / "o")
    line = _one_line(err)
    assert rc == 2 and "unsupported op 'abs' at node 'abs" in line
    assert not (tmp_path / "o").exists()


def test_branches_are_refused(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, "Residual")
    rc, _, err = _cli(capsys, "torch", f"{MODELS}:Residual", "--weights", ckpt,
                      "--input-shape", "8", "--precision", "ap_fixed<16,6>", "--out",
                      tmp_path / "o")
    assert rc == 2 and "chain" in _one_line(err)


def test_missing_weights(tmp_path, capsys):
    base = [f"{MODELS}:MLP", "--input-shape", "12", "--precision", "ap_fixed<16,6>", "--out",
            tmp_path / "o"]
    rc, _, err = _cli(capsys, "torch", *base)
    assert rc == 2 and "missing --weights" in _one_line(err)
    ckpt = _checkpoint(tmp_path, "MLP")
    state = torch.load(ckpt, weights_only=True)
    del state["fc2.bias"]
    partial = tmp_path / "partial.pt"
    torch.save(state, partial)
    rc, _, err = _cli(capsys, "torch", *base, "--weights", partial)
    line = _one_line(err)
    assert rc == 2 and "lacks" in line and "fc2.bias" in line


def test_config_names_the_model_does_not_have(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, "MLP")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"Model": {"Precision": "ap_fixed<16,6>"},
                               "LayerName": {"fc_1": {"Precision": "ap_fixed<8,3>"}}}))
    rc, _, err = _cli(capsys, "torch", f"{MODELS}:MLP", "--weights", ckpt, "--input-shape", "12",
                      "--config", cfg, "--out", tmp_path / "o")
    line = _one_line(err)
    assert rc == 2 and "fc_1" in line and "did you mean 'fc1'" in line


def test_dynamic_shapes_in_an_exported_program(tmp_path, capsys):
    from import_models import ConvOnly

    length = torch.export.Dim("length", min=16, max=64)
    ep = torch.export.export(ConvOnly().eval(), (torch.zeros(2, 2, 32),),
                             dynamic_shapes={"x": {2: length}})
    path = tmp_path / "conv_dynamic.pt2"
    torch.export.save(ep, path)
    rc, _, err = _cli(capsys, "torch", path, "--precision", "ap_fixed<16,6>", "--out",
                      tmp_path / "o")
    assert rc == 2 and "dynamic shape" in _one_line(err)


def test_garbage_exported_program_is_one_line(tmp_path, capsys):
    path = tmp_path / "garbage.pt2"
    path.write_bytes(b"not a zip archive")
    rc, _, err = _cli(capsys, path, "--precision", "ap_fixed<16,6>", "--out", tmp_path / "o")
    assert rc == 2 and "not a torch.export file" in _one_line(err)


def test_static_exported_program_imports(tmp_path, capsys):
    from import_models import WaveNet

    ckpt = _checkpoint(tmp_path, "WaveNet")
    m = WaveNet().eval()
    m.load_state_dict(torch.load(ckpt, weights_only=True))
    path = tmp_path / "wavenet.pt2"
    torch.export.save(torch.export.export(m, (torch.zeros(2, 2, 32),)), path)
    rc, out, err = _cli(capsys, path, "--precision", "ap_fixed<16,6>", "--out", tmp_path / "o")
    assert rc == 0, err
    report = json.loads((tmp_path / "o" / "import_report.json").read_text())
    assert report["float_check"]["passed"]
    assert report["outputs"]["weights"]["sha256"] and "PASS" in out


def test_bad_arguments_one_line(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, "MLP")
    base = [f"{MODELS}:MLP", "--weights", ckpt, "--out", tmp_path / "o"]
    cases = [
        (["--input-shape", "12", "--precision", "ap_fixed<0,6>"], "--precision"),
        (["--input-shape", "12"], "precision"),
        (["--input-shape", "12,a", "--precision", "ap_fixed<16,6>"], "input-shape"),
        (["--input-shape", "12", "--precision", "ap_fixed<16,6>", "--args", "{"], "--args"),
        (["--input-shape", "12", "--precision", "ap_fixed<16,6>", "--rename", "fc9=a"], "fc9"),
    ]
    for extra, word in cases:
        rc, _, err = _cli(capsys, "torch", *base, *extra)
        assert rc == 2 and word in _one_line(err), (extra, err)
    rc, _, err = _cli(capsys, "torch", f"{MODELS}:NoSuchNet", "--weights", ckpt,
                      "--input-shape", "12", "--precision", "ap_fixed<16,6>", "--out",
                      tmp_path / "o")
    assert rc == 2 and "NoSuchNet" in _one_line(err)


def test_float_twin_mismatch_fails_with_exit_1(tmp_path, capsys, monkeypatch):
    from fixsim.network.importers import pytorch as P

    ckpt = _checkpoint(tmp_path, "MLP")
    real = P.run_source
    monkeypatch.setattr(P, "run_source", lambda m, x: real(m, x) * (1 + 1e-4))
    rc, _, err = _cli(capsys, "torch", f"{MODELS}:MLP", "--weights", ckpt, "--input-shape",
                      "12", "--precision", "ap_fixed<16,6>", "--out", tmp_path / "o")
    assert rc == 1 and "differs from the source" in err
    assert not (tmp_path / "o").exists()


def test_float_check_limits():
    ref = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert FloatCheck.compare(ref, ref, seed=1, frames=2).passed
    assert FloatCheck.compare(ref, ref + 1e-6, seed=1, frames=2).passed  # 5e-7 relative
    bad = FloatCheck.compare(ref, ref + 1e-4, seed=1, frames=2)
    assert not bad.passed and "FAIL" in bad.line()
    assert not FloatCheck.compare(ref, ref[:, :1], seed=1, frames=2).passed


def test_precision_auto_fits_the_profiled_ranges(tmp_path, capsys):
    from fixsim.network import run_float

    ckpt = _checkpoint(tmp_path, "LeNet")
    frames = np.random.default_rng(5).uniform(-3, 3, (40, 1, 16, 16))
    np.save(tmp_path / "sample.npy", frames)
    out = tmp_path / "auto"
    rc, _, err = _cli(capsys, "torch", f"{MODELS}:LeNet", "--weights", ckpt, "--input-shape",
                      "1,16,16", "--precision", "auto:12", "--sample", tmp_path / "sample.npy",
                      "--out", out)
    assert rc == 0, err
    spec = load_spec(out / "spec.json")
    floats = import_model(f"{MODELS}:LeNet", weights=str(ckpt), input_shape=(1, 16, 16),
                          config=Config.auto(12), sample=frames).float_weights
    taps = run_float(spec, floats, frames, taps=True)

    def fits_tightly(value, fmt, what):
        assert fmt.width == 12, what
        assert value < 2.0 ** (fmt.int_bits - 1), (what, value, fmt)  # holds the range
        assert fmt.int_bits == 1 or value >= 2.0 ** (fmt.int_bits - 2), (what, value, fmt)

    fits_tightly(np.max(np.abs(frames)), spec.input_format, "input")
    for layer in spec.layers:
        if layer.type not in ("flatten", "zeropad2d"):
            fits_tightly(np.max(np.abs(taps[layer.name])), layer.out_format, layer.name)
    for t in spec.tensors():
        fits_tightly(np.max(np.abs(floats[t.name])), t.format, t.name)
    # accumulators from the bound analysis of the quantized weights: on the exact grid,
    # holding max_o sum|w| * max|x| + |b| and no bit wider; never wider than hls4ml's auto
    raw = dict(np.load(out / "weights.npz"))
    for layer in spec.mac_layers:
        f = layer.formats
        acc, fin = f.accum, layer.in_format
        assert acc.frac_bits == max(fin.frac_bits + f.weight.frac_bits, f.bias.frac_bits)
        w = np.abs(raw[f"{layer.name}.weight"].reshape(layer.weight_shape[0], -1))
        xmax = max(-fin.raw_min, fin.raw_max)
        bound = max((int(w[o].sum()) * xmax * 2 ** (acc.frac_bits - fin.frac_bits
                                                     - f.weight.frac_bits)
                     + abs(int(raw[f"{layer.name}.bias"][o])) * 2 ** (acc.frac_bits
                                                                    - f.bias.frac_bits))
                    for o in range(len(w)))
        assert bound <= acc.raw_max and 2 * bound > acc.raw_max, (layer.name, bound, acc)
        assert acc.width <= mac_accum(fin, f.weight, f.bias, layer.fan_in).width, layer.name
    report = json.loads((out / "import_report.json").read_text())
    assert report["float_check"]["frames"] == 8 + 32  # random frames and the sample's
    np.save(tmp_path / "wrong.npy", frames[:, :, :8])
    rc, _, err = _cli(capsys, "torch", f"{MODELS}:LeNet", "--weights", ckpt, "--input-shape",
                      "1,16,16", "--precision", "ap_fixed<16,6>", "--sample",
                      tmp_path / "wrong.npy", "--out", tmp_path / "x")
    assert rc == 2 and "--sample frames must be" in _one_line(err)
