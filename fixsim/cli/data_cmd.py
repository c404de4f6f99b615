"""``fixsim data``: simulate SPI datasets and inspect dataset files.

    fixsim data simulate --n 20000 --out data.h5 --seed 1 [--config cfg.json]
                         [--classes single_hit,multi_hit] [--workers 2] [--json]
    fixsim data info data.h5 [--json]
    fixsim data config [--out cfg.json]      # the default simulator config as JSON
    fixsim data import run.cxi -o frames.h5 [--dataset PATH] [--mask FILE]
                       [--mask-rect y0:y1,x0:x1]... [--center Y,X] [--crop 390] [--bin 6]
                       [--standardize] [--labels FILE] [--force] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._args import integer, seed


def register(sub):
    p = sub.add_parser("data", help="simulate SPI datasets, inspect dataset files")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda args: _usage(p))

    s = dsub.add_parser("simulate", help="simulate labelled, preprocessed SPI frames to HDF5")
    s.add_argument("--n", type=integer("--n", 1), required=True,
                   help="number of frames (>= 1; checked against memory and disk first)")
    s.add_argument("--out", required=True, help="output HDF5 file (written atomically)")
    s.add_argument("--force", action="store_true", help="replace an existing --out file")
    s.add_argument("--seed", type=seed(), default=0, help="seed (>= 0); same seed, same bytes")
    s.add_argument("--config", help="simulator config JSON (partial; see `fixsim data config`)")
    s.add_argument("--classes", help="comma-separated subset of single_hit,multi_hit,"
                                     "no_hit,non_sample_hit (default: all four)")
    s.add_argument("--workers", type=integer("--workers", 1),
                   help="simulation threads (default: usable CPUs)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(func=_simulate)

    i = dsub.add_parser("info", help="summarise a simulated dataset file")
    i.add_argument("file")
    i.add_argument("--no-verify", action="store_true", help="skip the frames checksum")
    i.add_argument("--json", action="store_true", help="print as JSON")
    i.set_defaults(func=_info)

    c = dsub.add_parser("config", help="print or write the default simulator config")
    c.add_argument("--out", help="write to this file instead of stdout")
    c.add_argument("--force", action="store_true", help="replace an existing --out file")
    c.set_defaults(func=_config)

    _register_import(dsub)


def _usage(parser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _simulate(args) -> int:

    from ..data.config import SimConfig
    from ..data.simulate import check_count, check_seed, resolve_classes
    from ..data.simulate import FrameSimulator
    from ..data.store import check_resources, write_dataset
    from ..errors import InputError
    from .._files import check_writable_output

    # validate everything before the (possibly long) run starts
    n = check_count(args.n, "--n")
    check_seed(args.seed)
    try:
        resolve_classes(args.classes)
    except InputError as exc:
        raise InputError(f"--classes {args.classes!r}: {exc}") from None
    if args.workers is not None:
        check_count(args.workers, "--workers")
    out = check_writable_output(args.out, args.force, "--out")
    if out.is_dir():
        raise InputError(f"--out {args.out!r} is a directory, expected a file path")
    config = SimConfig.from_json(args.config) if args.config else SimConfig()
    check_resources(out, n, FrameSimulator(config))
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=n, unit="frame", desc="simulate", file=sys.stderr)
    try:
        summary = write_dataset(args.out, n, args.seed, config, args.classes,
                                progress=bar.update if bar else None, workers=args.workers)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items())
        print(f"wrote {summary['path']}: {n} frames (seed {summary['seed']}; {counts}); "
              f"frames sha256 {summary['frames_sha256']}")
    return 0


def _info(args) -> int:
    import numpy as np

    from ..data.frames_file import FORMAT, file_format, load_frames
    from ..data.store import load_dataset

    if file_format(args.file) == FORMAT:
        return _info_imported(args, load_frames(args.file, verify=not args.no_verify))
    frames, labels, names, meta = load_dataset(args.file, verify=not args.no_verify)
    params = meta.pop("params")
    counts = {name: int((labels == k).sum()) for k, name in enumerate(names)}
    photons = {}
    if "photons" in params:
        for k, name in enumerate(names):
            sel = params["photons"][labels == k]
            if sel.size:
                photons[name] = {"median": float(np.median(sel)), "min": int(sel.min()),
                                 "max": int(sel.max())}
    info = {
        "file": args.file, "frames": list(frames.shape), "dtype": str(frames.dtype),
        "class_counts": counts, "photons_per_frame": photons,
        # Only what load_dataset actually recomputed is called verified.
        "checksum": ("skipped" if args.no_verify else "ok" if meta["verified"]
                     else "not verified (the file stores no checksum)"),
        "verified": meta["verified"],
        **{k: meta[k] for k in ("format", "fixsim_version", "seed", "classes",
                                "frames_sha256") if k in meta},
        "params": sorted(params),
    }
    if args.json:
        info["config"] = meta.get("config")
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key == "photons_per_frame":
            for name, st in value.items():
                print(f"photons {name:15s} median {st['median']:.0f}  "
                      f"min {st['min']}  max {st['max']}")
        else:
            print(f"{key:16s} {value}")
    return 0


def _info_imported(args, ff) -> int:
    """``data info`` of a frames file of ``data import``: provenance and preprocessing."""
    m = ff.meta
    counts = (None if ff.labels is None else
              {name: int((ff.labels == k).sum()) for k, name in enumerate(ff.class_names)})
    info = {"file": args.file, "format": m["format"], "frames": list(ff.frames.shape),
            "labels": counts if counts is not None else "none",
            "checksum": ("skipped" if args.no_verify else "ok" if m["verified"]
                         else "not verified (the file stores no checksum)"),
            "verified": m["verified"], "fixsim_version": m.get("fixsim_version"),
            "frames_sha256": m.get("frames_sha256"), "source": m.get("source"),
            "import": m.get("import"), "nonfinite": m.get("nonfinite"),
            "command": m.get("command")}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if isinstance(value, dict) and key in ("source", "import"):
            value = ", ".join(f"{k}={v}" for k, v in value.items() if v not in (None, [], ""))
        print(f"{key:16s} {value}")
    return 0


def _config(args) -> int:
    from ..data.config import SimConfig
    from .._files import write_text_atomic

    from .._files import check_writable_output

    text = SimConfig().to_json() + "\n"
    if args.out:
        check_writable_output(args.out, args.force, "--out")
        write_text_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def _register_import(dsub) -> None:
    m = dsub.add_parser(
        "import", help="detector runs (CXI/HDF5, .npy) into a frames file (--data of "
                       "vectors gen, compare, certify)",
        description="Preprocess detector frames (mask, crop around the beam centre, bin, "
                    "standardize: the preprocessing of the simulator and read_cxi) into a "
                    "frames file; every option is recorded in it. docs/data.md")
    m.add_argument("source", metavar="SRC", help="CXI/HDF5 file (.cxi/.h5/.hdf5/.nxs) or .npy "
                   "array of (N, H, W) frames")
    m.add_argument("-o", "--out", required=True, metavar="FRAMES.h5",
                   help="output frames file (written atomically)")
    m.add_argument("--dataset", metavar="PATH", help="frames dataset in an HDF5 source "
                   "(default: /entry_1/data_1/data or another usual CXI place)")
    m.add_argument("--mask", metavar="FILE", help="pixel mask (.npy or .h5), detector shape, "
                   "boolean or 0/1")
    m.add_argument("--mask-dataset", metavar="PATH", help="dataset of the mask in an .h5 --mask")
    m.add_argument("--mask-semantics", choices=("good", "bad"), default="good",
                   help="non-zero mask values mark good (default) or bad pixels")
    m.add_argument("--mask-rect", action="append", default=[], metavar="y0:y1,x0:x1",
                   help="rectangle of bad pixels, end excluded (repeatable)")
    m.add_argument("--center", "--centre", dest="center", metavar="Y,X",
                   help="beam centre in pixels (default: the file's image_center, else the "
                        "frame centre); places the --crop window")
    m.add_argument("--crop", type=integer("--crop", 1), metavar="N",
                   help="crop an N x N window around the beam centre (default: whole frame)")
    m.add_argument("--bin", type=integer("--bin", 1), default=1, metavar="B",
                   help="B x B block mean (default 1)")
    m.add_argument("--standardize", action="store_true",
                   help="per-image (x - mean) / std, as the model was trained")
    m.add_argument("--labels", metavar="FILE", help="class names or ids 0-3, one per frame "
                   "(.npy, .h5 or .csv)")
    m.add_argument("--force", action="store_true", help="replace an existing --out file")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.add_argument("--json", action="store_true", help="print the summary as JSON")
    m.set_defaults(func=_import)


def _import(args) -> int:
    from .._files import check_writable_output
    from ..data.importer import ImportOptions, import_frames, parse_centre, parse_rect
    from ..errors import InputError

    out = check_writable_output(args.out, args.force, "--out")
    if out.is_dir():
        raise InputError(f"--out {args.out!r} is a directory, expected a file path")
    for opt in ("source", "mask", "labels"):
        value = getattr(args, opt)
        if value is not None and not Path(value).is_file():
            name = "source" if opt == "source" else f"--{opt}"
            raise InputError(f"{name} {value!r} does not exist or is not a file")
    if Path(args.source).resolve() == out.resolve():
        raise InputError(f"--out {args.out!r} is the source file")
    opts = ImportOptions(
        dataset=args.dataset, mask=args.mask, mask_dataset=args.mask_dataset,
        mask_semantics=args.mask_semantics,
        mask_rects=tuple(parse_rect(r) for r in args.mask_rect),
        centre=None if args.center is None else parse_centre(args.center),
        crop=args.crop, bin=args.bin, standardize=args.standardize, labels=args.labels)
    command = " ".join(["fixsim", "data", "import"] + _recorded_argv(args))
    bar = None
    if not args.no_progress and not args.json and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(unit="frame", desc="import", file=sys.stderr, leave=False)
    try:
        summary = import_frames(args.source, out, opts, command=command,
                                progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        h, w = summary["frame_shape"]
        bad = summary["nonfinite"]
        print(f"wrote {summary['path']}: {summary['n']} frames of {h}x{w}, labels "
              f"{'yes' if summary['labels'] else 'no'}"
              + (f", {bad['nan'] + bad['inf']} non-finite values" if bad['nan'] + bad['inf']
                 else "")
              + f"; frames sha256 {summary['frames_sha256']}")
    return 0


def _recorded_argv(args) -> list:
    """The import's options as a command line (file names only, no --out)."""
    parts = [Path(args.source).name]
    for opt in ("dataset", "mask", "mask_dataset", "center", "crop", "labels"):
        value = getattr(args, opt)
        if value is not None:
            value = Path(value).name if opt in ("mask", "labels") else value
            parts += [f"--{opt.replace('_', '-')}", str(value)]
    if args.mask_semantics != "good":
        parts += ["--mask-semantics", args.mask_semantics]
    for r in args.mask_rect:
        parts += ["--mask-rect", r]
    if args.bin != 1:
        parts += ["--bin", str(args.bin)]
    if args.standardize:
        parts.append("--standardize")
    return parts
