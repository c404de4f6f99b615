"""Benchmark: bit-exact SpeckleNN in every accumulator regime vs PyTorch float32 and the C-sim.

For the bundled spec and five variants of it (only the accumulator formats change; the
weights, inputs and results keep the bundled formats), in one process run:

1. the variant's C simulation (g++, fixsim.csim, all variants in one test bench) and
   fixsim's prepared model run the same frames; **every tap of every frame must be
   equal** before any time of that variant is reported (exit 1 otherwise);
2. fixsim (output only, and with every tap), PyTorch float32 of the same model (the
   dequantized weights) and the C simulation are timed, interleaved repeat by repeat so
   that a change in machine load hits all alike; min and median of the repeats.  fixsim
   writes into the output arrays of an earlier call (``Model.run(out=...)``: every tap
   into preallocated int64 arrays); "into fresh arrays" is the same call allocating them;
3. each stage of fixsim alone, in one thread: seconds per frame, GMAC/s and the fraction
   of the float32 GEMM peak measured in the same run (one thread, and all threads for
   the whole model).

Variants (issue 10): ``ap_fixed<16,6>`` (AP_TRN, AP_WRAP: hls4ml's default),
``ap_fixed<24,12,AP_RND,AP_SAT>``, ``ap_fixed<32,12>`` (products truncated into A),
``ap_fixed<20,8,AP_RND_CONV,AP_SAT_SYM>``, and "mixed" (a different regime in each
layer).  Targets: each variant >= 0.5x PyTorch float32 and >= 50x the C-sim; the bundled
spec >= 3x PyTorch output only, >= 2x with every tap, batch 1 >= 1x.

    python tools/bench_formats.py [--frames 256] [--repeat 5] [--csim-frames 32]
                                  [--variants bundled,mixed] [--json]

The machine is shared: the load average is printed at the start and the end; numbers
taken under load are indicative only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_datapath import frames, load_weights, torch_model  # noqa: E402

from fixsim import __version__  # noqa: E402
from fixsim._threads import blas_single_thread, resolve_threads  # noqa: E402
from fixsim.fixed import FixsimWarning  # noqa: E402
from fixsim.network import load_spec, prepare  # noqa: E402

BUNDLED = "specklenn-snl"
MAC_LAYERS = ("conv1", "conv2", "fc1", "fc2")
#: name -> accumulator format of every MAC layer (None: the bundled one), or per layer.
VARIANTS = {
    "bundled": None,
    "acc16-trn-wrap": "ap_fixed<16,6>",
    "acc24-rnd-sat": "ap_fixed<24,12,AP_RND,AP_SAT>",
    "acc32-trn-wrap": "ap_fixed<32,12>",
    "acc20-rndconv-satsym": "ap_fixed<20,8,AP_RND_CONV,AP_SAT_SYM>",
    "mixed": {"conv1": None, "conv2": "ap_fixed<24,12,AP_RND,AP_SAT>",
              "fc1": "ap_fixed<16,6>", "fc2": "ap_fixed<20,8,AP_RND_CONV,AP_SAT_SYM>"},
}
TARGET_TORCH, TARGET_CSIM = 0.5, 50.0
TARGET_BUNDLED_OUT, TARGET_BUNDLED_TAPS, TARGET_BATCH1 = 3.0, 2.0, 1.0


def variant_spec(base, name: str):
    """The bundled spec with the accumulators of ``VARIANTS[name]``."""
    accs = VARIANTS[name]
    d = base.to_dict()
    d["name"] = f"specklenn-{name}"
    for layer in d["layers"]:
        if layer["name"] in MAC_LAYERS:
            acc = accs.get(layer["name"]) if isinstance(accs, dict) else accs
            if acc is not None:
                layer["formats"]["accum"] = acc
    return load_spec(d)


def macs(spec) -> dict[str, int]:
    """Multiply-accumulates per frame of each conv2d/dense layer."""
    return {l.name: int(np.prod(l.out_shape)) * l.fan_in for l in spec.mac_layers}


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def gemm_peak(threads: int | None, repeat: int = 5, n: int = 1024) -> float:
    """float32 GEMM multiply-accumulates per second (n x n x n), best of ``repeat``."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    a @ b
    if threads == 1:
        with blas_single_thread():
            t = min(timed(lambda: a @ b) for _ in range(repeat))
    else:
        t = min(timed(lambda: a @ b) for _ in range(repeat))
    return n ** 3 / t


def stats(times: list[float], n: int) -> dict:
    """frames/s at the best and the median repeat."""
    return {"fps_max": n / min(times), "fps_median": n / statistics.median(times),
            "repeats": len(times)}


def csim_check(tb, network: str, model, weights, x) -> tuple[dict, dict, float]:
    """C-sim taps vs fixsim's on x: (mismatches per tap, C-sim taps, C-sim seconds)."""
    from fixsim.csim import twin

    t = time.perf_counter()
    ref = twin.run_testbench(tb, network, weights, x)
    secs = time.perf_counter() - t
    got = model.run(x)
    bad = {k: int(np.count_nonzero(ref[k] != got[k])) for k in ref}
    return bad, ref, secs


def bench_variant(name, spec, weights, x, tb, torch_parts, args) -> dict:
    from fixsim.csim import twin
    from fixsim.csim.codegen import namespace_of

    n, nc = len(x), args.csim_frames
    t = time.perf_counter()
    model = prepare(spec, weights)
    model.run(x[:2])
    model.run(x[:2], taps=False)
    first = time.perf_counter() - t
    res = {"spec": spec.name, "spec_hash": spec.spec_hash()[:16],
           "accumulators": {l.name: str(l.formats.accum) for l in spec.mac_layers},
           "first_call_s": round(first, 2)}
    network = namespace_of(spec.name)
    if tb is not None:
        bad, _, _ = csim_check(tb, network, model, weights, x[:nc])
        res["csim_mismatches"] = bad
        if any(bad.values()):
            res["error"] = f"taps differ from the C simulation: {bad}"
            return res
    _, used = model.run(x, taps=False, return_methods=True)
    res["paths"] = used
    t_out, t_taps, t_fresh, t_torch, t_csim = [], [], [], [], []
    # the outputs of one call, reused: every tap written into preallocated int64 arrays
    buf_out, buf_taps = model.run(x, taps=False), model.run(x)
    for r in range(args.repeat):
        t_out.append(timed(lambda: model.run(x, taps=False, out=buf_out)))
        t_taps.append(timed(lambda: model.run(x, out=buf_taps)))
        t_fresh.append(timed(lambda: model.run(x)))
        if torch_parts is not None:
            t_torch.append(torch_parts["time"]())
        if tb is not None and r < args.csim_repeat:
            t_csim.append(timed(lambda: twin.run_testbench(tb, network, weights, x[:nc])))
    res["fixsim_output_only"] = stats(t_out, n)
    res["fixsim_all_taps"] = stats(t_taps, n)
    res["fixsim_all_taps_fresh"] = stats(t_fresh, n)
    fps = res["fixsim_output_only"]["fps_max"]
    res["fixsim_gmac_s"] = fps * sum(macs(spec).values()) / 1e9
    if t_torch:
        res["torch_float32"] = stats(t_torch, n)
        res["ratio_vs_torch"] = fps / res["torch_float32"]["fps_max"]
        res["ratio_taps_vs_torch"] = (res["fixsim_all_taps"]["fps_max"]
                                      / res["torch_float32"]["fps_max"])
    if t_csim:
        res["csim"] = stats(t_csim, nc)
        res["ratio_vs_csim"] = fps / res["csim"]["fps_max"]
    if name == "bundled" and torch_parts is not None:
        x1 = x[:1]
        model.run(x1, taps=False)
        f1 = min(timed(lambda: model.run(x1, taps=False)) for _ in range(args.batch1_repeat))
        t1 = torch_parts["time1"]()
        res["batch1"] = {"fixsim_ms": f1 * 1e3, "torch_ms": t1 * 1e3, "ratio": t1 / f1}
    res["layers"] = layer_table(model, spec, x[:min(n, 64)], args)
    return res


def layer_table(model, spec, x, args) -> list[dict]:
    """Per-stage seconds per frame, GMAC/s and fraction of the 1-thread float32 peak."""
    m = macs(spec)
    secs = model.layer_seconds(x, repeat=max(2, args.repeat // 2))
    rows = []
    for stage, s in secs.items():
        mac = sum(m.get(part, 0) for part in stage.split("+"))
        g = mac * len(x) / s / 1e9 if mac and s > 0 else None
        rows.append({"stage": stage, "us_per_frame": s / len(x) * 1e6, "gmac_s": g,
                     "peak_fraction": None if g is None else g * 1e9 / args.peak1})
    return rows


def torch_parts_for(spec, weights, x, repeat1: int):
    try:
        model, xt, info = torch_model(spec, weights, x)
    except ImportError:
        return None
    import torch

    x1 = xt[:1]

    def run_all():
        with torch.inference_mode():
            return timed(lambda: model(xt))

    def run_one():
        with torch.inference_mode():
            model(x1)
            return min(timed(lambda: model(x1)) for _ in range(repeat1))

    return {"time": run_all, "time1": run_one, "version": info["version"],
            "threads": info["threads"]}


def build_csim(specs):
    try:
        from fixsim.csim import twin
        from fixsim.csim.codegen import namespace_of
    except ImportError:
        return None, "fixsim.csim is not available"
    try:
        t = time.perf_counter()
        tb = twin.build(specs, namespaces=[namespace_of(s.name) for s in specs])
        return tb, time.perf_counter() - t
    except Exception as exc:  # a missing g++ or headers: report and go on without
        return None, f"C simulation unavailable: {exc}"


def report(res: dict) -> str:
    lines = [f"fixsim {res['generator']}: {res['frames']} frames, weights {res['weights']}, "
             f"{res['threads']} threads; load average {res['load_start']} -> {res['load_end']}",
             f"float32 GEMM peak: {res['peak_f32_gmac_s']:.1f} GMAC/s ({res['threads']} threads), "
             f"{res['peak_f32_1t_gmac_s']:.1f} GMAC/s (1 thread); C-sim build {res['csim_build']}"]
    for name, v in res["variants"].items():
        lines.append(f"\n{name}: {v['spec']} ({', '.join(v['accumulators'].values())})")
        if "error" in v:
            lines.append(f"  NOT TIMED: {v['error']}")
            continue
        cs = v.get("csim_mismatches")
        lines.append("  taps vs C-sim: " + ("equal at every layer" if cs is not None
                                            else "not checked (no C-sim)")
                     + f"; paths {v['paths']}; first call {v['first_call_s']} s")
        fo, ft = v["fixsim_output_only"], v["fixsim_all_taps"]
        ff = v["fixsim_all_taps_fresh"]
        lines.append(f"  fixsim      {fo['fps_max']:9.1f} frames/s (median {fo['fps_median']:.1f}); "
                     f"all taps {ft['fps_max']:.1f} (median {ft['fps_median']:.1f}; into fresh "
                     f"arrays {ff['fps_max']:.1f}, median {ff['fps_median']:.1f}); "
                     f"{v['fixsim_gmac_s']:.2f} GMAC/s")
        if "torch_float32" in v:
            tt = v["torch_float32"]
            lines.append(f"  torch f32   {tt['fps_max']:9.1f} frames/s (median {tt['fps_median']:.1f}); "
                         f"fixsim/torch {v['ratio_vs_torch']:.2f}x, with taps "
                         f"{v['ratio_taps_vs_torch']:.2f}x")
        if "csim" in v:
            lines.append(f"  C-sim       {v['csim']['fps_max']:9.1f} frames/s; fixsim/C-sim "
                         f"{v['ratio_vs_csim']:.0f}x")
        if "batch1" in v:
            b = v["batch1"]
            lines.append(f"  batch 1     fixsim {b['fixsim_ms']:.3f} ms, torch {b['torch_ms']:.3f} ms: "
                         f"{b['ratio']:.2f}x")
        for row in v["layers"]:
            g = "" if row["gmac_s"] is None else (f"  {row['gmac_s']:6.2f} GMAC/s  "
                                                  f"{100 * row['peak_fraction']:5.1f}% of peak")
            lines.append(f"    {row['stage']:<12} {row['us_per_frame']:9.1f} us/frame{g}")
        lines.append("  targets: " + ", ".join(f"{k} {'met' if ok else 'NOT met'}"
                                               for k, ok in v["targets"].items()))
    return "\n".join(lines)


def targets(name: str, v: dict) -> dict:
    t = {}
    if "ratio_vs_torch" in v:
        if name == "bundled":
            t[f">= {TARGET_BUNDLED_OUT}x torch"] = v["ratio_vs_torch"] >= TARGET_BUNDLED_OUT
            t[f">= {TARGET_BUNDLED_TAPS}x torch with taps"] = (v["ratio_taps_vs_torch"]
                                                              >= TARGET_BUNDLED_TAPS)
            if "batch1" in v:
                t[f"batch 1 >= {TARGET_BATCH1}x"] = v["batch1"]["ratio"] >= TARGET_BATCH1
        else:
            t[f">= {TARGET_TORCH}x torch"] = v["ratio_vs_torch"] >= TARGET_TORCH
    if "ratio_vs_csim" in v:
        t[f">= {TARGET_CSIM:.0f}x C-sim"] = v["ratio_vs_csim"] >= TARGET_CSIM
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--csim-frames", type=int, default=32, help="0 skips the C simulation")
    ap.add_argument("--csim-repeat", type=int, default=2)
    ap.add_argument("--batch1-repeat", type=int, default=50)
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"comma-separated subset of {', '.join(VARIANTS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        ap.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if args.frames < 2 or args.repeat < 1 or args.csim_frames < 0 or args.csim_frames > args.frames:
        ap.error("--frames >= 2, --repeat >= 1, 0 <= --csim-frames <= --frames")

    load_start = os.getloadavg()
    base = load_spec(BUNDLED)
    weights, origin = load_weights(base, args.seed)
    x = frames(args.frames, args.seed)
    specs = {name: variant_spec(base, name) for name in names}
    args.peak1 = gemm_peak(1)
    peak = gemm_peak(None)
    tb, build = build_csim(list(specs.values())) if args.csim_frames else (None, "skipped")
    res = {"generator": __version__, "frames": args.frames, "seed": args.seed, "weights": origin,
           "threads": resolve_threads(None), "peak_f32_gmac_s": peak / 1e9,
           "peak_f32_1t_gmac_s": args.peak1 / 1e9,
           "csim_build": f"{build:.1f} s" if isinstance(build, float) else build,
           "load_start": [round(v, 2) for v in load_start], "variants": {}}
    torch_parts = torch_parts_for(base, weights, x, args.batch1_repeat)
    if torch_parts is not None:
        res["torch"] = {"version": torch_parts["version"], "threads": torch_parts["threads"]}
    failed = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        for name in names:
            v = bench_variant(name, specs[name], weights, x, tb, torch_parts, args)
            v["targets"] = targets(name, v)
            failed |= "error" in v
            res["variants"][name] = v
    res["load_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(res, indent=2) if args.json else report(res))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
