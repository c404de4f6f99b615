"""sigmoid, tanh, softmax (lookup tables): spec schema and hostile values, the exact kernels
against the slow naive references, the float twins against torch, and the documented
accuracy of the default tables (docs/datapath.md, measured by tools/lut_error.py).

The bits against compiled C++ (fixsim's rtl/ and hls4ml's own nnet_activation.h) are
proved in tests/rtl/test_lut_activations.py.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from fixsim.errors import FormatError, InputError
from fixsim.fixed import FixedType, FixsimWarning
from fixsim.layers import lut as L
from fixsim.network import load_spec, run, run_float

from .naive_layers import naive_lut_activation, naive_softmax

ROOT = Path(__file__).resolve().parents[2]


def _spec(layers, shape=(3, 2, 2), fmt="ap_fixed<16,6>"):
    return load_spec({"name": "t", "input": {"shape": list(shape), "format": fmt},
                      "layers": [{"name": f"l{i}", **l} for i, l in enumerate(layers)]})


def _run(spec, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        return run(spec, {}, x)


# ------------------------------------------------------------------ spec
def test_defaults_are_hls4ml_and_written_out():
    spec = _spec([{"type": "sigmoid"}, {"type": "tanh"}, {"type": "softmax"},
                  {"type": "softmax", "implementation": "latency"}], fmt="ap_fixed<8,3>")
    d = spec.to_dict()["layers"]
    assert d[0] == {"name": "l0", "type": "sigmoid", "table_size": 1024, "range": 8,
                    "index": "trunc", "formats": {"table": "ap_fixed<18,8>", "result": "ap_fixed<8,3>"}}
    assert d[1]["range"] == 4 and d[1]["type"] == "tanh"
    h = "ap_fixed<18,8,AP_RND,AP_SAT>"
    # FixSoftmaxTableSize: 2^min(8 input bits, 18) = 256; stable: at most 2^(8-1) exp entries
    assert d[2] == {"name": "l2", "type": "softmax", "implementation": "stable",
                    "exp_table_size": 128, "inv_table_size": 256, "exp_scale": 1.0,
                    "formats": {"exp_table": h, "inv_table": h, "accum": h, "inv_inp": h,
                                "inp_norm": "ap_ufixed<7,2>", "result": "ap_fixed<8,3>"}}
    assert d[3]["exp_table_size"] == 256 and "inp_norm" not in d[3]["formats"]
    again = load_spec(json.loads(spec.to_json()))
    assert again == spec and again.spec_hash() == spec.spec_hash()
    assert load_spec(json.loads(spec.to_json(resolved=True))) == spec


@pytest.mark.parametrize("layer, match", [
    ({"type": "sigmoid", "table_size": 0}, r"table_size must be an integer >= 2, got 0"),
    ({"type": "tanh", "table_size": 1 << 17}, r"table_size 131072 exceeds 65536"),
    ({"type": "tanh", "range": 0}, r"range must be an integer >= 1, got 0"),
    ({"type": "sigmoid", "index": "trunk"}, r"index 'trunk' is not one of trunc, floor.*'trunc'"),
    ({"type": "sigmoid", "formats": {"tabel": "ap_fixed<8,2>"}}, r"unknown key 'tabel'.*'table'"),
    ({"type": "sigmoid", "formats": {"table": "ap_fixd<8,2>"}}, r"formats.table"),
    ({"type": "sigmoid", "tablesize": 8}, r"unknown key 'tablesize'.*'table_size'"),
    ({"type": "softmax", "implementation": "stabel"}, r"'stabel' is not one of stable, latency.*'stable'"),
    ({"type": "softmax", "implementation": "legacy"}, r"'legacy' is not one of stable, latency"),
    ({"type": "softmax", "exp_table_size": 1000}, r"must be a power of two.*512 or 1024"),
    ({"type": "softmax", "inv_table_size": 1}, r"inv_table_size must be an integer >= 2"),
    ({"type": "softmax", "exp_table_size": 1 << 16},
     r"exp_table_size 65536 needs 16 index bits, but its index format ap_ufixed<15,5> has 15"),
    ({"type": "softmax", "inv_table_size": 32, "formats": {"inv_inp": "ap_fixed<4,2>"}},
     r"inv_table_size 32 needs 5 index bits, but its index format ap_fixed<4,2> has 4"),
    ({"type": "softmax", "implementation": "latency", "formats": {"inp_norm": "ap_ufixed<8,2>"}},
     r"unknown key 'inp_norm'"),
    ({"type": "softmax", "exp_scale": float("nan")}, r"exp_scale must be a finite number"),
    ({"type": "softmax", "exp_scale": "1"}, r"exp_scale must be a finite number"),
    ({"type": "softmax", "exp_scale": True}, r"exp_scale must be a finite number"),
    ({"type": "softmax", "exp_scale": 1e39}, r"exp_scale must be a finite number \(a C float\)"),
    ({"type": "softmax", "formats": {"accum": "ap_fixed<64,30>"}}, r"accum \+ accum"),
])
def test_hostile_values_are_one_line_errors_naming_the_layer(layer, match):
    with pytest.raises((InputError, FormatError)) as info:
        _spec([layer])
    msg = str(info.value)
    assert "\n" not in msg and "layer 0 ('l0')" in msg
    assert __import__("re").search(match, msg), msg


def test_an_index_that_overflows_the_c_int_is_refused():
    with pytest.raises(InputError, match=r"does not fit the C int of the table index"):
        _spec([{"type": "sigmoid"}], fmt="ap_fixed<40,24>")
    _spec([{"type": "sigmoid", "table_size": 16}], fmt="ap_fixed<40,24>")  # 2^23 * 16 < 2^31


def test_table_points_must_be_normal_floats():
    with pytest.raises(FormatError, match=r"not normal floats"):
        _spec([{"type": "softmax", "implementation": "latency"}], fmt="ap_fixed<16,-120>")


def test_every_rank_and_the_output_format():
    spec = _spec([{"type": "softmax", "formats": {"result": "ap_ufixed<12,1>"}},
                  {"type": "flatten"}, {"type": "tanh", "formats": {"result": "ap_fixed<9,2>"}},
                  {"type": "softmax"}])
    assert [str(l.out_format) for l in spec.layers] == [
        "ap_ufixed<12,1>", "ap_ufixed<12,1>", "ap_fixed<9,2>", "ap_fixed<9,2>"]
    assert (spec.layers[0].channels, spec.layers[0].positions) == (3, 4)
    assert (spec.layers[3].channels, spec.layers[3].positions) == (12, 1)


# ------------------------------------------------------------------ exact vs naive
def _random_lut(rng, coarse=False):
    fn = ["sigmoid", "tanh"][rng.integers(2)]
    rmax = 200 if coarse else 9  # inputs with LSB 8 need a wide range to reach the table
    return {"type": fn, "table_size": int(rng.integers(2, 300)), "range": int(rng.integers(1, rmax)),
            "index": ["trunc", "floor"][rng.integers(2)],
            "formats": {"table": f"ap_fixed<{rng.integers(6, 20)},{rng.integers(0, 3)},AP_RND,AP_SAT>",
                        "result": f"ap_fixed<{rng.integers(4, 12)},{rng.integers(0, 3)},AP_RND_CONV>"}}


def _random_softmax(rng, in_fmt):
    layer = {"type": "softmax", "implementation": ["stable", "latency"][rng.integers(2)],
             "exp_scale": float(rng.choice([1.0, 0.5, -1.25])),
             "formats": {"accum": f"ap_fixed<{rng.integers(6, 16)},{rng.integers(2, 7)},AP_RND,"
                                  f"{['AP_SAT', 'AP_WRAP'][rng.integers(2)]}>",
                         "inv_inp": f"ap_fixed<{rng.integers(8, 16)},{rng.integers(3, 7)}>",
                         "inv_table": f"ap_ufixed<{rng.integers(6, 14)},{rng.integers(1, 4)},AP_RND,AP_SAT>",
                         "result": f"ap_fixed<{rng.integers(6, 14)},2,AP_RND_INF,AP_SAT>"}}
    if layer["implementation"] == "stable" and rng.random() < 0.5:
        layer["formats"]["inp_norm"] = f"ap_ufixed<{in_fmt.width - 2},{in_fmt.int_bits - 1},AP_RND,AP_SAT>"
    return layer


@pytest.mark.parametrize("seed", range(9))
def test_lut_kernel_equals_the_naive_reference(seed):
    rng = np.random.default_rng(seed)
    fmt = FixedType.parse([f"ap_fixed<{rng.integers(5, 14)},{rng.integers(1, 6)}>",
                           "ap_fixed<6,9>", "ap_ufixed<12,-2>"][seed % 3])
    spec = _spec([_random_lut(rng, fmt.frac_bits < 0)], shape=(2, 3, 5), fmt=str(fmt))
    layer = spec.layers[0]
    x = rng.integers(fmt.raw_min, fmt.raw_max + 1, (8, 2, 3, 5))
    table = L.lut_table(layer.function, layer.table_size, layer.range, layer.table)
    want = naive_lut_activation(x, fmt, table, layer.table, layer.result, layer.range, layer.index)
    np.testing.assert_array_equal(_run(spec, x)["l0"], want)


def test_trunc_index_keeps_a_coarse_input_grid():
    """hls4ml's quotient ``x * N / 16`` keeps x's LSB (4 here): 4 * 100 / 16 = 25 is cut to
    24 on that grid, the entry of x = 3.84 (checked against hls4ml's code in tests/rtl)."""
    spec = _spec([{"type": "sigmoid", "table_size": 100, "formats": {"table": "ap_fixed<24,2>",
                                                                    "result": "ap_fixed<24,2>"}}],
                 shape=(1, 1, 1), fmt="ap_fixed<7,9>")
    layer = spec.layers[0]
    table = L.lut_table("sigmoid", 100, 8, layer.table)
    got = _run(spec, np.array([[[[1]]], [[[-1]]]]))["l0"].reshape(-1)  # raw: x = 4, -4
    assert got.tolist() == [table[50 + 24], table[50 - 24]]
    x = np.arange(-64, 64).reshape(-1, 1, 1, 1)  # every code
    want = naive_lut_activation(x, layer.in_format, table, layer.table, layer.result, 8, "trunc")
    np.testing.assert_array_equal(_run(spec, x)["l0"], want)


@pytest.mark.parametrize("seed", range(6))
def test_softmax_kernel_equals_the_naive_reference(seed):
    rng = np.random.default_rng(100 + seed)
    fmt = FixedType.parse([f"ap_fixed<{rng.integers(7, 13)},{rng.integers(2, 5)},AP_RND,AP_SAT>",
                           "ap_fixed<8,10>", "ap_ufixed<9,11>"][seed % 3])
    c = int(rng.integers(1, 8))
    spec = _spec([_random_softmax(rng, fmt)], shape=(c, 2, 3), fmt=str(fmt))
    layer = spec.layers[0]
    x = rng.integers(fmt.raw_min, fmt.raw_max + 1, (5, c, 2, 3))
    x[0] = fmt.raw_max
    et = L.exp_table(layer.exp_index_format, layer.exp_table_size, layer.exp_scale,
                     layer.implementation == "stable", layer.exp_table)
    it = L.inv_table(layer.inv_inp, layer.inv_table_size, layer.inv_table)
    np.testing.assert_array_equal(_run(spec, x)["l0"], naive_softmax(x, layer, et, it))


def test_reduce_schedule_is_hls4mls_tree():
    """nnet::reduce: the first pow2(floorlog2(N - 1)) leaves on the left."""
    left, right = L.reduce_schedule(5)
    assert list(zip(left, right)) == [(0, 1), (2, 3), (5, 6), (7, 4)]  # ((01)(23))4
    left, right = L.reduce_schedule(3)
    assert list(zip(left, right)) == [(0, 1), (3, 2)]


def test_tables_take_the_c_library_floats():
    """Entry i is T(float) of the C float computation: the sample points are float32."""
    pts = L.lut_inputs(1000, 4)
    assert pts.dtype == np.float32 and pts[0] == -4.0 and pts[500] == 0.0
    t = L.lut_table("tanh", 1000, 4, FixedType.parse("ap_fixed<30,2,AP_RND,AP_SAT>"))
    assert t[500] == 0 and t[0] < 0 and np.all(np.diff(t) >= 0)
    # tanhf, not the double tanh of the float point (they differ in these 28 bits)
    double = np.round(np.tanh(pts.astype(np.float64)) * 2.0 ** 28).astype(np.int64)
    assert not np.array_equal(t, double)


# ------------------------------------------------------------------ float twins
def test_float_twins_are_the_true_functions():
    torch = pytest.importorskip("torch")
    spec = _spec([{"type": "sigmoid"}, {"type": "tanh"}, {"type": "softmax"}], shape=(4, 3, 2))
    x = np.random.default_rng(0).normal(0, 6, (5, 4, 3, 2))
    got = run_float(spec, {}, x)
    t = torch.from_numpy(x)
    s = torch.sigmoid(t)
    th = torch.tanh(s)
    np.testing.assert_allclose(got["l0"], s.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(got["l1"], th.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(got["l2"], torch.softmax(th, dim=1).numpy(), rtol=1e-13, atol=1e-15)
    big = run_float(_spec([{"type": "sigmoid"}, {"type": "softmax"}]), {}, np.full((1, 3, 2, 2), 800.0))
    assert np.isfinite(big["l1"]).all()


# ------------------------------------------------------------------ accuracy (docs)
def _tool():
    path = ROOT / "tools" / "lut_error.py"
    spec = importlib.util.spec_from_file_location("lut_error", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_documented_errors_are_measured():
    """docs/datapath.md's error table is what tools/lut_error.py measures today."""
    tool = _tool()
    rows = tool.measure()
    doc = (ROOT / "docs" / "datapath.md").read_text()
    for row in rows:
        line = tool.row_text(row)
        assert line in doc, f"docs/datapath.md lacks the measured row:\n{line}"


@pytest.mark.parametrize("result, impl", [("ap_fixed<8,3>", "stable"), ("ap_ufixed<6,2>", "stable"),
                                          ("ap_fixed<9,4>", "latency")])
def test_defaults_are_what_hls4ml_writes(tmp_path, result, impl):
    """hls4ml's own Python flow (config_from_pytorch_model, its optimizer passes such as
    FixSoftmaxTableSize, the config templates) writes the table sizes and formats that
    fixsim's defaults derive, for the layer's input format (no g++ needed)."""
    import re

    torch = pytest.importorskip("torch")
    hls4ml = pytest.importorskip("hls4ml")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.sm = torch.nn.Linear(4, 5), torch.nn.Softmax(dim=1)
            self.sg, self.th = torch.nn.Sigmoid(), torch.nn.Tanh()

        def forward(self, x):
            return self.th(self.sg(self.sm(self.fc(x))))

    net = Net()
    cfg = hls4ml.utils.config_from_pytorch_model(net, (4,), granularity="name", backend="Vivado")
    cfg["LayerName"]["fc"]["Precision"]["result"] = result
    cfg["LayerName"]["sm"]["Implementation"] = impl
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = hls4ml.converters.convert_from_pytorch_model(
            net, hls_config=cfg, output_dir=str(tmp_path / "prj"), backend="Vivado",
            io_type="io_parallel")
        model.write()
    params = (tmp_path / "prj" / "firmware" / "parameters.h").read_text()
    defines = (tmp_path / "prj" / "firmware" / "defines.h").read_text()

    def struct(prefix):
        i = params.index(f"struct {prefix}")
        return params[i:params.index("};", i)]

    def typedef(name):
        return FixedType.parse(re.search(rf"typedef (\S+) {name};", defines).group(1))

    sm = struct("softmax_config")
    layers = load_spec({"name": "h", "input": {"shape": [5, 1, 1], "format": result}, "layers": [
        {"name": "sm", "type": "softmax", "implementation": impl}, {"name": "sg", "type": "sigmoid"},
        {"name": "th", "type": "tanh"}]}).layers
    s = layers[0]
    assert f"exp_table_size = {s.exp_table_size};" in sm
    assert f"inv_table_size = {s.inv_table_size};" in sm
    assert f"softmax_implementation::{impl};" in sm and "exp_scale = 1.0;" in sm
    for role in ("exp_table", "inv_table", "accum", "inv_inp"):
        assert typedef(f"sm_{role}_t") == getattr(s, role), role
    if impl == "stable":
        norm = re.search(r"typedef (.*) inp_norm_t;", sm).group(1).replace(" ", "")
        assert FixedType.parse(norm) == s.inp_norm
    for l, prefix in ((layers[1], "sigmoid_config"), (layers[2], "tanh_config")):
        assert f"table_size = {l.table_size};" in struct(prefix)
        assert typedef(f"{l.name}_table_t") == l.table
