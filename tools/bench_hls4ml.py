"""Benchmark: fixsim's bit-exact run of an hls4ml design against hls4ml's own ``predict``.

The design is SpeckleNN as hls4ml builds it from PyTorch (issue 11): the bundled topology
with hls4ml's datapath (``"dialect"`` options: products stored in ``accum_t``, the
(kh, kw, ci) order, activations on the result; floor-mode pools, since hls4ml's PyTorch
front end ignores ``ceil_mode``), in two precisions: hls4ml's default ``ap_fixed<16,6>``
everywhere (wrapping 16-bit accumulators, products truncated into them) and the bundled
formats.  For each, in one process run:

1. hls4ml 1.3.0 converts and compiles the PyTorch module with a configuration giving every
   layer fixsim's formats (the differential harness of tests/hls4ml, cached by content
   hash: the first run compiles for minutes);
2. hls4ml's traced C simulation runs the frames and every traced layer must equal fixsim's
   tap of the same layer in every bit (exit 1 otherwise, before any time is printed);
3. ``ModelGraph.predict``'s work (the compiled top function called frame by frame through
   ctypes, as hls4ml's ``predict`` does) and fixsim's prepared model are timed,
   interleaved repeat by repeat; min and median.  Target: fixsim >= 100x hls4ml.

    python tools/bench_hls4ml.py [--frames 64] [--repeat 3] [--io io_parallel|io_stream]
                                 [--json]

Needs the ``tests`` extra (hls4ml, torch) and g++.  The load average is printed at the
start and the end; figures taken under load are indicative only.
"""

from __future__ import annotations

import argparse
import ctypes
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
sys.path.append(str(ROOT / "tests" / "hls4ml"))  # the differential harness (not a package)

from bench_datapath import frames  # noqa: E402

from fixsim import __version__  # noqa: E402
from fixsim.fixed import FixsimWarning  # noqa: E402
from fixsim.network import load_spec, prepare  # noqa: E402
from fixsim.network.weights import random_weights  # noqa: E402

TARGET = 100.0
#: precision name -> format of every weight, bias, accumulator and result (None: bundled)
PRECISIONS = {"hls4ml-default": "ap_fixed<16,6>", "bundled": None}


def design(precision: str | None, io: str = "io_stream") -> dict:
    """The bundled SpeckleNN spec in hls4ml's datapath, with ``precision`` everywhere.

    The flatten follows hls4ml's channels-last model: io_stream transposes back to
    PyTorch's order before it (``chw``); io_parallel's Reshape is an alias of the
    channels-last array (``hwc``: fixsim then permutes fc1's columns, as hls4ml does)."""
    d = load_spec("specklenn-snl").to_dict()
    d["name"] = "specklenn-hls4ml"
    d["options"] = {"product": "to_accum", "sum_order": "kh_kw_ci", "activation_on": "result"}
    for layer in d["layers"]:
        if layer["type"] == "maxpool2d":
            layer["ceil_mode"] = False
        if layer["type"] == "flatten":
            layer["order"] = "hwc" if io == "io_parallel" else "chw"
        if precision is not None and "formats" in layer:
            layer["formats"] = {k: precision for k in layer["formats"]}
    if precision is not None:
        d["input"]["format"] = precision
    return d


def hls4ml_predict(built, x: np.ndarray) -> np.ndarray:
    """What ``ModelGraph.predict`` does for a compiled model: the top function, frame by
    frame, through ctypes (no traces collected)."""
    import numpy.ctypeslib as npc

    from h4_harness import PROJECT

    lib = ctypes.CDLL(str(built.library))
    top = getattr(lib, f"{PROJECT}_double")
    top.restype = None
    top.argtypes = [npc.ndpointer(np.float64, flags="C_CONTIGUOUS")] * (1 + built.n_outputs)
    out = np.zeros((len(x), built.output_size))
    for i in range(len(x)):
        res = np.zeros(built.output_size)
        top(np.ascontiguousarray(x[i]).reshape(-1), res)
        out[i] = res
    return out


def bench(name: str, args) -> dict:
    import h4_harness as H
    from h4_netgen import Case

    d = design(PRECISIONS[name], args.io)
    spec = load_spec(d)
    weights = random_weights(spec, seed=args.seed)
    x = frames(args.frames, args.seed)
    case = Case(seed=args.seed, io_type=args.io, strategy="Latency", reuse_factor=1,
                channels_last="full", spec_dict=d, weights=weights, x=x)
    t = time.perf_counter()
    built = H.build(case)
    build_s = time.perf_counter() - t
    _, traces = H.run_traced(built, H.hls_input(case))
    cmp = H.compare(case, H.run_fixsim(case), traces)
    if cmp.differing:
        print(cmp.report(), file=sys.stderr)
        raise SystemExit(f"{name}: fixsim differs from hls4ml's C simulation; no time reported")
    model = prepare(spec, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        _, paths = model.run(x, taps=False, return_methods=True)
    xh = H.hls_input(case)
    t_h, t_f = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        for _ in range(args.repeat):
            t = time.perf_counter()
            hls4ml_predict(built, xh)
            t_h.append(time.perf_counter() - t)
            t = time.perf_counter()
            model.run(x, taps=False)
            t_f.append(time.perf_counter() - t)
    n = len(x)
    res = {"design": name, "io_type": args.io, "frames": n, "compared_values": cmp.compared,
           "differing_values": cmp.differing, "paths": paths,
           "hls4ml_build_s": round(build_s, 1), "hls4ml_build_cached": built.hit,
           "hls4ml_fps": n / min(t_h), "hls4ml_fps_median": n / statistics.median(t_h),
           "fixsim_fps": n / min(t_f), "fixsim_fps_median": n / statistics.median(t_f)}
    res["ratio"] = res["fixsim_fps"] / res["hls4ml_fps"]
    res["ratio_median"] = res["fixsim_fps_median"] / res["hls4ml_fps_median"]
    res["target_met"] = res["ratio_median"] >= TARGET
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--io", choices=("io_parallel", "io_stream"), default="io_stream",
                   help="io_stream (default, measured in docs); io_parallel builds take "
                        "about 8 minutes per design here")
    p.add_argument("--designs", default=",".join(PRECISIONS))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    import h4_harness as H

    why = H.unavailable_reason()
    if why:
        print(f"bench_hls4ml: {why}", file=sys.stderr)
        return 2
    load0 = os.getloadavg()
    results = [bench(name, args) for name in args.designs.split(",")]
    load1 = os.getloadavg()
    if args.json:
        print(json.dumps({"fixsim": __version__, "load": [load0, load1], "results": results},
                         indent=1))
        return 0
    print(f"fixsim {__version__}: {args.frames} frames, {args.io}, random weights (seed "
          f"{args.seed}); load average {[round(v, 2) for v in load0]} -> "
          f"{[round(v, 2) for v in load1]}")
    for r in results:
        build = "cached" if r["hls4ml_build_cached"] else f"{r['hls4ml_build_s']} s"
        print(f"\n{r['design']}: {r['compared_values']:,} traced values equal to hls4ml's C "
              f"simulation (0 differing); fixsim paths {r['paths']}; hls4ml build "
              f"{build}")
        print(f"  hls4ml predict {r['hls4ml_fps']:10.1f} frames/s (median "
              f"{r['hls4ml_fps_median']:.1f})")
        print(f"  fixsim         {r['fixsim_fps']:10.1f} frames/s (median "
              f"{r['fixsim_fps_median']:.1f})")
        print(f"  fixsim/hls4ml {r['ratio']:.0f}x (median {r['ratio_median']:.0f}x): target "
              f">= {TARGET:.0f}x {'met' if r['target_met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
