#!/usr/bin/env python
"""Speed of the SPI simulator against the 100 frames/s target and a naive numpy reference.

Measures, in one run and on the same particles:

1. end-to-end frames/s of ``fixsim.data.simulate`` (default config, four balanced
   classes, default worker threads, and one worker), against the 100 frames/s target;
2. the structure-factor stage for one protein: the fixsim kernel as configured
   (amplitude every 2nd pixel + cubic interpolation), the kernel on every pixel, and a
   naive numpy direct sum ``F = sum_j f_j exp(i q . r_j)`` on every pixel;
3. end-to-end frames/s of the same simulator with the naive sum swapped in.

Usage: python tools/bench_simulate.py [--frames 400] [--naive-frames 12] [--json]
The machine is shared: the load average is printed next to the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout

TARGET_FPS = 100.0


def _naive_module():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "naive.py"
    spec = importlib.util.spec_from_file_location("fixsim_data_naive", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _best(fn, repeat):
    """Best wall time of ``repeat`` calls (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=400, help="frames for the fps runs")
    ap.add_argument("--naive-frames", type=int, default=12,
                    help="frames for the naive end-to-end run (slow)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from fixsim.data import SimConfig, simulate
    from fixsim.data.geometry import make_grid
    from fixsim.data.particles import Protein, make_protein
    from fixsim.data.simulate import default_workers

    naive = _naive_module()
    cfg = SimConfig()
    simulate(8, 0, cfg)                       # JIT compile / load the numba cache

    res = {"load_average_before": os.getloadavg()[0], "workers": default_workers()}

    t = time.perf_counter()
    simulate(args.frames, 1, cfg)
    res["fps"] = args.frames / (time.perf_counter() - t)
    t = time.perf_counter()
    simulate(args.frames // 2, 1, cfg, workers=1)
    res["fps_1_worker"] = (args.frames // 2) / (time.perf_counter() - t)

    # structure-factor stage, one median-size protein, same pixels for every method
    det = cfg.detector
    full = make_grid(det, cfg.beam, det.oversample)
    coarse = make_grid(det, cfg.beam, det.oversample, amplitude_step=det.amplitude_step)
    protein = make_protein(cfg.particle.radius_median_a, cfg.particle,
                           np.random.default_rng(0))
    t_interp = _best(lambda: coarse.smooth_field(protein.amplitude(coarse.q_coarse)), 20)
    t_kernel = _best(lambda: protein.amplitude(full.q), 10)
    t_naive = _best(lambda: naive.protein_amplitude_naive(protein, full.q), 2)
    res.update(sf_pixels=int(full.q.shape[0]), sf_pseudo_atoms=int((protein.electrons > 0).sum()),
               sf_ms_fixsim=t_interp * 1e3, sf_ms_kernel_every_pixel=t_kernel * 1e3,
               sf_ms_naive_numpy=t_naive * 1e3)

    # end to end with the naive sum swapped in (same frames, same physics)
    original = Protein.amplitude
    Protein.amplitude = lambda self, q: naive.protein_amplitude_naive(self, q)
    try:
        t = time.perf_counter()
        simulate(args.naive_frames, 1, cfg, workers=1)
        res["fps_naive_numpy"] = args.naive_frames / (time.perf_counter() - t)
    finally:
        Protein.amplitude = original
    res["load_average_after"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"SPI simulator, {args.frames} frames of 65x65, four classes "
          f"(load average {res['load_average_before']:.1f} -> {res['load_average_after']:.1f}, "
          f"{os.cpu_count()} CPUs)")
    print(f"  fixsim, {res['workers']} workers : {res['fps']:8.1f} frames/s  "
          f"= {res['fps'] / TARGET_FPS:.2f} x the {TARGET_FPS:.0f} frames/s target")
    print(f"  fixsim, 1 worker   : {res['fps_1_worker']:8.1f} frames/s  "
          f"= {res['fps_1_worker'] / TARGET_FPS:.2f} x target")
    print(f"  naive numpy sum    : {res['fps_naive_numpy']:8.1f} frames/s  "
          f"(fixsim is {res['fps'] / res['fps_naive_numpy']:.0f} x faster)")
    print(f"structure factor of one R={cfg.particle.radius_median_a:.0f} A protein "
          f"({res['sf_pseudo_atoms']} pseudo-atoms, {res['sf_pixels']} pixels):")
    print(f"  fixsim (every {det.amplitude_step}nd pixel + cubic interpolation): "
          f"{res['sf_ms_fixsim']:8.2f} ms  ({t_naive / t_interp:.0f} x naive)")
    print(f"  fixsim kernel, every pixel             : "
          f"{res['sf_ms_kernel_every_pixel']:8.2f} ms  ({t_naive / t_kernel:.0f} x naive)")
    print(f"  naive numpy direct sum, every pixel    : {res['sf_ms_naive_numpy']:8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
