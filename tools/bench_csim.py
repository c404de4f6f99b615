"""Benchmark: frames/s of the g++ C simulation of specklenn-snl vs fixsim.network.run.

Both twins run the same frames with the same weights in the same process run, and their
taps are checked equal before any number is printed.  The C simulation is measured end
to end through :func:`fixsim.csim.twin.run_testbench` (files out, process, taps back) and
as the bare process time; fixsim with every tap kept and with the output only.

    python tools/bench_csim.py [--frames 200] [--opt-level 2] [--repeat 3] [--json]

Target: fixsim >= 50x the C simulation.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_datapath import frames  # noqa: E402  (same synthetic frames as the datapath bench)
from fixsim import __version__  # noqa: E402
from fixsim.csim import twin  # noqa: E402
from fixsim.fixed import FixsimWarning  # noqa: E402
from fixsim.network import load_spec  # noqa: E402
from fixsim.network import run as fixsim_run  # noqa: E402
from fixsim.network.weights import random_weights  # noqa: E402

TARGET = 50.0




def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--opt-level", type=int, default=2, choices=(0, 1, 2, 3),
                    help="g++ -O level of the C simulation (default 2)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    opt = f"-O{args.opt_level}"

    spec = load_spec("specklenn-snl")
    weights = random_weights(spec, seed=args.seed)
    x = frames(args.frames, args.seed)
    t = time.perf_counter()
    tb = twin.build(spec, opt=opt)
    build_s = time.perf_counter() - t

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        fixsim_run(spec, weights, x[:2])  # JIT warm-up
        ref = fixsim_run(spec, weights, x)
        c = twin.run_testbench(tb, "specklenn_snl", weights, x)
        bad = {k: int(np.count_nonzero(ref[k] != c[k])) for k in c}
        if any(bad.values()):
            print(f"twins differ, no timing reported: {bad}", file=sys.stderr)
            return 1
        t_fix_taps = best(lambda: fixsim_run(spec, weights, x), args.repeat)
        t_fix_out = best(lambda: fixsim_run(spec, weights, x, taps=False), args.repeat)
    t_csim = best(lambda: twin.run_testbench(tb, "specklenn_snl", weights, x), args.repeat)
    with tempfile.TemporaryDirectory() as wd:
        n, is_float = twin.write_inputs(Path(wd), spec, weights, x)
        cmd = [str(tb.exe), "specklenn_snl", wd, str(n), "f64" if is_float else "raw"]
        t_proc = best(lambda: subprocess.run(cmd, check=True), args.repeat)

    n = args.frames
    rows = {
        "csim_end_to_end": n / t_csim,
        "csim_process_only": n / t_proc,
        "fixsim_all_taps": n / t_fix_taps,
        "fixsim_output_only": n / t_fix_out,
    }
    ratio = rows["fixsim_all_taps"] / rows["csim_process_only"]
    result = {"generator": f"fixsim {__version__}", "spec": spec.name, "frames": n,
              "seed": args.seed, "opt": opt, "build_s": round(build_s, 2),
              "frames_per_s": {k: round(v, 1) for k, v in rows.items()},
              "ratio_fixsim_taps_vs_csim": round(ratio, 1),
              "ratio_fixsim_output_vs_csim": round(rows["fixsim_output_only"] / rows["csim_process_only"], 1),
              "target": TARGET, "target_met_all_taps": ratio >= TARGET,
              "target_met_output_only": rows["fixsim_output_only"] / rows["csim_process_only"] >= TARGET,
              "taps_equal": True}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"specklenn-snl, {n} frames, seed {args.seed}, g++ {opt} "
              f"(build {build_s:.1f} s, cached after the first run); taps equal at every layer")
        for k, v in rows.items():
            print(f"  {k:22s} {v:10.1f} frames/s")
        out_ratio = result["ratio_fixsim_output_vs_csim"]
        print(f"  fixsim / C-sim process: all taps {ratio:.1f}x "
              f"({'meets' if ratio >= TARGET else 'misses'} the {TARGET:.0f}x target), "
              f"output only {out_ratio:.1f}x "
              f"({'meets' if out_ratio >= TARGET else 'misses'} it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
