"""``fixsim certify``: accuracy, bit-exactness, latency and resources of a design, as a certificate.

    fixsim certify                                   # bundled defaults, ./certificate/
    fixsim certify --report solution1/ --out cert/   # with HLS synthesis/cosim evidence
    fixsim certify --hw hil_report.json              # with firmware cycle counts

Exit codes: 0 PASS, 1 FAIL or INCOMPLETE (e.g. latency not measured), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EPILOG = """\
verdict: PASS if every check passes; FAIL if any fails; INCOMPLETE if none fails but a
required check could not be made (latency is never assumed: without --report, --cosim or
--hw it is 'not measured').
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
        if not v > 0:
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
    p.add_argument("--n-eval", type=_positive(int), default=400, metavar="N",
                   help="held-out frames to simulate (default 400)")
    p.add_argument("--seed", type=int, default=2026, help="held-out simulation seed (default 2026)")
    p.add_argument("--min-accuracy", type=_fraction, default=0.90, help="default 0.90")
    p.add_argument("--max-gap-pp", type=float, default=1.0,
                   help="largest |float - fixed| accuracy gap in percentage points (default 1)")
    p.add_argument("--min-agreement", type=_fraction, default=0.99,
                   help="smallest same-decision rate of float and fixed (default 0.99)")
    p.add_argument("--report", metavar="PATH", help="HLS csynth report or solution directory")
    p.add_argument("--cosim", metavar="PATH", help="HLS cosim report (cosim.rpt)")
    p.add_argument("--hw", metavar="PATH", help="hardware result: fixsim hil report (.json) or "
                   "capture (.npz) with firmware cycle counts")
    p.add_argument("--top", help="top function (to pick reports in a solution directory)")
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
    p.add_argument("--json", action="store_true", help="print the certificate JSON on stdout")
    p.set_defaults(func=run_command)


def run_command(args) -> int:
    from ..errors import InputError
    from ..hls import Budget
    from ..verify.certificate import write_certificate
    from ..verify.certify import CertifyConfig, certify

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
    cfg = CertifyConfig(vectors=args.vectors, model=args.model, n_eval=args.n_eval,
                        seed=args.seed, min_accuracy=args.min_accuracy,
                        max_gap_pp=args.max_gap_pp, min_agreement=args.min_agreement,
                        budget=budget, report=args.report, cosim=args.cosim, hw=args.hw,
                        top=args.top, threads=args.threads, **kw)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[certify {time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    cert = certify(cfg, log=log)
    paths = write_certificate(cert, out)
    if args.json:
        print(json.dumps(cert, indent=2, default=str))
    else:
        print(f"fixsim certify: {cert['verdict']}")
        for c in cert["checks"]:
            print(f"  {c['status'].upper():<12} {c['section']}/{c['name']}: {c['detail']}")
        print(f"certificate: {paths[0]} and {paths[1]}")
    return 0 if cert["verdict"] == "PASS" else 1
