"""Benchmark of ``fixsim compare``: 100k specklenn-snl frames, every layer tap, against 10 s.

Every tap of one SpeckleNN frame is 40,512 values (input 4,225, conv1 26,047, pool1 6,727,
conv2 2,187, pool2 588, flatten 588, fc1 100, fc2 50).  At int64 that is 324 KB a frame,
32 GB per side for 100k frames: two sides do not fit this 23 GB machine.  All specklenn-snl
formats are 16 bits wide, so the realistic representation is int16 raw words (the width
on the wire), 8.1 GB per side, written as one memory-mapped ``.bin`` file per layer and
compared by streaming chunks of frames through the Numba kernels in threads
(``fixsim.verify.compare``).

The run writes side A (random raw words), copies it to side B and plants a few known
differences in B, then measures, in the same run:

1. ``fixsim.verify.compare`` over all frames and layers (twice: the second run shows the
   page-cache-warm speed),
2. a plain numpy baseline on the first frames (``np.count_nonzero(a != b)`` and
   ``np.abs(a - b).max()`` per layer and chunk), extrapolated,
3. the same fixsim comparison of those first frames held in memory as int64 (the tap
   format of the C test bench).

It prints frames/s, the ratio to the 10 s target, peak RSS, and checks that exactly the
planted differences were found.  The files are removed unless ``--keep``.

    python tools/bench_compare.py [--frames 100000] [--dir /tmp/fixsim_bench_compare]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixsim.network import load_spec  # noqa: E402
from fixsim.verify.compare import compare  # noqa: E402
from fixsim.verify.result import Result  # noqa: E402

TARGET_S = 10.0


def shapes(spec) -> dict:
    out = {"input": tuple(spec.input_shape)}
    out.update({l.name: tuple(l.out_shape) for l in spec.layers})
    return out


def write_side(path: Path, shp: dict, n: int, dtype, seed: int) -> None:
    """Random raw words, written in blocks (a repeated random block, varied per block)."""
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, s in shp.items():
        size = int(np.prod(s))
        block = rng.integers(-2**15, 2**15, size=(min(n, 512), size), dtype=np.int64).astype(dtype)
        with open(path / f"tap_{name}.bin", "wb") as fh:
            for i, start in enumerate(range(0, n, len(block))):
                rows = min(len(block), n - start)
                (block[:rows] ^ dtype(i & 0x7FFF)).tofile(fh)


def open_side(path: Path, shp: dict, n: int, dtype) -> dict:
    return {name: np.memmap(path / f"tap_{name}.bin", dtype=dtype, mode="r", shape=(n,) + s)
            for name, s in shp.items()}


def plant(path: Path, shp: dict, n: int, dtype, seed: int) -> list:
    """Change one value in a few (frame, layer) places of side B; return them."""
    rng = np.random.default_rng(seed)
    planted = []
    for name in ("conv1", "pool2", "fc2"):
        mm = np.memmap(path / f"tap_{name}.bin", dtype=dtype, mode="r+", shape=(n,) + shp[name])
        for _ in range(3):
            frame = int(rng.integers(n))
            idx = tuple(int(rng.integers(d)) for d in shp[name])
            mm[(frame,) + idx] ^= dtype(4)
            planted.append((frame, name))
        mm.flush()
        del mm
    return planted


def numpy_baseline(a: dict, b: dict, n: int, chunk: int = 256) -> None:
    for name in a:
        for s in range(0, n, chunk):
            x = np.asarray(a[name][s:s + chunk]).astype(np.int64)
            y = np.asarray(b[name][s:s + chunk]).astype(np.int64)
            np.count_nonzero(x != y)
            np.abs(x - y).max()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=100_000)
    p.add_argument("--dir", default="/tmp/fixsim_bench_compare")
    p.add_argument("--dtype", choices=("int16", "int32"), default="int16")
    p.add_argument("--baseline-frames", type=int, default=5_000)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    spec = load_spec("specklenn-snl")
    shp = shapes(spec)
    n, dtype = args.frames, np.dtype(args.dtype).type
    per_frame = sum(int(np.prod(s)) for s in shp.values())
    side_bytes = n * per_frame * np.dtype(dtype).itemsize
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free < 2.2 * side_bytes:
        print(f"need {2.2 * side_bytes / 1e9:.1f} GB free in {root}, have {free / 1e9:.1f} GB")
        return 2
    print(f"{n} frames x {per_frame} values ({len(shp)} taps) as {args.dtype}: "
          f"{side_bytes / 1e9:.2f} GB per side ({n * per_frame * 8 / 1e9:.1f} GB at int64)")
    try:
        t = time.perf_counter()
        write_side(root / "a", shp, n, dtype, seed=1)
        shutil.rmtree(root / "b", ignore_errors=True)
        shutil.copytree(root / "a", root / "b")
        planted = plant(root / "b", shp, n, dtype, seed=2)
        print(f"wrote both sides in {time.perf_counter() - t:.1f} s")
        a = Result("A", "bench", spec, open_side(root / "a", shp, n, dtype), True)
        b = Result("B", "bench", spec, open_side(root / "b", shp, n, dtype), True)
        times = []
        for _ in range(2):
            t = time.perf_counter()
            cmp = compare(a, b, threads=args.threads)
            times.append(time.perf_counter() - t)
        found = {(l.layer, l.mismatches) for l in cmp.layers if l.mismatches}
        want = {}
        for _, name in planted:
            want[name] = want.get(name, 0) + 1
        ok = found == set(want.items()) and cmp.first_mismatch.frame == min(f for f, _ in planted)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        best = min(times)
        print(f"fixsim compare: {times[0]:.2f} s, {times[1]:.2f} s -> {n / best:,.0f} frames/s, "
              f"{2 * side_bytes / best / 1e9:.2f} GB/s of taps; target 10 s for 100k frames: "
              f"{best * 100_000 / n / TARGET_S:.2f}x the budget "
              f"({'MET' if best * 100_000 / n <= TARGET_S else 'NOT MET'})")
        print(f"planted differences found exactly: {ok} ({sorted(found)})")
        print(f"peak RSS {rss:.2f} GB (memory maps are paged in and out by the kernel)")
        m = min(args.baseline_frames, n)
        t = time.perf_counter()
        numpy_baseline(a.taps, b.taps, m)
        tn = (time.perf_counter() - t) * n / m
        t = time.perf_counter()
        compare(Result("a", "s", spec, {k: v[:m] for k, v in a.taps.items()}, True),
                Result("b", "s", spec, {k: v[:m] for k, v in b.taps.items()}, True),
                threads=args.threads)
        tf = (time.perf_counter() - t) * n / m
        a64 = {k: np.asarray(v[:m], dtype=np.int64) for k, v in a.taps.items()}
        b64 = {k: np.asarray(v[:m], dtype=np.int64) for k, v in b.taps.items()}
        t = time.perf_counter()
        compare(Result("a", "s", spec, a64, True), Result("b", "s", spec, b64, True),
                threads=args.threads)
        t64 = (time.perf_counter() - t) * n / m
        print(f"same run, first {m} frames, extrapolated to {n}: numpy baseline {tn:.1f} s, "
              f"fixsim {tf:.1f} s ({tn / tf:.1f}x faster), fixsim on int64 in memory {t64:.1f} s")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
