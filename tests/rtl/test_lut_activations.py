"""sigmoid, tanh and softmax: fixsim's Python twin equals the rtl/ C simulation at every
layer, and equals hls4ml 1.3.0's own nnet_activation.h compiled with g++.

Architectures and formats are drawn from a seeded RNG (every table parameter, random table,
accumulator and result formats with rounding and saturating modes, both softmax
implementations, both index modes) and compiled into one test bench; inputs saturate.
The hls4ml comparison compiles hls4ml's header itself (io_parallel arrays and io_stream
packs) with hls4ml-style configs, so "fixsim reproduces hls4ml's activations" is proved
against hls4ml's code, not against a reading of it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from fixsim.csim import twin
from fixsim.csim.build import compile_program
from fixsim.csim.codegen import cpp_type, namespace_of
from fixsim.errors import FixsimError
from fixsim.fixed import FixedType, FixsimWarning
from fixsim.network import load_spec
from fixsim.network import run as fixsim_run

from .netgen import _mac_layer, _pick, rand_format
from .taps import assert_taps_equal

SEED, COUNT = 4, 6


def _lut_layer(rng, name: str, fn: str) -> dict:
    layer = {"name": name, "type": fn}
    if rng.random() < 0.7:
        layer["table_size"] = int(_pick(rng, [2, 3, 16, 100, 256, 1000, 1024, 2048]))
    if rng.random() < 0.5:
        layer["range"] = int(rng.integers(1, 11))
    if rng.random() < 0.5:
        layer["index"] = _pick(rng, ["trunc", "floor"])
    fm = {}
    if rng.random() < 0.7:
        fm["table"] = str(rand_format(rng, 6, 20, 0, 3))
    if rng.random() < 0.8:
        fm["result"] = str(rand_format(rng, 4, 14, 0, 3))
    if fm:
        layer["formats"] = fm
    return layer


def _softmax_layer(rng, name: str, in_fmt: FixedType) -> dict:
    impl = _pick(rng, ["stable", "latency"])
    layer = {"name": name, "type": "softmax", "implementation": impl}
    fm = {}
    if rng.random() < 0.7:
        fm["exp_table"] = str(rand_format(rng, 8, 18, 2, 9))
    if rng.random() < 0.7:
        fm["inv_table"] = str(rand_format(rng, 8, 18, 1, 6))
    if rng.random() < 0.7:  # narrow accumulators: sums round and saturate or wrap
        fm["accum"] = str(rand_format(rng, 6, 18, 2, 9, signed=True, ovf=["AP_SAT", "AP_WRAP",
                                                                       "AP_SAT_SYM"]))
    if rng.random() < 0.6:
        fm["inv_inp"] = str(rand_format(rng, 6, 18, 2, 9))
    if impl == "stable" and rng.random() < 0.5:
        fm["inp_norm"] = str(rand_format(rng, max(4, in_fmt.width - 3), in_fmt.width + 2,
                                         in_fmt.int_bits - 2, in_fmt.int_bits + 1, signed=False))
    if rng.random() < 0.8:
        fm["result"] = str(rand_format(rng, 6, 16, 0, 2))
    layer["formats"] = fm
    if rng.random() < 0.4:
        layer["exp_scale"] = float(_pick(rng, [0.5, 1.25, -1.0, 0.1]))
    for key, sizes in (("exp_table_size", [2, 8, 64, 256]), ("inv_table_size", [4, 32, 512])):
        if rng.random() < 0.4:
            layer[key] = int(_pick(rng, sizes))
    return layer


def _draw(rng, name: str) -> dict:
    c, h, w = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
    fmt = rand_format(rng, 5, 14, 1, 5)
    layers = []
    if rng.random() < 0.5:
        conv = _mac_layer(rng, "conv", "conv2d", fmt)
        conv.update(out_channels=int(rng.integers(1, 6)), kernel=1)
        layers.append(conv)
        fmt = FixedType.parse(conv["formats"]["result"])
    layers.append(_softmax_layer(rng, "sm0", fmt) if rng.random() < 0.5
                  else _lut_layer(rng, "lut0", _pick(rng, ["sigmoid", "tanh"])))
    layers.append({"name": "flat", "type": "flatten", "order": _pick(rng, ["chw", "hwc"])})
    dense = _mac_layer(rng, "fc", "dense", FixedType.parse("ap_fixed<16,6>"))
    dense["out_features"] = int(rng.integers(1, 7))
    layers.append(dense)
    fc_fmt = FixedType.parse(dense["formats"]["result"])
    layers.append(_softmax_layer(rng, "sm1", fc_fmt))
    layers.append(_lut_layer(rng, "lut1", _pick(rng, ["sigmoid", "tanh"])))
    return {"name": name, "input": {"shape": [c, h, w], "format": str(rand_format(rng, 5, 12, 1, 5))},
            "layers": layers}


def lut_networks(seed: int, count: int) -> list:
    """``count`` valid random specs with sigmoid/tanh/softmax layers, reproducibly (draws
    the loader rejects are replaced by the next draw), plus one with every hls4ml default."""
    rng = np.random.default_rng(seed)
    out = [load_spec({"name": "lut_defaults", "input": {"shape": [3, 2, 2], "format": "ap_fixed<16,6>"},
                      "layers": [{"name": "s", "type": "sigmoid"}, {"name": "t", "type": "tanh"},
                                 {"name": "sm", "type": "softmax"},
                                 {"name": "sl", "type": "softmax", "implementation": "latency"}]})]
    # inputs with negative fraction bits (LSB 4): the index arithmetic shifts left
    coarse = {"shape": [3, 1, 2], "format": "ap_fixed<6,8,AP_RND,AP_SAT>"}
    out.append(load_spec({"name": "lut_coarse", "input": coarse, "layers": [
        {"name": "s", "type": "sigmoid", "index": "floor", "table_size": 100, "range": 64,
         "formats": {"result": "ap_fixed<12,8>"}},
        {"name": "t", "type": "tanh", "table_size": 64, "range": 16,
         "formats": {"result": "ap_fixed<10,2>"}}]}))
    out.append(load_spec({"name": "lut_coarse_sm", "input": {"shape": [5, 1, 2], "format": "ap_ufixed<7,9>"},
                          "layers": [{"name": "sl", "type": "softmax", "implementation": "latency",
                                      "formats": {"result": "ap_fixed<12,2>"}},
                                     {"name": "sm", "type": "softmax", "exp_scale": 8.0}]}))
    for _ in range(50 * count):
        if len(out) > count + 2:
            break
        try:
            out.append(load_spec(_draw(rng, f"lut{seed}_{len(out)}")))
        except FixsimError:
            continue
    return out


@pytest.fixture(scope="module")
def networks():
    return lut_networks(SEED, COUNT)


@pytest.fixture(scope="module")
def bench(need_gxx, networks):
    return twin.build(networks, opt="-O1", per_file=4)


def _data(spec, rng):
    weights = {k: rng.integers(f.raw_min, f.raw_max + 1, size=spec.weight_shapes()[k])
               for k, f in spec.weight_formats().items()}
    x = rng.standard_normal((6,) + spec.input_shape) * 2.0 ** (spec.input_format.int_bits + 1)
    return weights, x


def _run(spec, weights, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)  # saturating inputs are intended
        return fixsim_run(spec, weights, x)


def test_networks_cover_every_option(networks):
    seen = set()
    for spec in networks:
        for l in spec.layers:
            if l.type in ("sigmoid", "tanh"):
                seen |= {l.type, f"index={l.index}", f"even={l.table_size % 2 == 0}",
                         f"table_q={l.table.quantization.name}"}
            if l.type == "softmax":
                seen |= {f"softmax={l.implementation}", f"accum_o={l.accum.overflow.name}",
                         f"scaled={l.exp_scale != 1.0}", f"channels>1={l.channels > 1}",
                         f"positions>1={l.positions > 1}"}
    need = {"sigmoid", "tanh", "index=trunc", "index=floor", "even=False", "softmax=stable",
            "softmax=latency", "accum_o=AP_SAT", "accum_o=AP_WRAP", "scaled=True",
            "channels>1=True", "positions>1=True"}
    assert need <= seen, f"seed {SEED} misses {sorted(need - seen)}"


def test_every_tap_equals_the_c_simulation(bench, networks):
    rng = np.random.default_rng(SEED)
    for spec in networks:
        for _ in range(2):
            weights, x = _data(spec, rng)
            expected = _run(spec, weights, x)
            actual = twin.run_testbench(bench, namespace_of(spec.name), weights, x)
            assert_taps_equal(expected, actual, spec)


def test_the_comparison_sees_the_table_parameters(bench, networks):
    """Changing a table parameter changes the taps (the equality above is not vacuous)."""
    rng = np.random.default_rng(3)
    changed = 0
    for spec in networks:
        weights, x = _data(spec, rng)
        d = spec.to_dict()
        for layer in d["layers"]:
            if layer["type"] in ("sigmoid", "tanh"):
                layer["index"] = "floor" if layer["index"] == "trunc" else "trunc"
                layer["range"] += 1
            if layer["type"] == "softmax":
                layer["implementation"] = "latency" if layer["implementation"] == "stable" else "stable"
                layer["formats"].pop("inp_norm", None)
                layer.pop("exp_table_size")
        try:
            mutated = load_spec(d)
        except FixsimError:
            continue
        actual = twin.run_testbench(bench, namespace_of(spec.name), weights, x)
        expected = _run(mutated, weights, x)
        changed += any(not np.array_equal(expected[k], actual[k]) for k in actual)
    assert changed >= len(networks) - 1


# ---------------------------------------------------------------- hls4ml's own header
def _hls4ml_dir() -> Path:
    hls4ml = pytest.importorskip("hls4ml", reason="hls4ml is not installed")
    d = Path(hls4ml.__file__).parent / "templates" / "vivado"
    if not (d / "nnet_utils" / "nnet_activation_stream.h").is_file():
        pytest.skip(f"hls4ml {hls4ml.__version__} has no Vivado nnet_utils templates")
    return d


#: (name, layer object, input format, (C, P)): the layers compared with hls4ml's code.
H4_CASES = [
    ("sig", {"type": "sigmoid", "formats": {"result": "ap_fixed<16,6>"}}, "ap_fixed<16,6>", (5, 3)),
    ("sig_small", {"type": "sigmoid", "table_size": 100,
                   "formats": {"table": "ap_ufixed<9,1,AP_RND,AP_SAT>", "result": "ap_fixed<8,1,AP_RND>"}},
     "ap_fixed<12,5,AP_RND,AP_SAT>", (4, 2)),
    ("tanh", {"type": "tanh", "formats": {"result": "ap_fixed<16,6>"}}, "ap_fixed<16,6>", (5, 3)),
    ("tanh_odd", {"type": "tanh", "table_size": 333,
                  "formats": {"table": "ap_fixed<12,2,AP_RND_CONV,AP_SAT>", "result": "ap_fixed<10,2>"}},
     "ap_ufixed<11,4>", (3, 2)),
    ("sig_coarse", {"type": "sigmoid", "table_size": 100, "formats": {"result": "ap_fixed<12,2>"}},
     "ap_fixed<7,9,AP_RND,AP_SAT>", (3, 2)),
    ("tanh_coarse", {"type": "tanh", "formats": {"result": "ap_fixed<12,2>"}}, "ap_ufixed<6,7>", (2, 2)),
    ("sm_stable", {"type": "softmax", "formats": {"result": "ap_fixed<16,6>"}}, "ap_fixed<16,6>", (5, 3)),
    ("sm_latency", {"type": "softmax", "implementation": "latency", "formats": {"result": "ap_fixed<16,6>"}},
     "ap_fixed<10,3,AP_RND,AP_SAT>", (6, 2)),
    ("sm_narrow", {"type": "softmax", "exp_table_size": 64, "inv_table_size": 128, "exp_scale": 0.75,
                   "formats": {"exp_table": "ap_ufixed<10,4,AP_RND_CONV,AP_SAT>",
                               "inv_table": "ap_fixed<12,3,AP_TRN,AP_SAT>",
                               "accum": "ap_fixed<8,3,AP_RND,AP_WRAP>", "inv_inp": "ap_fixed<10,5>",
                               "inp_norm": "ap_ufixed<9,4,AP_RND,AP_SAT>",
                               "result": "ap_ufixed<9,1,AP_RND_INF,AP_SAT>"}},
     "ap_fixed<11,4>", (7, 2)),
    ("sm_sat", {"type": "softmax", "implementation": "latency", "exp_table_size": 256,
                "formats": {"exp_table": "ap_ufixed<12,6,AP_RND,AP_SAT>",
                            "accum": "ap_fixed<12,7,AP_TRN,AP_SAT>",
                            "inv_table": "ap_ufixed<14,1,AP_RND_ZERO,AP_SAT>",
                            "result": "ap_fixed<12,2,AP_RND,AP_SAT>"}},
     "ap_fixed<9,4,AP_RND,AP_SAT>", (9, 1)),
]


def _h4_layer(name, obj, in_fmt, cp):
    spec = load_spec({"name": name, "input": {"shape": [cp[0], 1, cp[1]], "format": in_fmt},
                      "layers": [{"name": "a", **obj}]})
    return spec, spec.layers[0]


def _h4_config(k: int, layer, c: int, p: int, stream: bool) -> list[str]:
    io = "io_stream" if stream else "io_parallel"
    if layer.type != "softmax":
        return [f"struct cfg{k}{'s' if stream else ''} : nnet::activ_config {{",
                f"    static const unsigned n_in = {c * p};",
                f"    static const unsigned table_size = {layer.table_size};",
                f"    static const unsigned io_type = nnet::{io};",
                "    static const unsigned reuse_factor = 1;",
                f"    typedef {cpp_type(layer.table)} table_t;", "};"]
    norm = cpp_type(layer.inp_norm) if layer.inp_norm is not None else "ap_fixed<1,0>"
    return [f"struct cfg{k}{'s' if stream else ''} : nnet::activ_config {{",
            f"    static const unsigned n_in = {c * p}, n_slice = {c}, n_outer = {p}, n_inner = 1;",
            "    static const unsigned parallelization_factor = -1;",
            f"    static const unsigned exp_table_size = {layer.exp_table_size};",
            f"    static const unsigned inv_table_size = {layer.inv_table_size};",
            f"    static const unsigned io_type = nnet::{io};",
            "    static const unsigned reuse_factor = 1, axis = -1;  // channels last",
            "    static const nnet::softmax_implementation implementation = "
            f"nnet::softmax_implementation::{layer.implementation};",
            f"    static constexpr float exp_scale = {layer.exp_scale!r};",
            f"    typedef {cpp_type(layer.exp_table)} exp_table_t;",
            f"    typedef {cpp_type(layer.inv_table)} inv_table_t;",
            f"    typedef {cpp_type(layer.accum)} accum_t;",
            f"    typedef {cpp_type(layer.inv_inp)} inv_inp_t;",
            f"    typedef {norm} inp_norm_t;", "};"]


def _h4_program(cases) -> str:
    """One program running every case through hls4ml's functions: ``prog K N`` reads N frames
    of raw int64 (channels-last) on stdin and writes io_parallel then io_stream outputs."""
    import hls4ml

    lines = [f"// hls4ml {hls4ml.__version__}", "#include <cstdio>", "#include <cstdlib>",
             "#include <cstdint>",
             '#include "nnet_utils/nnet_activation.h"', '#include "nnet_utils/nnet_activation_stream.h"',
             "template <class T> T from_raw(int64_t v) { T x; x.setBits((uint64_t)v); return x; }",
             "template <bool S, class T> int64_t raw_of(const T& x) {",
             "    const int W = T::width; uint64_t u = x.bits_to_uint64();",
             "    if (W < 64) { uint64_t m = (((uint64_t)1) << W) - 1; u &= m;",
             "        if (S && ((u >> (W - 1)) & 1)) u |= ~m; }",
             "    return (int64_t)u; }"]
    body = []
    for k, (_, layer, c, p) in enumerate(cases):
        lines += _h4_config(k, layer, c, p, False) + _h4_config(k, layer, c, p, True)
        fn = "softmax_multidim" if layer.type == "softmax" and p > 1 else layer.type
        it, ot = cpp_type(layer.in_format), cpp_type(layer.result)
        s = "true" if layer.result.signed else "false"
        n = c * p
        body += [f"    if (k == {k}) for (long f = 0; f < frames; f++) {{",
                 f"        {it} x[{n}]; {ot} y[{n}];",
                 f"        for (int i = 0; i < {n}; i++) {{ int64_t v; "
                 f"if (fread(&v, 8, 1, stdin) != 1) return 2; x[i] = from_raw<{it}>(v); }}",
                 f"        nnet::{fn}<{it}, {ot}, cfg{k}>(x, y);",
                 f"        for (int i = 0; i < {n}; i++) {{ int64_t v = raw_of<{s}>(y[i]); "
                 "fwrite(&v, 8, 1, stdout); }",
                 f"        typedef nnet::array<{it}, {c if layer.type == 'softmax' else n}> in_pack;",
                 f"        typedef nnet::array<{ot}, {c if layer.type == 'softmax' else n}> out_pack;",
                 '        hls::stream<in_pack> si("si"); hls::stream<out_pack> so("so");',
                 f"        for (int b = 0; b < {n} / (int)in_pack::size; b++) {{ in_pack q; "
                 "for (unsigned j = 0; j < in_pack::size; j++) q[j] = x[b * in_pack::size + j]; "
                 "si.write(q); }",
                 f"        nnet::{layer.type}<in_pack, out_pack, cfg{k}s>(si, so);",
                 f"        for (int b = 0; b < {n} / (int)out_pack::size; b++) {{ out_pack q = so.read(); "
                 "for (unsigned j = 0; j < out_pack::size; j++) { int64_t v = raw_of<" + s + ">(q[j]); "
                 "fwrite(&v, 8, 1, stdout); } }",
                 "    }"]
    lines += ["int main(int argc, char** argv) {", "    int k = atoi(argv[1]); long frames = atol(argv[2]);"]
    return "\n".join(lines + body + ["    return 0;", "}", ""])


def test_fixsim_reproduces_hls4ml_activations(need_gxx):
    import subprocess

    h4 = _hls4ml_dir()
    cases = []
    for name, obj, in_fmt, (c, p) in H4_CASES:
        spec, layer = _h4_layer(name, obj, in_fmt, (c, p))
        cases.append((spec, layer, c, p))
    exe = compile_program({"h4_act.cpp": _h4_program(cases)}, main="h4_act",
                          include_dirs=[h4], opt="-O1", tag="h4-activations")
    rng = np.random.default_rng(5)
    compared = 0
    for k, (spec, layer, c, p) in enumerate(cases):
        fmt = layer.in_format
        frames = 40
        raw = rng.integers(fmt.raw_min, fmt.raw_max + 1, size=(frames, c, 1, p))
        raw[:4] = rng.integers(fmt.raw_min, fmt.raw_max + 1, size=(4, 1, 1, p)) >> rng.integers(0, 8)
        raw[4] = fmt.raw_max  # ties everywhere: the stable max, the latency top code
        raw[5] = fmt.raw_min
        expected = _run(spec, {}, raw)["a"]  # (frames, C, 1, P)
        chlast = np.ascontiguousarray(raw.reshape(frames, c, p).transpose(0, 2, 1))
        r = subprocess.run([str(exe), str(k), str(frames)], input=chlast.astype("<i8").tobytes(),
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode()[:300]
        out = np.frombuffer(r.stdout, "<i8").reshape(frames, 2, p, c)
        want = expected.reshape(frames, c, p).transpose(0, 2, 1)
        for io, got in (("io_parallel", out[:, 0]), ("io_stream", out[:, 1])):
            bad = int((got != want).sum())
            assert bad == 0, (f"{spec.name} ({layer.type}) {io}: {bad} of {want.size} values differ "
                              f"from hls4ml; first frame hls4ml {got[0].tolist()} fixsim {want[0].tolist()}")
            compared += want.size
    assert compared > 1000


def test_the_narrow_hls4ml_cases_overflow_their_accumulators():
    """The narrow cases' exp sums leave the accumulator's range (AP_WRAP and AP_SAT), so
    the equality with hls4ml covers overflowing sums: a wide accumulator changes the outputs."""
    rng = np.random.default_rng(6)
    for name, obj, in_fmt, cp in H4_CASES:
        if "accum" not in obj.get("formats", {}):
            continue
        spec, layer = _h4_layer(name, obj, in_fmt, cp)
        wide = {**obj, "formats": {**obj["formats"], "accum": "ap_fixed<30,14,AP_RND,AP_SAT>"}}
        wspec, _ = _h4_layer(name, wide, in_fmt, cp)
        x = rng.integers(layer.in_format.raw_min, layer.in_format.raw_max + 1, (30, cp[0], 1, cp[1]))
        assert not np.array_equal(_run(spec, {}, x)["a"], _run(wspec, {}, x)["a"]), name
