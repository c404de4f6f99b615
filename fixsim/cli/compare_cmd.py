"""``fixsim compare A B``: compare two result sources layer by layer.

    fixsim compare vectors/specklenn-snl-default csim:vectors/specklenn-snl-default
    fixsim compare fixsim:DIR torch:DIR --tolerance-lsb 4 --plots plots/
    fixsim compare vectors:DIR cosim:run_dir --json
    fixsim compare float:DIR fixsim:DIR --data frames.h5   # on your own frames

Exit codes: 0 equal or within tolerance, 1 different, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._args import integer, number

EPILOG = """\
sources (KIND:PATH; a bare directory is a vector set):
  vectors:DIR  expected outputs of a vector set     fixsim:DIR  fixsim.network.run on the set
  float:DIR    float64 run, set weights dequantized torch:DIR   golden PyTorch model on the set
  csim:DIR     g++ C simulation of rtl/ on the set  cosim:PATH  cosim run dir (tap_*.bin) or FIXSIM_TAP log
  taps:DIR     tap_*.bin directory (fixsim csim)    hw:FILE     hardware capture .npz / hil report .json
A is the reference (expected), B the result under test (actual).
exit codes: 0 equal or within --tolerance-lsb, 1 different, 2 bad input.
docs: docs/compare_certify.md"""


#: Files fixsim.verify.report.write_plots writes (the one overwrite policy checks them).
PLOT_FILES = ("layers.png", "embedding_l2.png")

_nonneg = number("--tolerance-lsb", 0)
_threads = integer("--threads", 1, 1024)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", help="compare two result sources layer by layer (fixed/float/C-sim/HW)",
        description="Compare the per-layer outputs of two result sources: mismatches and the "
                    "first differing value (fixed vs fixed), errors in LSBs (fixed vs float), "
                    "embedding distances and classification agreement.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", metavar="A", help="reference result source (KIND:PATH)")
    p.add_argument("b", metavar="B", help="result source under test (KIND:PATH)")
    p.add_argument("--model", metavar="NAME|SPEC.json",
                   help="network of sources that do not name it (cosim logs, captures)")
    p.add_argument("--data", metavar="FRAMES.h5",
                   help="frames file (fixsim data import): fixsim:/float:/torch:/csim: run the "
                        "set's spec and weights on these frames instead of the set's inputs")
    p.add_argument("--layers", metavar="L1,L2", help="compare only these taps")
    p.add_argument("--tolerance-lsb", type=_nonneg, default=0.0, metavar="N",
                   help="largest |difference| in LSBs counted as equal (default 0)")
    p.add_argument("--golden", metavar="DIR", help="golden model for torch: sources")
    p.add_argument("--support", metavar="FILE|none",
                   help="support set .npz for the classification (default: the golden "
                        "support.npz when present; 'none': class centroids of labelled frames)")
    p.add_argument("--threads", type=_threads, help="worker threads (default: all CPUs)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--plots", metavar="DIR", help="write PNG plots into DIR (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--force", action="store_true", help="replace existing plots in --plots")
    p.set_defaults(func=run_command)


def run_command(args) -> int:
    from ..errors import InputError
    from ..verify import classify
    from ..verify.compare import compare
    from ..verify.defaults import default_support
    from ..verify.report import write_plots
    from ..verify.sources import SourceOptions, load_source, parse_source

    parse_source(args.a)
    parse_source(args.b)  # both checked before any (slow) loading
    layers = None if args.layers is None else [s for s in args.layers.split(",") if s]
    if layers == []:
        raise InputError(f"--layers {args.layers!r} names no layer")
    if args.golden is not None and not (Path(args.golden) / "model.json").is_file():
        raise InputError(f"--golden {args.golden!r} is not a model directory (no model.json)")
    if args.plots is not None:
        from .._files import require

        require("matplotlib", "plots")
        if Path(args.plots).exists() and not Path(args.plots).is_dir():
            raise InputError(f"--plots {args.plots!r} exists and is not a directory")
        parent = Path(args.plots).parent
        if not Path(args.plots).exists() and not parent.is_dir():
            raise InputError(f"--plots {args.plots!r}: directory {str(parent)!r} does not exist")
        for name in PLOT_FILES:
            if (Path(args.plots) / name).exists() and not args.force:
                raise InputError(f"--plots {args.plots!r} already holds {name}; pass --force "
                                 "to replace it")
    log = None if args.quiet else (lambda m: print(f"[compare] {m}", file=sys.stderr, flush=True))
    model = None
    if args.model is not None:
        from ..network import load_spec

        model = load_spec(args.model)
    if args.data is not None:
        from ..data.frames_file import load_frames

        load_frames(args.data)  # checked before any (slow) source
    opts = SourceOptions(model=model, golden=args.golden, threads=args.threads, log=log,
                         data=args.data)
    if args.support is None:
        support = classify.load_support(default_support()) if default_support().is_file() else None
    elif args.support.lower() == "none":
        support = None
    else:
        support = classify.load_support(args.support)
    a = load_source(args.a, opts)
    b = load_source(args.b, opts)
    result = compare(a, b, layers=layers, tolerance_lsb=args.tolerance_lsb, support=support,
                     threads=args.threads)
    if args.plots is not None:
        for path in write_plots(result, args.plots):
            if log:
                log(f"wrote {path}")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print(result.to_text())
    return result.exit_code
