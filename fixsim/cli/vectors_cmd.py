"""``fixsim vectors``: generate, verify and show vector sets; build weight images.

::

    fixsim vectors gen --model specklenn-snl|SPEC.json --n N --source simulated|FILE --seed S
                       [--data FRAMES.h5 (instead of --source; --n defaults to all frames)]
                       --out DIR [--weights golden|random|FILE] [--word-bits 16|32|64] [--force] [--json]
    fixsim vectors verify DIR [--json]
    fixsim vectors show DIR [--json]
    fixsim vectors image --model M --weights golden|random|FILE --out FILE [--hdf5 FILE] [--seed S]

Exit codes: 0 good, 1 (verify) an expected output disagrees with fixsim.network.run,
2 malformed input (one line).
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._args import integer, seed


def register(subparsers) -> None:
    p = subparsers.add_parser("vectors", help="test-vector sets and weight images (docs/vectors.md)")
    vs = p.add_subparsers(dest="vectors_command", metavar="ACTION")

    g = vs.add_parser("gen", help="generate a vector set (inputs, weight image, every layer's outputs)")
    g.add_argument("--model", default="specklenn-snl", help="bundled spec name or spec JSON file")
    g.add_argument("--n", type=integer("--n", 1, 10_000_000),
                   help="number of frames (1 to 10000000; with --data default all its frames)")
    g.add_argument("--source", default=None,
                   help="'simulated' (default) or a file: .h5 (fixsim data simulate or "
                        "import), .cxi, .npy")
    g.add_argument("--data", metavar="FRAMES.h5",
                   help="frames file of fixsim data import (or data simulate): the frames, "
                        "labels when present, and its provenance in the manifest")
    g.add_argument("--seed", type=seed(), default=0,
                   help="data seed (and seed of random weights)")
    g.add_argument("--out", required=True, metavar="DIR", help="output directory (written atomically)")
    g.add_argument("--weights", default=None,
                   help="golden (the default; refused when missing), random, or a "
                   ".npz/.pt/.h5/.img file")
    g.add_argument("--word-bits", type=int, default=None, choices=(16, 32, 64),
                   help="weight-image word width (default: the smallest that fits)")
    g.add_argument("--force", action="store_true", help="replace an existing different set")
    g.add_argument("--json", action="store_true", help="print the manifest as JSON")
    g.set_defaults(func=gen_cmd)

    v = vs.add_parser("verify", help="check checksums, shapes, weight image and recompute every tap")
    v.add_argument("dir", metavar="DIR")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=verify_cmd)

    s = vs.add_parser("show", help="summarize a vector set")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--json", action="store_true", help="print the manifest")
    s.set_defaults(func=show_cmd)

    i = vs.add_parser("image", help="build a weight image (and optionally an HDF5 copy)")
    i.add_argument("--model", default="specklenn-snl")
    i.add_argument("--weights", default="golden", help="golden, random, or a .npz/.pt/.h5/.img file")
    i.add_argument("--seed", type=seed(), default=0, help="seed of random weights")
    i.add_argument("--out", required=True, metavar="FILE", help="weight image to write")
    i.add_argument("--hdf5", default=None, metavar="FILE", help="also export the weights as HDF5")
    i.add_argument("--word-bits", type=int, default=None, choices=(16, 32, 64))
    i.add_argument("--force", action="store_true", help="replace an existing --out/--hdf5 file")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=image_cmd)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _progress(total: int, enabled: bool):
    if not enabled or not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="frame", file=sys.stderr, leave=False)
    return bar, bar.update


def gen_cmd(args) -> int:
    from ..vectors.vectorset import MANIFEST, _command, generate_vector_set

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {args.out!r} exists and is not a directory")
    # Checked before the work: an existing directory that is not a vector set is replaced
    # only with --force (an identical set is kept, a different one needs --force too).
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file() and not args.force:
        raise InputError(f"--out {args.out!r} exists and holds other files; pass --force to "
                         "replace it")

    _data_source(args)
    # Simulation and the network each report every frame once.
    bar, update = _progress(2 * args.n if args.source == "simulated" else args.n, not args.json)
    try:
        cmd = _command(args.model, args.n, args.source, args.seed, args.weights)
        if args.word_bits is not None:
            cmd += f" --word-bits {args.word_bits}"
        vs = generate_vector_set(args.out, model=args.model, n=args.n, source=args.source,
                                 seed=args.seed, weights=args.weights, force=args.force,
                                 word_bits=args.word_bits, command=cmd, progress=update)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(vs.manifest, indent=2))
    else:
        from ..vectors.weight_io import describe_weights

        m = vs.manifest
        print(f"wrote {args.out}: {vs.n} frames of {vs.spec.name}, weights "
              f"{describe_weights(m['weights'])}, source {m['source']['kind']}, "
              f"{len(m['files']) + 1} files")
    return 0


def _data_source(args) -> None:
    """``--data FILE`` is ``--source FILE`` for a frames file; ``--n`` defaults to all frames."""
    if args.data is not None:
        if args.source is not None:
            raise InputError("give --data or --source, not both")
        path = Path(args.data)
        if path.suffix.lower() not in (".h5", ".hdf5"):
            raise InputError(f"--data {args.data!r} must be a frames file (.h5) of fixsim "
                             "data import; other files go to --source")
        if args.n is None:
            from ..data.frames_file import load_frames

            args.n = load_frames(path, verify=False).n
        args.source = args.data
    if args.source is None:
        args.source = "simulated"
    if args.n is None:
        raise InputError("--n is required (the number of frames), except with --data")


def _first_mismatch(expected: np.ndarray, actual: np.ndarray, start: int) -> dict:
    diff = np.flatnonzero((expected != actual).reshape(len(expected), -1).any(axis=1))
    k = int(diff[0])
    e, a = expected[k].reshape(-1), actual[k].reshape(-1)
    j = int(np.flatnonzero(e != a)[0])
    return {"sample": start + k, "index": j, "expected": int(e[j]), "actual": int(a[j])}


def verify_set(path, chunk: int = 512) -> dict:
    """Load ``path`` with full checks and recompute every tap with fixsim.network.run."""
    from ..network.engine import run
    from ..vectors.vectorset import load_vector_set

    vs = load_vector_set(path, verify=True)
    layers = {name: {"mismatches": 0, "first": None} for name in vs.taps}
    for start in range(0, vs.n, chunk):
        got = run(vs.spec, vs.weights, vs.inputs[start:start + chunk])
        for name, arr in vs.taps.items():
            exp = np.asarray(arr[start:start + chunk])
            bad = int((exp != got[name]).reshape(len(exp), -1).any(axis=1).sum())
            if bad:
                rec = layers[name]
                rec["mismatches"] += bad
                if rec["first"] is None:
                    rec["first"] = _first_mismatch(exp, got[name], start)
    ok = all(r["mismatches"] == 0 for r in layers.values())
    return {"verdict": "pass" if ok else "fail", "path": str(path), "n": vs.n,
            "model": vs.spec.name, "spec_sha256": vs.spec.spec_hash(),
            "files_checked": len(vs.manifest["files"]), "layers": layers}


def verify_cmd(args) -> int:
    rep = verify_set(args.dir)
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        print(f"{args.dir}: {rep['n']} frames of {rep['model']}: sha256 of {rep['files_checked']} "
              f"files, weight image, shapes OK")
        for name, r in rep["layers"].items():
            line = f"  {name:<10} {'OK' if not r['mismatches'] else 'MISMATCH'}"
            if r["first"]:
                f = r["first"]
                line += (f" ({r['mismatches']} samples differ; first: sample {f['sample']} index "
                         f"{f['index']} expected {f['expected']} fixsim {f['actual']})")
            print(line)
        print("PASS: every expected output equals fixsim.network.run" if rep["verdict"] == "pass"
              else "FAIL: expected outputs disagree with fixsim.network.run")
    return 0 if rep["verdict"] == "pass" else 1


def show_cmd(args) -> int:
    from ..vectors.vectorset import load_vector_set

    vs = load_vector_set(args.dir, verify=False)
    m = vs.manifest
    if args.json:
        print(json.dumps(m, indent=2))
        return 0
    w, src = m["weights"], m["source"]
    origin = (f" seed {src.get('data_seed')}" if src["kind"] == "simulated"
              else f" {src.get('file')} sha256 {src.get('sha256', '')[:16]}...")
    labels = "yes: " + ", ".join(vs.class_names or []) if vs.labels is not None else "no"
    frames = "float32 " + m["frames"]["file"] if vs.frames is not None else "no float frames"
    lines = [f"vector set {args.dir} ({m['format']}/{m['version']}, {m['generator']})",
             f"  command   {m['command']}",
             f"  model     {vs.spec.name} (spec sha256 {vs.spec.spec_hash()[:16]}...)",
             f"  frames    {vs.n}, input {m['input']['format']} {tuple(m['input']['shape'])}",
             f"  source    {src['kind']}{origin}",
             f"  weights   {w['kind']} -> {w['image']} ({w['word_bits']}-bit words, "
             f"crc32 {w['image_crc32']})",
             f"  labels    {labels}",
             f"  frames    {frames}",
             "  taps:"]
    lines += [f"    {t['layer']:<10} {t['format']:<32} {tuple(t['shape'])} {t['file']}" for t in m["taps"]]
    print("\n".join(lines))
    return 0


def image_cmd(args) -> int:
    from ..network.spec import load_spec
    from ..vectors.weight_image import describe, write_image
    from ..vectors.weight_io import export_hdf5, load_weights

    from .._files import atomic_path, check_writable_output

    # Both outputs are checked before anything is written, and both are renamed into
    # place only once both are complete: a failing --hdf5 leaves no .img behind.
    outs = [args.out] + ([args.hdf5] if args.hdf5 else [])
    for opt, value in zip(("--out", "--hdf5")[:len(outs)], outs, strict=True):
        if check_writable_output(value, args.force, opt).is_dir():
            raise InputError(f"{opt} {value!r} is a directory, expected a file path")
    if len({str(Path(p).resolve()) for p in outs}) != len(outs):
        raise InputError(f"--out and --hdf5 name the same file {args.out!r}")
    spec = load_spec(args.model)
    weights, record = load_weights(spec, args.weights, seed=args.seed)
    with contextlib.ExitStack() as stack:
        tmp_img = stack.enter_context(atomic_path(args.out, suffix=".img.tmp"))
        image = write_image(tmp_img, spec, weights, word_bits=args.word_bits)
        if args.hdf5:
            export_hdf5(stack.enter_context(atomic_path(args.hdf5, suffix=".h5.tmp")),
                        spec, weights)
    doc = {"image": args.out, "bytes": image.length, "crc32": f"{image.crc32:08x}",
           "word_bits": image.word_bits, "spec": spec.name, "spec_sha256": image.spec_hash,
           "weights": record, "hdf5": args.hdf5, "tensors": describe(image)}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        from ..vectors.weight_io import describe_weights

        print(f"wrote {args.out}: {len(image.tensors)} tensors, {image.length} bytes, "
              f"{image.word_bits}-bit words, crc32 {image.crc32:08x}, weights "
              f"{describe_weights(record)}")
    return 0
