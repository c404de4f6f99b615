"""Benchmark: ``fixsim vectors gen`` of 10k frames against the 30 s target.

Three timings, each of the real command in a fresh process (imports and JIT included):

1. the simulation alone (``fixsim data simulate`` into an .h5 file),
2. ``fixsim vectors gen --source PRE.h5``: the vector-writing part (quantize, run the
   network with every tap, write and hash ~3.2 GB of int64 taps, weight image, manifest),
3. ``fixsim vectors gen --source simulated``: end to end (simulation included).

The ratio printed is the time over the 30 s target (< 1 meets it).  The set written by
(2) is then checked to equal (3) (same frames, same bytes except the recorded source).

    python tools/bench_vectors.py [--n 10000] [--skip-simulated] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 30.0


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fixsim.cli.main", *argv], capture_output=True,
                          text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: fixsim {' '.join(argv)}: {proc.stderr.strip()}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-simulated", action="store_true", help="skip timing 3 (end to end)")
    ap.add_argument("--keep", default=None, help="work directory to keep (default: a temp dir)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="fixsim-bench-vectors-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        h5 = work / "pre.h5"
        if h5.exists():
            h5.unlink()
        t_sim = timed(["data", "simulate", "--n", str(args.n), "--seed", str(args.seed),
                       "--out", str(h5)])
        t_file = timed(["vectors", "gen", "--n", str(args.n), "--source", str(h5), "--seed",
                        str(args.seed), "--out", str(work / "from_file"), "--force"])
        size = sum(p.stat().st_size for p in (work / "from_file").iterdir())
        print(f"frames: {args.n}; set size {size / 1e9:.2f} GB")
        print(f"1. simulation alone (fixsim data simulate):      {t_sim:7.1f} s "
              f"({args.n / t_sim:.0f} frames/s)")
        print(f"2. vectors gen from pre-simulated .h5:           {t_file:7.1f} s "
              f"ratio to the {TARGET_S:.0f} s target {t_file / TARGET_S:.2f} "
              f"({'meets' if t_file <= TARGET_S else 'MISSES'} it)")
        if not args.skip_simulated:
            t_all = timed(["vectors", "gen", "--n", str(args.n), "--source", "simulated", "--seed",
                           str(args.seed), "--out", str(work / "simulated"), "--force"])
            print(f"3. vectors gen --source simulated (end to end): {t_all:7.1f} s "
                  f"ratio to the {TARGET_S:.0f} s target {t_all / TARGET_S:.2f} "
                  f"({'meets' if t_all <= TARGET_S else 'MISSES'} it)")
            same = all((work / "simulated" / p.name).read_bytes() == p.read_bytes()
                       for p in (work / "from_file").iterdir()
                       if p.name.startswith(("tap_", "inputs", "labels")))
            print(f"   taps/inputs/labels of 2 and 3 identical: {same}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
