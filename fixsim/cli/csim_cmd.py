"""``fixsim csim``: run the rtl/ HLS C++ of a network as C simulation (g++), write its taps.

    fixsim csim --model specklenn-snl --weights W.npz --inputs X.npy --out DIR [--n N]
    fixsim csim --model specklenn-snl --emit DIR          # write the HLS sources only

``DIR`` receives ``tap_<layer>.bin`` (int64 raw, little-endian, (N, *shape) C order) for
the input and every layer, and ``meta.json`` (shapes, formats, spec hash, sha256 of every
file).  With ``--compare`` the same frames also go through ``fixsim.network.run`` and the
exit status is 1 if any tap differs.  Exit 2 on bad input; outputs appear atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from .._files import atomic_dir, check_writable_output, sha256_file
from ..errors import InputError
from ._args import integer


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "csim", help="run the rtl/ HLS C++ of a network with g++ (C simulation), write taps",
        description="Run the rtl/ HLS C++ of a network as C simulation (g++ against the "
                    "ap_types headers) and write every layer's raw outputs (taps).")
    p.add_argument("--model", required=True, metavar="NAME|SPEC.json",
                   help="bundled spec name (e.g. specklenn-snl) or a spec JSON file")
    p.add_argument("--weights", metavar="W.npz",
                   help="raw int64 weights '<layer>.weight'/'<layer>.bias' (PyTorch layout); "
                        "float arrays are quantized to the spec formats first")
    p.add_argument("--inputs", metavar="X.npy",
                   help="frames (N, *input shape) or one frame: floats, or raw integer mantissas")
    p.add_argument("--out", metavar="DIR", help="output directory (created or replaced)")
    p.add_argument("--n", type=integer("--n", 1), metavar="N", help="use only the first N frames")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out or --emit directory")
    p.add_argument("--emit", metavar="DIR",
                   help="write the HLS sources (layer templates, configs, top, test bench) to DIR")
    p.add_argument("--compare", action="store_true",
                   help="also run fixsim.network.run and compare every tap (exit 1 on mismatch)")
    p.add_argument("--opt-level", type=int, default=2, choices=(0, 1, 2, 3),
                   help="g++ optimisation level -O0..-O3 (default 2)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run_command)


def _load_weights(spec, path: str) -> dict:
    from .._files import read_npz

    arrays = read_npz(path, "--weights")
    if arrays and all(a.dtype.kind == "f" for a in arrays.values()):
        from ..network.weights import quantize_weights

        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise InputError(f"--weights {path!r} holds NaN or inf values")
        return quantize_weights(spec, arrays)
    return arrays


def _load_inputs(spec, path: str, n: int | None) -> np.ndarray:
    from .._files import read_npy

    x = read_npy(path, "--inputs")
    if x.dtype.kind not in "fiu":
        raise InputError(f"--inputs {path!r} holds dtype {x.dtype}, expected float frames or "
                         "raw integer mantissas")
    if x.shape == tuple(spec.input_shape):
        x = x[None]
    elif (x.ndim == len(spec.input_shape) and spec.input_shape[0] == 1
          and x.shape[1:] == tuple(spec.input_shape[1:])):
        x = x[:, None]  # (N, H, W) or (N, L) frames of a one-channel input
    if x.ndim != 1 + len(spec.input_shape) or x.shape[1:] != tuple(spec.input_shape):
        raise InputError(f"--inputs {path!r} have shape {x.shape}, expected (N, "
                         f"{', '.join(map(str, spec.input_shape))})")
    if x.shape[0] == 0:
        raise InputError(f"--inputs {path!r} holds no frames")
    if n is not None:
        if n > x.shape[0]:
            raise InputError(f"--n {n} is larger than the {x.shape[0]} frames in {path!r}")
        x = x[:n]
    if x.dtype.kind == "f":
        from ..vectors.sources import warn_specials

        warn_specials(x, f"--inputs {path!r}")  # the same rule as `vectors gen`
    else:
        from ..fixed import check_raw

        try:
            check_raw(x, spec.input_format, "inputs")
        except InputError as exc:
            raise InputError(f"--inputs {path!r}: {exc}") from None
    return x


def _emit(spec, out: Path) -> list[str]:
    from ..csim.codegen import generate_testbench

    sources = generate_testbench([spec])
    with atomic_dir(out) as tmp:
        for name, text in sources.items():
            (tmp / name).write_text(text)
    return sorted(sources)


def run_command(args: argparse.Namespace) -> int:
    from ..csim import twin
    from ..csim.codegen import namespace_of, taps_of
    from ..network.spec import load_spec

    for opt in ("emit", "out"):
        value = getattr(args, opt)
        if value is not None:
            path = check_writable_output(value, args.force, f"--{opt}")
            if path.exists() and not path.is_dir():
                raise InputError(f"--{opt} {value!r} exists and is not a directory")
    spec = load_spec(args.model)
    if args.emit:
        files = _emit(spec, Path(args.emit))
        if not (args.weights or args.inputs or args.out):
            print(json.dumps({"emitted": files}) if args.json
                  else f"wrote {len(files)} HLS source files to {args.emit}")
            return 0
    for opt in ("weights", "inputs", "out"):
        if not getattr(args, opt):
            raise InputError(f"--{opt} is required to run the C simulation")
    weights = twin.check_weights(spec, _load_weights(spec, args.weights))
    x = _load_inputs(spec, args.inputs, args.n)
    t0 = time.perf_counter()
    tb = twin.build(spec, opt=f"-O{args.opt_level}")
    t1 = time.perf_counter()
    out = Path(args.out)
    with atomic_dir(out) as tmp:
        taps = twin.run_testbench(tb, namespace_of(spec.name), weights, x, workdir=tmp)
        t2 = time.perf_counter()
        meta = json.loads((tmp / "meta.json").read_text())
        for stale in list(tmp.iterdir()):
            if not stale.name.startswith("tap_") and stale.name != "meta.json":
                stale.unlink()  # the exchanged inputs/weights: their sha256 stays in meta
        meta["inputs_file"] = os.path.abspath(args.inputs)
        meta["weights_file"] = os.path.abspath(args.weights)
        meta["tap_formats"] = {"input": str(spec.input_format),
                               **{l.name: str(l.out_format) for l in spec.layers}}
        meta["tap_sha256"] = {f"tap_{t.name}.bin": sha256_file(tmp / f"tap_{t.name}.bin")
                              for t in taps_of(spec)}
        meta["seconds"] = {"build": round(t1 - t0, 3), "run": round(t2 - t1, 3)}
        summary = {"spec": spec.name, "n": int(x.shape[0]), "out": str(out),
                   "frames_per_s": round(x.shape[0] / max(t2 - t1, 1e-9), 2)}
        status = 0
        if args.compare:
            from ..network import run as fixsim_run

            ref = fixsim_run(spec, weights, x)
            diffs = {name: int(np.count_nonzero(np.asarray(ref[name]) != taps[name]))
                     for name in taps}
            meta["compare"] = diffs
            summary["mismatches"] = diffs
            status = 1 if any(diffs.values()) else 0
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if args.json:
        print(json.dumps(summary))
    else:
        line = (f"C simulation of {spec.name}: {summary['n']} frames, "
                f"{summary['frames_per_s']} frames/s, taps in {out}")
        if args.compare:
            bad = {k: v for k, v in summary["mismatches"].items() if v}
            line += ("; fixsim equal at every layer" if not bad
                     else f"; MISMATCH {', '.join(f'{k}: {v}' for k, v in bad.items())}")
        print(line)
    return status


__all__ = ["register", "run_command"]
