"""fixsim import from ONNX (exported with torch.onnx) and QONNX Quant nodes (issue 12)."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the ONNX files are exported from torch (extra 'model')")
onnx = pytest.importorskip("onnx", reason="fixsim import onnx needs onnx (extra 'import')")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from fixsim.cli.main import main  # noqa: E402
from fixsim.network.importers import Config, import_model  # noqa: E402
from fixsim.network.spec import load_spec  # noqa: E402

MODELS = Path(__file__).with_name("import_models.py")
ARCHS = {"WaveNet": (2, 32), "LeNet": (1, 16, 16), "MLP": (12,)}
QUANT_DOMAIN = "qonnx.custom_op.general"


@pytest.fixture(autouse=True)
def _loader(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def _export(model, shape, path: Path, dynamic_axes=None) -> Path:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn((1,) + tuple(shape)),), buf, dynamo=False,
                          input_names=["x"], output_names=["y"], dynamic_axes=dynamic_axes)
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("cls_name", sorted(ARCHS))
def test_onnx_export_imports_like_pytorch(tmp_path, cls_name):
    import import_models_loader as loader

    ckpt = loader.checkpoint(tmp_path, cls_name)
    module = loader.module(cls_name, ckpt)
    path = _export(module, ARCHS[cls_name], tmp_path / f"{cls_name}.onnx")
    cfg = Config.default("ap_fixed<16,6>")
    r = import_model(str(path), config=cfg)
    assert r.check.passed and r.check.relative_error <= 1e-5, r.check.line()
    assert r.check.max_abs_reference > 0.01
    t = import_model(f"{MODELS}:{cls_name}", weights=str(ckpt), input_shape=ARCHS[cls_name],
                     config=cfg)
    # the same layers (names differ: ONNX node scopes) and the same raw weights
    assert [(l.type, l.out_shape) for l in r.spec.layers] == \
        [(l.type, l.out_shape) for l in t.spec.layers]
    ro = [r.weights[k] for k in r.spec.weight_shapes()]
    to = [t.weights[k] for k in t.spec.weight_shapes()]
    assert len(ro) == len(to)
    for a, b in zip(ro, to, strict=True):
        # torch.onnx folds BatchNorm in float32; fixsim folds in float64: at most one code
        assert a.shape == b.shape and np.max(np.abs(a - b)) <= 1


def test_onnx_cli_writes_spec_weights_report(tmp_path, capsys):
    import import_models_loader as loader

    ckpt = loader.checkpoint(tmp_path, "LeNet")
    path = _export(loader.module("LeNet", ckpt), (1, 16, 16), tmp_path / "lenet.onnx")
    out = tmp_path / "out"
    rc = main(["import", "onnx", str(path), "--precision", "ap_fixed<16,6>", "--out", str(out),
               "--write-config", str(tmp_path / "lenet.yml")])
    text, err = capsys.readouterr()
    assert rc == 0, err
    report = json.loads((out / "import_report.json").read_text())
    assert report["source"]["kind"] == "onnx" and len(report["source"]["sha256"]) == 64
    spec = load_spec(out / "spec.json")
    assert "zeropad2d" in [l.type for l in spec.layers] and spec.layers[-1].type == "softmax"
    rc = main(["import", str(path), "--config", str(tmp_path / "lenet.yml"), "--out",
               str(tmp_path / "again")])
    assert rc == 0, capsys.readouterr().err
    assert load_spec(tmp_path / "again" / "spec.json").spec_hash() == spec.spec_hash()


def test_onnx_dynamic_frame_shape_refused(tmp_path, capsys):
    from import_models import ConvOnly

    path = _export(ConvOnly().eval(), (2, 32), tmp_path / "dyn.onnx",
                   dynamic_axes={"x": {0: "n", 2: "length"}})
    rc = main(["import", str(path), "--precision", "ap_fixed<16,6>", "--out",
               str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "dynamic" in err


def _qonnx_model(w_scale=2.0 ** -6, op="Relu") -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, (3, 4))
    b = rng.uniform(-1, 1, 3)

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value, np.float32), name)

    inits = [const("W", w), const("B", b), const("s_in", 2.0 ** -4), const("z", 0.0),
             const("b8", 8), const("s_w", w_scale), const("s_out", 2.0 ** -3), const("b10", 10)]
    nodes = [
        helper.make_node("Quant", ["x", "s_in", "z", "b8"], ["xq"], name="/in/Quant",
                         domain=QUANT_DOMAIN, signed=1, narrow=0, rounding_mode="ROUND"),
        helper.make_node("Quant", ["W", "s_w", "z", "b8"], ["Wq"], name="/fc/Quant_w",
                         domain=QUANT_DOMAIN, signed=1, narrow=1, rounding_mode="FLOOR"),
        helper.make_node("Gemm", ["xq", "Wq", "B"], ["h"], name="/fc/Gemm", transB=1),
        helper.make_node(op, ["h"], ["r"], name="/act/Relu"),
        helper.make_node("Quant", ["r", "s_out", "z", "b10"], ["y"], name="/out/Quant",
                         domain=QUANT_DOMAIN, signed=0, narrow=0, rounding_mode="FLOOR"),
    ]
    g = helper.make_graph(nodes, "qnet",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                               helper.make_opsetid(QUANT_DOMAIN, 1)])


def test_qonnx_quant_nodes_become_formats(tmp_path):
    path = tmp_path / "q.onnx"
    onnx.save(_qonnx_model(), path)
    r = import_model(str(path), config=Config.default("ap_fixed<16,6>"))
    assert r.check.passed, r.check.line()
    spec = r.spec
    assert str(spec.input_format) == "ap_fixed<8,4,AP_RND_CONV,AP_SAT>"
    fc = spec.layer("fc")
    assert str(fc.formats.weight) == "ap_fixed<8,2,AP_TRN,AP_SAT_SYM>"
    assert str(fc.formats.bias) == "ap_fixed<16,6>"  # no quantizer: the default
    assert str(spec.layer("act").out_format) == "ap_ufixed<10,7,AP_TRN,AP_SAT>"
    # the float weights are Quant's values: on the grid, so the raw weights are exact
    w = r.float_weights["fc.weight"]
    np.testing.assert_array_equal(np.ldexp(r.weights["fc.weight"].astype(float), -6), w)
    assert "act" in r.report["float_check_note"] or "/" in r.report["float_check_note"]


def test_qonnx_hostile(tmp_path, capsys):
    cases = [(_qonnx_model(w_scale=0.3), "power of two"), (_qonnx_model(op="Abs"), "'Abs'")]
    for model, word in cases:
        path = tmp_path / "bad.onnx"
        onnx.save(model, path)
        rc = main(["import", str(path), "--precision", "ap_fixed<16,6>", "--out",
                   str(tmp_path / "o")])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "\n" not in err and word in err, err
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"not an onnx file")
    assert main(["import", str(path), "--precision", "ap_fixed<16,6>", "--out",
                 str(tmp_path / "o")]) == 2
    assert "not a readable ONNX file" in capsys.readouterr().err
