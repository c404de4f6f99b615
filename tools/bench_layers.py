"""Benchmark: the layer types of issue 11, each layer's time, against the C simulation.

Three networks built from the layer registry's new types, in hls4ml-style precisions
(narrow saturating and wrapping accumulators, the Resource order with reuse factors):

- ``waveform-1d``: zeropad1d, conv1d (+relu), batchnorm, maxpool1d, conv1d in the Resource
  order (R = 4), avgpool1d, global_avgpool1d, dense, sigmoid;
- ``lenet-2d``: conv2d (+relu), avgpool2d, conv2d (+relu), maxpool2d, zeropad2d, flatten,
  dense in the Resource order (R = 8), tanh, dense, softmax;
- ``pools-2d``: batchnorm, avgpool2d (tree of converted terms), global_maxpool2d, dense,
  tanh; ``gavg-2d``: global_avgpool2d (reciprocal scaling), dense.

For each, in one process run: fixsim's taps of every layer are compared with the g++
C simulation of rtl/ on ``--csim-frames`` frames (exit 1 on any difference, before any
time is printed); then fixsim (output only and all taps), fixsim's float64 twin and the
C simulation are timed, interleaved repeat by repeat (min and median); then each layer
alone (one thread): microseconds per frame, GMAC/s for the MAC layers and the fraction of
the one-thread float32 GEMM peak measured in the same run.

    python tools/bench_layers.py [--frames 256] [--repeat 5] [--csim-frames 32]
                                 [--networks waveform-1d,lenet-2d,pools-2d] [--json]

The load average is printed at the start and the end: figures taken under load are
indicative only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_formats import build_csim, gemm_peak, macs, timed  # noqa: E402

from fixsim import __version__  # noqa: E402
from fixsim._threads import resolve_threads  # noqa: E402
from fixsim.fixed import FixsimWarning  # noqa: E402
from fixsim.network import load_spec, prepare, run_float  # noqa: E402
from fixsim.network.weights import random_float_weights, random_weights  # noqa: E402

IN = "ap_fixed<16,6,AP_RND,AP_SAT>"
RES = "ap_fixed<16,6,AP_RND,AP_SAT>"
HLS4ML = {"product": "to_accum", "sum_order": "kh_kw_ci", "activation_on": "result"}


def _mac(name, kind, n, accum, activation="linear", rf=None, **geometry):
    options = dict(HLS4ML)
    if rf:
        options.update(sum_order="resource", reuse_factor=rf)
    key = "out_features" if kind == "dense" else "out_channels"
    return {"name": name, "type": kind, key: n, "activation": activation, "options": options,
            "formats": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3>",
                        "accum": accum, "result": RES}, **geometry}


def _bn(name):
    return {"name": name, "type": "batchnorm",
            "formats": {"scale": "ap_fixed<10,3,AP_RND,AP_SAT>", "bias": "ap_fixed<10,4>",
                        "result": RES}}


NETWORKS = {
    "waveform-1d": {
        "name": "bench-waveform-1d", "input": {"shape": [4, 1024], "format": IN},
        "layers": [
            {"name": "zp", "type": "zeropad1d", "padding": [4, 4]},
            _mac("c1", "conv1d", 16, "ap_fixed<24,10,AP_RND,AP_SAT>", "relu", kernel=9),
            _bn("bn"),
            {"name": "p1", "type": "maxpool1d", "kernel": 4},
            _mac("c2", "conv1d", 16, "ap_fixed<16,6>", rf=4, kernel=5),
            {"name": "ap", "type": "avgpool1d", "kernel": 4,
             "formats": {"accum": "ap_fixed<18,8,AP_RND,AP_SAT>", "result": RES}},
            {"name": "g", "type": "global_avgpool1d",
             "formats": {"accum": "ap_fixed<24,12>", "result": RES}},
            _mac("d1", "dense", 8, "ap_fixed<20,8,AP_RND_CONV,AP_SAT_SYM>"),
            {"name": "sg", "type": "sigmoid"},
        ]},
    "lenet-2d": {
        "name": "bench-lenet-2d", "input": {"shape": [1, 32, 32], "format": IN},
        "layers": [
            _mac("c1", "conv2d", 6, "ap_fixed<16,6>", "relu", kernel=5),
            {"name": "ap", "type": "avgpool2d", "kernel": 2,
             "formats": {"accum": "ap_fixed<18,8,AP_RND,AP_SAT>", "result": RES}},
            _mac("c2", "conv2d", 16, "ap_fixed<24,12,AP_RND,AP_SAT>", "relu", kernel=5),
            {"name": "mp", "type": "maxpool2d", "kernel": 2},
            {"name": "zp", "type": "zeropad2d", "padding": [[1, 1], [1, 1]]},
            {"name": "f", "type": "flatten", "order": "chw"},
            _mac("d1", "dense", 84, "ap_fixed<16,6>", rf=8),
            {"name": "th", "type": "tanh"},
            _mac("d2", "dense", 10, "ap_fixed<24,12,AP_RND,AP_SAT>"),
            {"name": "sm", "type": "softmax"},
        ]},
    "pools-2d": {
        "name": "bench-pools-2d", "input": {"shape": [8, 32, 32], "format": IN},
        "layers": [
            _bn("bn"),
            {"name": "ap", "type": "avgpool2d", "kernel": 2, "term": "to_accum",
             "sum_order": "tree",
             "formats": {"accum": "ap_fixed<18,8,AP_RND,AP_SAT>", "result": RES}},
            {"name": "gm", "type": "global_maxpool2d"},
            _mac("d1", "dense", 16, "ap_fixed<16,6>"),
            {"name": "th", "type": "tanh"},
        ]},
    "gavg-2d": {
        "name": "bench-gavg-2d", "input": {"shape": [8, 32, 32], "format": IN},
        "layers": [
            {"name": "g", "type": "global_avgpool2d", "scaling": "reciprocal",
             "formats": {"accum": "ap_fixed<24,14>", "result": RES,
                         "reciprocal": "ap_ufixed<16,0,AP_RND>"}},
            _mac("d1", "dense", 16, "ap_fixed<16,6>"),
        ]},
}


def fps(times: list[float], n: int) -> dict:
    return {"max": n / min(times), "median": n / statistics.median(times)}


def bench(name: str, spec, tb, args, peak1: float) -> dict:
    from fixsim.csim import twin
    from fixsim.csim.codegen import namespace_of

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.frames, *spec.input_shape)) * 8.0  # saturates the input
    weights = random_weights(spec, seed=args.seed)
    floats = random_float_weights(spec, seed=args.seed)
    model = prepare(spec, weights)
    res = {"spec": spec.name, "spec_hash": spec.spec_hash()[:16],
           "layers": [f"{l.name}:{l.type}" for l in spec.layers]}
    ns, nc = namespace_of(spec.name), args.csim_frames
    if tb is not None:
        ref = twin.run_testbench(tb, ns, weights, x[:nc])
        got = model.run(x[:nc])
        bad = {k: int(np.count_nonzero(ref[k] != got[k])) for k in ref}
        res["csim_values_compared"] = int(sum(v.size for v in ref.values()))
        if any(bad.values()):
            res["error"] = f"taps differ from the C simulation: {bad}"
            return res
    _, res["paths"] = model.run(x, taps=False, return_methods=True)
    t_out, t_taps, t_float, t_csim = [], [], [], []
    for r in range(args.repeat):
        t_out.append(timed(lambda: model.run(x, taps=False)))
        t_taps.append(timed(lambda: model.run(x)))
        t_float.append(timed(lambda: run_float(spec, floats, x, taps=False)))
        if tb is not None and r < 2:
            t_csim.append(timed(lambda: twin.run_testbench(tb, ns, weights, x[:nc])))
    n = len(x)
    res["fixsim_fps"] = fps(t_out, n)
    res["fixsim_taps_fps"] = fps(t_taps, n)
    res["float_twin_fps"] = fps(t_float, n)
    res["ratio_vs_float_twin"] = res["fixsim_fps"]["max"] / res["float_twin_fps"]["max"]
    if t_csim:
        res["csim_fps"] = fps(t_csim, nc)
        res["ratio_vs_csim"] = res["fixsim_fps"]["max"] / res["csim_fps"]["max"]
    m = macs(spec)
    rows = []
    for stage, s in model.layer_seconds(x[:64], repeat=3).items():
        mac = sum(m.get(part, 0) for part in stage.split("+"))
        g = mac * min(n, 64) / s / 1e9 if mac and s > 0 else None
        rows.append({"stage": stage, "us_per_frame": s / min(n, 64) * 1e6,
                     "frames_s": min(n, 64) / s if s > 0 else None, "gmac_s": g,
                     "peak_fraction": None if g is None else g * 1e9 / peak1})
    res["stages"] = rows
    return res


def report(out: dict) -> str:
    lines = [f"fixsim {out['generator']}: {out['frames']} frames, {out['threads']} threads; "
             f"load average {out['load_start']} -> {out['load_end']}",
             f"float32 GEMM peak (1 thread): {out['peak_f32_1t_gmac_s']:.1f} GMAC/s; "
             f"C-sim build {out['csim_build']}"]
    for name, r in out["networks"].items():
        lines.append(f"\n{name}: {' '.join(r['layers'])}")
        if "error" in r:
            lines.append(f"  ERROR: {r['error']}")
            continue
        if "csim_values_compared" in r:
            lines.append(f"  taps vs C-sim: {r['csim_values_compared']:,} values equal; "
                         f"paths {r['paths']}")
        lines.append(f"  fixsim       {r['fixsim_fps']['max']:10.1f} frames/s (median "
                     f"{r['fixsim_fps']['median']:.1f}); all taps {r['fixsim_taps_fps']['max']:.1f}")
        lines.append(f"  float twin   {r['float_twin_fps']['max']:10.1f} frames/s: fixsim/float "
                     f"{r['ratio_vs_float_twin']:.2f}x")
        if "csim_fps" in r:
            lines.append(f"  C-sim        {r['csim_fps']['max']:10.1f} frames/s: fixsim/C-sim "
                         f"{r['ratio_vs_csim']:.0f}x")
        for s in r["stages"]:
            g = "" if s["gmac_s"] is None else (f"  {s['gmac_s']:6.2f} GMAC/s "
                                                 f"{100 * s['peak_fraction']:5.1f}% of peak")
            lines.append(f"    {s['stage']:<14}{s['us_per_frame']:10.1f} us/frame "
                         f"{s['frames_s']:12.0f} frames/s{g}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--csim-frames", type=int, default=32)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--networks", default=",".join(NETWORKS))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    names = args.networks.split(",")
    unknown = sorted(set(names) - set(NETWORKS))
    if unknown:
        print(f"bench_layers: unknown network(s) {unknown}; known: {sorted(NETWORKS)}",
              file=sys.stderr)
        return 2
    load0 = [round(v, 2) for v in os.getloadavg()]
    specs = {n: load_spec(NETWORKS[n]) for n in names}
    tb, build = build_csim(list(specs.values()))
    out = {"generator": __version__, "frames": args.frames, "threads": resolve_threads(None),
           "load_start": load0, "csim_build": build if isinstance(build, str) else f"{build:.1f} s",
           "peak_f32_1t_gmac_s": gemm_peak(1) / 1e9, "networks": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)  # the inputs saturate on purpose
        for n, spec in specs.items():
            out["networks"][n] = bench(n, spec, tb, args, out["peak_f32_1t_gmac_s"] * 1e9)
    out["load_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(out, indent=1) if args.json else report(out))
    return 1 if any("error" in r for r in out["networks"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
