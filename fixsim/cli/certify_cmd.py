"""``fixsim certify``: accuracy, bit-exactness, latency and resources of a design, as a certificate.

    fixsim certify                                   # bundled defaults, ./certificate/
    fixsim certify --report solution1/ --out cert/   # with HLS synthesis/cosim evidence
    fixsim certify --hw hil_report.json              # with firmware cycle counts
    fixsim certify --data frames.h5                  # on your own (imported) frames

Exit codes: 0 PASS, 1 FAIL or INCOMPLETE (e.g. latency not measured), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ._args import number, seed

EPILOG = """\
verdict: PASS if every check passes; FAIL if any fails; INCOMPLETE if none fails but a
required check could not be made (latency is never assumed: without --report, --cosim or
--hw it is 'not measured'). Evidence must be the design's: a report of another top,
part or clock, or a hardware result of other weights, another vector set, other outputs
or modelled cycles FAILs naming the mismatch.
exit codes: 0 PASS, 1 FAIL or INCOMPLETE, 2 bad input (one-line error).
docs: docs/compare_certify.md"""


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return v


def _positive(kind):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not (0 < v <= 2**63 - 1):  # also refuses nan, inf and what int64 cannot hold
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return v
    return parse


def register(subparsers) -> None:
    from ..hls.parts import DEFAULT_PART

    p = subparsers.add_parser(
        "certify", help="certify accuracy, bit-exactness, latency and resources (certificate)",
        description="Certify a design against the golden model: few-shot accuracy (float and "
                    "fixed) on a fresh held-out set, bit-exactness of fixsim, the vector set "
                    "and the g++ C simulation, latency from HLS reports or hardware, and "
                    "resources. Writes certificate.json and certificate.md.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--golden", metavar="DIR", help="golden model directory (default: golden/ "
                   "of the source tree or $FIXSIM_GOLDEN)")
    p.add_argument("--vectors", metavar="DIR", help="vector set (default: "
                   "vectors/specklenn-snl-default or $FIXSIM_VECTORS)")
    p.add_argument("--model", default="specklenn-snl", metavar="NAME|SPEC.json",
                   help="datapath spec (default specklenn-snl)")
    p.add_argument("--n-eval", type=_positive(int), default=None, metavar="N",
                   help="held-out frames to simulate (default 400); with --data the frames "
                        "of the file used (default all)")
    p.add_argument("--data", metavar="FRAMES.h5",
                   help="frames file (fixsim data import): accuracy (when it has labels; "
                        "else not measured), float-vs-fixed agreement and C-simulation "
                        "bit-exactness on these frames instead of simulated held-out frames")
    p.add_argument("--seed", type=seed(), default=2026,
                   help="held-out simulation seed (default 2026)")
    p.add_argument("--min-accuracy", type=_fraction, default=0.90, help="default 0.90")
    p.add_argument("--max-gap-pp", type=number("--max-gap-pp", 0, 100), default=1.0,
                   help="largest |float - fixed| accuracy gap in percentage points (default 1)")
    p.add_argument("--min-agreement", type=_fraction, default=0.99,
                   help="smallest same-decision rate of float and fixed (default 0.99)")
    p.add_argument("--report", metavar="PATH", help="HLS csynth report or solution directory")
    p.add_argument("--cosim", metavar="PATH", help="HLS cosim report (cosim.rpt)")
    p.add_argument("--hw", metavar="PATH", help="hardware result: fixsim hil report (.json) or "
                   "capture (.npz) of the certified vector set and weights, with bit-exact "
                   "outputs and firmware cycle counts")
    p.add_argument("--top", help="the design's top function, replacing the rtl codegen's 'top' "
                   "(recorded); also picks reports in a solution directory")
    p.add_argument("--clock-mhz", type=_positive(float), default=200.0, help="default 200")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--budget-us", type=_positive(float), default=45.0, help="default 45")
    g.add_argument("--budget-cycles", type=_positive(int), help="budget in cycles instead")
    p.add_argument("--part", default=DEFAULT_PART, help=f"FPGA part (default {DEFAULT_PART}; "
                   "'none' skips the part check)")
    p.add_argument("--max-util", type=_positive(float), default=100.0,
                   help="largest resource use in percent of the part (default 100)")
    p.add_argument("--threads", type=_positive(int), help="threads of the fixsim datapath")
    p.add_argument("--out", default="certificate", metavar="DIR",
                   help="certificate directory (default ./certificate)")
    p.add_argument("--force", action="store_true", help="replace a certificate in --out")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--json", action="store_true", help="print the certificate JSON on stdout")
    p.set_defaults(func=run_command)


def check_inputs(args) -> None:
    """Read every given input (and check the output) before certify starts its long run."""
    from .._files import check_writable_output, read_npz, read_text
    from ..errors import InputError
    from ..hls.parts import part_resources

    for opt in ("report", "cosim", "hw", "golden", "vectors", "data"):
        value = getattr(args, opt)
        if value is not None and not Path(value).exists():
            raise InputError(f"--{opt} {value!r} does not exist")
    if args.part.lower() != "none":
        part_resources(args.part)
    if args.top is not None and not (args.report or args.cosim):
        raise InputError(f"--top {args.top!r} applies to --report/--cosim evidence; none given")
    if args.top is not None and not args.top.strip():
        raise InputError("--top must name a function, got ''")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {args.out!r} exists and is not a directory")
    from ..verify.certificate import JSON_NAME, MD_NAME

    if out.is_dir():  # one overwrite policy: an existing certificate needs --force
        for name in (JSON_NAME, MD_NAME):
            check_writable_output(out / name, args.force, "certificate")
    elif not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"--out {args.out!r}: directory {str(out.parent)!r} does not exist")
    if args.model is not None:
        from ..network.spec import load_spec

        load_spec(args.model)
    if args.vectors is not None:
        from ..vectors.vectorset import load_vector_set

        load_vector_set(args.vectors, verify=True)
    if args.golden is not None and not (Path(args.golden) / "model.json").is_file():
        raise InputError(f"--golden {args.golden!r} is not a model directory (no model.json)")
    for opt in ("report", "cosim"):
        value = getattr(args, opt)
        if value is not None and not Path(value).is_dir():
            from ..hls.reports import load_report

            load_report(value)
    if args.hw is not None:
        if Path(args.hw).suffix == ".npz":
            read_npz(args.hw, "--hw")
        else:
            try:
                json.loads(read_text(args.hw, "--hw"))
            except ValueError as exc:
                raise InputError(f"--hw {args.hw!r} is neither an .npz capture nor a JSON "
                                 f"report ({exc})") from None


def run_command(args) -> int:
    from ..errors import InputError
    from ..hls import Budget
    from ..verify.certificate import write_certificate
    from ..verify.certify import CertifyConfig, certify

    check_inputs(args)  # every input read once before the long run: errors come first
    part = None if args.part.lower() == "none" else args.part
    if args.budget_cycles is not None:
        budget = Budget(cycles=args.budget_cycles, clock_mhz=args.clock_mhz, part=part,
                        max_utilization=args.max_util)
    else:
        budget = Budget.from_time(args.budget_us, clock_mhz=args.clock_mhz, part=part,
                                  max_utilization=args.max_util)
    for opt in ("report", "cosim", "hw", "golden", "vectors"):
        value = getattr(args, opt)
        if value is not None and not Path(value).exists():
            raise InputError(f"--{opt} {value!r} does not exist")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a directory")
    kw = {} if args.golden is None else {"golden": Path(args.golden)}
    cfg = CertifyConfig(vectors=args.vectors, model=args.model, n_eval=args.n_eval, data=args.data,
                        seed=args.seed, min_accuracy=args.min_accuracy,
                        max_gap_pp=args.max_gap_pp, min_agreement=args.min_agreement,
                        budget=budget, report=args.report, cosim=args.cosim, hw=args.hw,
                        top=args.top, threads=args.threads, **kw)
    data = None
    if args.data is not None:  # read and shape-checked once, before the long run
        from ..network.spec import load_spec
        from ..verify.data import load_data

        data = load_data(cfg, load_spec(args.model))
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        if args.quiet:
            return
        print(f"[certify {time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    from ..csim import twin
    from ..csim.build import background_build

    # The g++ build of the C simulation (first run only) overlaps the Numba compilation.
    with background_build(lambda: twin.build(cfg.model)):
        cert = certify(cfg, log=log, data=data)
    paths = write_certificate(cert, out)
    if args.json:
        print(json.dumps(cert, indent=2, default=str))
    else:
        print(f"fixsim certify: {cert['verdict']}")
        for c in cert["checks"]:
            print(f"  {c['status'].upper():<12} {c['section']}/{c['name']}: {c['detail']}")
        print(f"certificate: {paths[0]} and {paths[1]}")
    return 0 if cert["verdict"] == "PASS" else 1
