"""``fixsim profile``: value ranges against formats, conversion events, where fixed parts
from float, and the frames whose decision flips.

    fixsim profile golden --data heldout.h5 --out profile/ [--spec SPEC] [--lsb 1]

Exit codes: 0 profiled, 2 bad input.  docs: docs/study.md
"""

from __future__ import annotations

import json

from ._args import integer, number
from .sweep_cmd import add_inputs


def register(sub) -> None:
    p = sub.add_parser("profile", help="value ranges vs formats, saturation/rounding counts, "
                                       "divergence from float",
                       description="Profile a spec (default: the model's) on frames: per layer "
                                   "and tensor the float range against the format, the "
                                   "saturated/wrapped/rounded counts of the bit-exact run, the "
                                   "first layer that parts from float, flipped decisions.")
    add_inputs(p)
    p.set_defaults(frames=None)
    p.add_argument("--lsb", type=number("--lsb", 0), default=1.0,
                   help="divergence threshold in output LSBs (default 1)")
    p.add_argument("--max-frames", type=integer("--max-frames", 1), default=256,
                   help="frames profiled (taps of every layer are kept; default 256)")
    p.add_argument("--out", help="directory for profile.json, profile.txt and profile.png")
    p.add_argument("--no-plot", action="store_true", help="no profile.png")
    p.add_argument("--force", action="store_true", help="replace an existing --out directory")
    p.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    p.set_defaults(func=run)


def run(args) -> int:
    from .._files import check_dir_output, sha256_file, write_text_atomic
    from .._version import __version__
    from ..study.profile import box_png, profile, text_table

    if args.frames is None or args.frames > args.max_frames:
        args.frames = args.max_frames
    out = check_dir_output(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        from ..errors import InputError

        raise InputError(f"--out {args.out!r} exists; give --force to replace its profile")
    ctx, spec, record = load(args)
    prof = {"format": "fixsim-profile/1", "fixsim_version": __version__, "inputs": record,
            **profile(ctx, lsb_threshold=args.lsb)}
    table = text_table(prof)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "profile.txt", table)
        if not args.no_plot:
            box_png(out / "profile.png", prof)
        prof["files"] = {p.name: sha256_file(p) for p in sorted(out.glob("profile.*"))
                         if p.suffix in (".txt", ".png")}
        write_text_atomic(out / "profile.json", json.dumps(prof, indent=1, sort_keys=True) + "\n")
    print(json.dumps(prof, indent=1, sort_keys=True) if args.json else table, end="")
    return 0


def load(args):
    from .sweep_cmd import load_inputs

    return load_inputs(args, need_labels=False)
