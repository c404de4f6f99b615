"""Benchmark: ``fixsim vectors gen`` of 10k frames against the 30 s target.

Three timings, each of the real command in a fresh process (imports and JIT included):

1. the simulation alone (``fixsim data simulate`` into an .h5 file),
2. ``fixsim vectors gen --source PRE.h5``: the vector-writing part (quantize, run the
   network with every tap, narrow, hash and write the taps, weight image, manifest);
   **the 30 s target is measured here, with a pre-simulated source**,
3. ``fixsim vectors gen --source simulated``: end to end (simulation included).

Then, in this process, where the time of (2) goes: reading the source, the network pass
alone (all CPUs, nothing written), and narrowing + sha256 + writing the taps alone.
The ratio printed is the time over the 30 s target (< 1 meets it).  The set written by
(2) is then checked to equal (3) (same frames, same bytes except the recorded source).

    python tools/bench_vectors.py [--n 10000] [--skip-simulated] [--skip-stages] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # run from a checkout
TARGET_S = 30.0


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fixsim.cli.main", *argv], capture_output=True,
                          text=True, cwd=ROOT)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: fixsim {' '.join(argv)}: {proc.stderr.strip()}")
    return dt


def stages(h5: Path, n: int, work: Path) -> None:
    """Time the parts of ``vectors gen --source PRE.h5`` separately (same process)."""
    import numpy as np

    from fixsim.network.engine import run
    from fixsim.network.spec import load_spec
    from fixsim.vectors.sources import read_source
    from fixsim.vectors.storage import HashedFile, storage_dtype
    from fixsim.vectors.vectorset import CHUNK
    from fixsim.vectors.weight_io import load_weights

    spec = load_spec("specklenn-snl")
    weights, _ = load_weights(spec, None)
    t0 = time.perf_counter()
    data = read_source(spec, str(h5), n, 0)
    t_src = time.perf_counter() - t0
    run(spec, weights, data.inputs[:2])  # JIT / cache load outside the timing
    t0 = time.perf_counter()
    outs = []
    for s in range(0, n, CHUNK * 8):
        res = run(spec, weights, data.inputs[s:s + CHUNK * 8])
        outs.append({l.name: np.ascontiguousarray(res[l.name], storage_dtype(l.out_format))
                     for l in spec.layers})
        del res
    t_net = time.perf_counter() - t0
    t0 = time.perf_counter()
    files = {l.name: HashedFile(work / f"stage_{l.name}.bin") for l in spec.layers}
    for part in outs:
        for name, arr in part.items():
            files[name].write(arr)
    for f in files.values():
        f.close()
    t_io = time.perf_counter() - t0
    for p in work.glob("stage_*.bin"):
        p.unlink()
    print(f"   stages of 2 (in process): read+quantize source {t_src:5.1f} s; network pass "
          f"(+ narrowing) {t_net:5.1f} s; sha256 + write {t_io:5.1f} s "
          f"(serial sum {t_src + t_net + t_io:5.1f} s; gen overlaps the last two)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-simulated", action="store_true", help="skip timing 3 (end to end)")
    ap.add_argument("--skip-stages", action="store_true", help="skip the in-process breakdown")
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
        if not args.skip_stages:
            stages(h5, args.n, work)
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
