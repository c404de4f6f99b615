"""Benchmark: bit-exact specklenn-snl frames/s of fixsim vs PyTorch float32 (and the C-sim).

All contenders run the same frames with the same weights in the same process run:

- fixsim's prepared model (fixsim.network.prepare), bit-exact, output only and with
  every tap kept, and one frame at a time (batch 1);
- PyTorch float32, the same model (fixsim.model.specklenn.SpeckleNNInference) batched,
  with the dequantized weights, under torch.inference_mode;
- the g++ C simulation of rtl/ (fixsim.csim.twin), when that module exists; its taps are
  checked equal to fixsim's before its time is reported.

The first call of each is timed separately (Numba loads or compiles its kernels then;
``--cold-jit`` also times a fresh process with an empty Numba cache: the true compile
time). Weights: golden/weights_folded.npz quantized to the spec when present, else
random weights quantized to the spec (seeded).

    python tools/bench_datapath.py [--frames 512] [--repeat 5] [--csim-frames 64] [--cold-jit] [--json]

Targets: fixsim >= 50% of PyTorch float32 throughput; fixsim >= 50x the C simulation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixsim import __version__  # noqa: E402
from fixsim.fixed import FixsimWarning  # noqa: E402
from fixsim.network import load_spec, prepare, run  # noqa: E402
from fixsim.network.weights import dequantize_weights, quantize_weights, random_weights  # noqa: E402

TARGET_TORCH = 0.5
TARGET_CSIM = 50.0
GOLDEN = ROOT / "golden" / "weights_folded.npz"


def frames(n: int, seed: int) -> np.ndarray:
    """Standardized speckle-like frames (Poisson counts on a random Airy-like intensity)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-32:33, -32:33]
    r = np.hypot(yy, xx)[None]
    lam = rng.uniform(1, 50, (n, 1, 1)) * (np.sinc(r / rng.uniform(2, 8, (n, 1, 1))) ** 2 + 0.01)
    x = rng.poisson(lam).astype(np.float64)
    x = (x - x.mean(axis=(1, 2), keepdims=True)) / (x.std(axis=(1, 2), keepdims=True) + 1e-12)
    return x[:, None]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def best(fn, repeat: int) -> float:
    return min(timed(fn)[1] for _ in range(repeat))


def load_weights(spec, seed: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        if GOLDEN.is_file():
            with np.load(GOLDEN) as z:
                return quantize_weights(spec, {k: z[k] for k in z.files}), f"golden ({GOLDEN.name})"
        return random_weights(spec, seed=seed), f"random (seed {seed})"


def cold_jit_seconds() -> float:
    """First call of fixsim.network.run in a fresh process with an empty Numba cache."""
    code = ("import time, numpy as np; from fixsim.network import load_spec, run; "
            "from fixsim.network.weights import random_weights; s = load_spec('specklenn-snl'); "
            "w = random_weights(s); x = np.zeros((2, 1, 65, 65)); t = time.perf_counter(); "
            "run(s, w, x); run(s, w, x, method='sequential'); print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def torch_model(spec, weights, x):
    """The project's SpeckleNN in float32 with the dequantized weights; first call timed."""
    import torch

    from fixsim.model.specklenn import SpeckleNNInference

    model = SpeckleNNInference().eval()
    floats = dequantize_weights(spec, weights)
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in floats.items()})
    xt = torch.from_numpy(x.astype(np.float32))
    with torch.inference_mode():
        ref, first = timed(lambda: model(xt))
    return model, xt, {"first_call_s": first, "threads": torch.get_num_threads(),
                       "version": torch.__version__, "embedding": ref.numpy().astype(np.float64)}


def torch_time(model, xt) -> float:
    import torch

    with torch.inference_mode():
        return timed(lambda: model(xt))[1]


def bench_csim(spec, weights, x, repeat: int):
    try:
        from fixsim.csim import twin
    except ImportError:
        return None
    build_out, build_s = timed(lambda: twin.build(spec))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps, t = timed(lambda: twin.run_testbench(build_out, "specklenn_snl", weights, x))
        for _ in range(repeat - 1):
            t = min(t, timed(lambda: twin.run_testbench(build_out, "specklenn_snl", weights, x))[1])
        ref = run(spec, weights, x)
    bad = {k: int(np.count_nonzero(ref[k] != taps[k])) for k in taps}
    return {"build_s": build_s, "best_s": t, "mismatches": bad}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=512, help="batch size for fixsim and torch")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--csim-frames", type=int, default=64, help="0 skips the C simulation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cold-jit", action="store_true", help="also time an empty Numba cache")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.frames < 1 or args.repeat < 1 or args.csim_frames < 0:
        ap.error("--frames and --repeat must be >= 1, --csim-frames >= 0")

    spec = load_spec("specklenn-snl")
    weights, origin = load_weights(spec, args.seed)
    x = frames(args.frames, args.seed)
    n = args.frames
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        (out, used), first = timed(lambda: run(spec, weights, x[:2], taps=False, return_methods=True))
        exact = run(spec, weights, x, taps=False)["fc2"] * spec.output_format.lsb
        try:
            model, xt, tr = torch_model(spec, weights, x)
        except ImportError:
            model = None
        # The prepared model (weights validated once), as a caller running many batches.
        prepared = prepare(spec, weights)
        # Alternate the contenders so that a change in machine load hits both alike.
        t_out = t_taps = t_torch = t_one = t_torch_one = float("inf")
        for _ in range(args.repeat):
            t_out = min(t_out, timed(lambda: prepared.run(x, taps=False))[1])
            t_taps = min(t_taps, timed(lambda: prepared.run(x))[1])
            if model is not None:
                t_torch = min(t_torch, torch_time(model, xt))
            for _ in range(20):  # batch 1: one frame at a time
                t_one = min(t_one, timed(lambda: prepared.run(x[:1], taps=False))[1])
                if model is not None:
                    t_torch_one = min(t_torch_one, torch_time(model, xt[:1]))
    fmt = spec.input_format
    saturated = int(np.count_nonzero((x > fmt.max) | (x < fmt.min)))
    res = {"generator": f"fixsim {__version__}", "spec": spec.name, "spec_hash": spec.spec_hash(),
           "weights": origin, "frames": n, "seed": args.seed, "methods": used,
           "input_values_saturated": saturated,
           "fixsim": {"first_call_s": round(first, 3), "output_only_fps": round(n / t_out, 1),
                      "all_taps_fps": round(n / t_taps, 1), "batch1_ms": round(t_one * 1e3, 3)}}
    if args.cold_jit:
        res["fixsim"]["cold_jit_s"] = round(cold_jit_seconds(), 1)
    if model is None:
        res["torch"] = None
    else:
        fps = n / t_torch
        res["torch"] = {"version": tr["version"], "threads": tr["threads"],
                        "first_call_s": round(tr["first_call_s"], 3), "float32_fps": round(fps, 1),
                        "max_abs_embedding_diff_vs_fixsim": float(np.abs(tr["embedding"] - exact).max())}
        res["ratio_fixsim_vs_torch_float32"] = round(n / t_out / fps, 3)
        res["torch"]["batch1_ms"] = round(t_torch_one * 1e3, 3)
        res["ratio_batch1"] = round(t_torch_one / t_one, 3)
        res["torch_target_met"] = n / t_out / fps >= TARGET_TORCH
    if args.csim_frames:
        cs = bench_csim(spec, weights, x[:args.csim_frames], min(args.repeat, 3))
        if cs is None:
            res["csim"] = "missing: fixsim.csim.twin is not available"
        else:
            cfps = args.csim_frames / cs["best_s"]
            res["csim"] = {"frames": args.csim_frames, "build_s": round(cs["build_s"], 2),
                           "fps": round(cfps, 1), "taps_equal": not any(cs["mismatches"].values()),
                           "mismatches": cs["mismatches"]}
            res["ratio_fixsim_vs_csim"] = round(n / t_out / cfps, 1)
            res["csim_target_met"] = n / t_out / cfps >= TARGET_CSIM
            if not res["csim"]["taps_equal"]:
                print(f"twins differ: {cs['mismatches']}", file=sys.stderr)
                return 1
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    f = res["fixsim"]
    print(f"specklenn-snl ({spec.spec_hash()[:12]}), {n} frames, weights {origin}, "
          f"paths {used}")
    print(f"  fixsim bit-exact   {f['output_only_fps']:10.1f} frames/s (output only), "
          f"{f['all_taps_fps']:.1f} with every tap; first call {f['first_call_s']:.2f} s"
          + (f", cold JIT {f['cold_jit_s']:.1f} s" if "cold_jit_s" in f else ""))
    if res["torch"]:
        t = res["torch"]
        print(f"  torch float32      {t['float32_fps']:10.1f} frames/s ({t['threads']} threads, "
              f"first call {t['first_call_s']:.2f} s); "
              f"embedding max diff {t['max_abs_embedding_diff_vs_fixsim']:.4f} "
              f"({saturated} of {x.size} input values beyond the input format saturate)")
        print(f"  batch 1: fixsim {f['batch1_ms']:.3f} ms, torch {t['batch1_ms']:.3f} ms per frame "
              f"({res['ratio_batch1']:.2f}x)")
        print(f"  fixsim / torch float32 = {res['ratio_fixsim_vs_torch_float32']:.2f} "
              f"(target >= {TARGET_TORCH:.2f}: {'met' if res['torch_target_met'] else 'NOT met'})")
    else:
        print("  torch float32: missing (pip install torch==2.13.0)")
    if isinstance(res.get("csim"), dict):
        c = res["csim"]
        print(f"  C-sim (g++)        {c['fps']:10.1f} frames/s ({c['frames']} frames, end to end, best of "
              f"{min(args.repeat, 3)}, taps equal at every layer)")
        print(f"  fixsim / C-sim = {res['ratio_fixsim_vs_csim']:.1f}x "
              f"(target >= {TARGET_CSIM:.0f}x: {'met' if res['csim_target_met'] else 'NOT met'})")
    elif args.csim_frames:
        print(f"  C-sim: {res['csim']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
