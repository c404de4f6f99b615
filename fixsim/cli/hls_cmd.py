"""``fixsim hls``: write/run HLS projects, predict and certify latency.

Subcommands: ``tcl`` (write the project only), ``run`` (write and run with the installed
tool), ``predict`` (analytical latency model), ``certify`` (reports against a budget).
Exit 0 pass, 1 fail/not run/unknown, 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._args import integer, number


def _positive_float(name: str):
    return number(name, 0, exclusive_min=True)


def _positive_int(name: str):
    return integer(name, 1)


def _nonneg_int(name: str):
    return integer(name, 0)


def _check_part(part: str) -> None:
    """An unknown part is an input error naming the closest known one ('none' skips)."""
    from ..hls.parts import part_resources

    if part.lower() != "none":
        part_resources(part)


def _check_out(args) -> None:
    """The project directory follows the one overwrite policy (--force to replace)."""
    from .._files import check_writable_output
    from ..errors import InputError

    out = check_writable_output(args.out, args.force, "--out")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {args.out!r} exists and is not a directory")


def _budget(args):
    from ..hls.latency import Budget
    extra = dict(interval_cycles=getattr(args, "interval_cycles", None),
                 max_utilization=getattr(args, "max_util", 100.0))
    if hasattr(args, "part"):
        _check_part(args.part)
        extra["part"] = None if args.part.lower() == "none" else args.part
    if args.budget_cycles is not None:
        return Budget(cycles=args.budget_cycles, clock_mhz=args.clock_mhz, **extra)
    return Budget.from_time(args.budget_us, clock_mhz=args.clock_mhz, **extra)


def _project(args):
    from ..hls.runner import HlsProject, parse_steps
    _check_part(args.part)
    _check_out(args)
    return HlsProject(top=args.top, sources=tuple(args.src), testbenches=tuple(args.tb or ()),
                      part=args.part, clock_mhz=args.clock_mhz, cflags=args.cflags,
                      tb_cflags=args.tb_cflags, steps=parse_steps(args.steps),
                      project_name=args.project_name, solution=args.solution)


def _tcl(args) -> int:
    from ..hls.runner import how_to_run, write_project
    out = write_project(_project(args), args.out)
    print(f"wrote {out}/run_hls.tcl and options.tcl; to run:\n{how_to_run(out)}")
    return 0


def _run(args) -> int:
    from ..hls.runner import run_project
    from ..hls.summary import cosim_summary, synth_summary
    result = run_project(_project(args), args.out, tool=args.tool, timeout=args.timeout)
    if args.json:
        print(json.dumps({
            "ok": result.ok, "project_dir": result.project_dir, "returncode": result.returncode,
            "tool": None if result.tool is None else result.tool.__dict__,
            "steps": [s.__dict__ for s in result.steps], "log": result.log_path,
            "reports": result.report_paths,
            "csynth": result.csynth.to_dict() if result.csynth else None,
            "cosim": result.cosim.to_dict() if result.cosim else None}, indent=2))
        return 0 if result.ok else 1
    if result.tool is None:
        print(f"wrote the project in {result.project_dir}; no Vitis HLS/Vivado HLS found on "
              f"PATH, so nothing ran. To run it:\n{result.how_to_run}")
    else:
        print(f"{result.tool.name} {result.tool.version or '(version unknown)'} exited with "
              f"code {result.returncode}; log {result.log_path}")
    for step in result.steps:
        text = step.detail if step.detail.startswith(step.status) else \
            f"{step.status}: {step.detail}"
        print(f"  {step.step:<7} {text}")
    for report in (result.csynth, result.cosim):
        if report is not None:
            print()
            print(synth_summary(report) if report.kind != "cosim.rpt" else cosim_summary(report))
    return 0 if result.ok else 1


def _predict(args) -> int:
    from ..hls.latency_model import SPECKLENN_LAYERS, load_layers, predict
    from ..hls.summary import prediction_summary
    from ..errors import InputError
    budget = _budget(args)
    try:
        layers = load_layers(args.layers) if args.layers else SPECKLENN_LAYERS
        p = predict(layers, clock_mhz=args.clock_mhz, input_ii=args.input_ii,
                    dataflow=not args.no_dataflow)
    except InputError as exc:
        if not args.layers or args.layers in str(exc):
            raise
        raise InputError(f"--layers {args.layers!r}: {exc}") from None
    within = p.latency_cycles <= budget.cycles
    if args.json:
        out = p.to_dict()
        out.update(budget_cycles=budget.cycles, budget_clock_mhz=budget.clock_mhz,
                   within_budget=within, model="specklenn-default" if not args.layers
                   else str(args.layers))
        print(json.dumps(out, indent=2))
    else:
        print(prediction_summary(p, budget.cycles, budget.clock_mhz))
    return 0 if within else 1


def _certify(args) -> int:
    from ..errors import InputError
    from ..hls.latency import certify
    from ..hls.model import CosimReport, SynthReport
    from ..hls.reports import find_solution_reports, load_report
    from ..hls.summary import verdict_summary
    synth = cosim = None
    for item in args.paths:
        if Path(item).is_dir():
            found = find_solution_reports(item)
            reports = [r for r in (found.csynth, found.cosim) if r is not None]
        else:
            reports = [load_report(item)]
        for report in reports:
            slot = "synth" if isinstance(report, SynthReport) else "cosim"
            if (synth if slot == "synth" else cosim) is not None:
                raise InputError(f"{item}: a second {report.kind} report; give one of each kind")
            if isinstance(report, CosimReport):
                cosim = report
            else:
                synth = report
    verdict = certify(_budget(args), synth, cosim, hw_p99_cycles=args.hw_p99,
                      hw_max_cycles=args.hw_max)
    print(verdict.to_json() if args.json else verdict_summary(verdict))
    return 0 if verdict.passed else 1


def _add_budget(p, part_default):
    p.add_argument("--clock-mhz", type=_positive_float("--clock-mhz"), default=200.0,
                   help="budget clock in MHz (default 200)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--budget-us", type=_positive_float("--budget-us"), default=45.0,
                       help="latency budget in microseconds (default 45)")
    group.add_argument("--budget-cycles", type=_positive_int("--budget-cycles"),
                       help="latency budget in cycles of the budget clock")
    if part_default:
        p.add_argument("--part", default=part_default,
                       help=f"part the design must target (default {part_default}; 'none' "
                            f"skips the check)")
        p.add_argument("--interval-cycles", type=_positive_int("--interval-cycles"),
                       help="largest allowed interval (default: the latency budget)")
        p.add_argument("--max-util", type=_positive_float("--max-util"), default=100.0,
                       help="largest allowed use of each resource, percent (default 100)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _add_project(p, with_run: bool):
    from ..hls.parts import DEFAULT_PART
    p.add_argument("--top", required=True, help="top function name")
    p.add_argument("--src", required=True, nargs="+", action="extend", help="design sources")
    p.add_argument("--tb", nargs="+", action="extend", help="test bench sources (with main)")
    p.add_argument("--part", default=DEFAULT_PART, help=f"FPGA part (default {DEFAULT_PART})")
    p.add_argument("--clock-mhz", type=_positive_float("--clock-mhz"), default=200.0,
                   help="target clock in MHz (default 200)")
    p.add_argument("--cflags", default="", help="compiler flags for the design sources")
    p.add_argument("--tb-cflags", default="", help="compiler flags for the test bench")
    p.add_argument("--steps", default="csynth",
                   help="comma-separated: csim,csynth,cosim,export (default csynth)")
    p.add_argument("--project-name", default="fixsim_hls_prj", help="HLS project name")
    p.add_argument("--solution", default="solution1", help="HLS solution name")
    p.add_argument("--out", required=True, help="project directory (created)")
    p.add_argument("--force", action="store_true", help="replace files in an existing --out")
    if with_run:
        p.add_argument("--tool", choices=("vitis-run", "vitis_hls", "vivado_hls"),
                       help="force one tool (default: the newest installed)")
        p.add_argument("--timeout", type=_positive_float("--timeout"),
                       help="seconds before stopping the tool")
        p.add_argument("--json", action="store_true", help="print JSON instead of text")


def register(sub):
    p = sub.add_parser("hls", help="HLS projects, latency prediction and certification",
                       description="Write and run Vitis/Vivado HLS projects, predict the "
                                   "latency of a streaming CNN, certify reports against a "
                                   "latency budget.")
    hs = p.add_subparsers(dest="hls_command", metavar="SUBCOMMAND",
                          parser_class=type(p))
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    tcl = hs.add_parser("tcl", help="write a Vitis/Vivado HLS Tcl project (do not run it)")
    _add_project(tcl, with_run=False)
    tcl.set_defaults(func=_tcl)

    run = hs.add_parser("run", help="write and run an HLS project with the installed tool")
    _add_project(run, with_run=True)
    run.set_defaults(func=_run)

    pred = hs.add_parser("predict", help="analytical latency of a streaming CNN "
                                         "(default: SpeckleNN) against the budget")
    pred.add_argument("--layers", help="JSON list of layer dicts (default: built-in SpeckleNN)")
    pred.add_argument("--input-ii", type=_positive_int("--input-ii"), default=1,
                      help="cycles between input pixels (default 1)")
    pred.add_argument("--no-dataflow", action="store_true",
                      help="run layers one after another (no overlap)")
    _add_budget(pred, part_default=None)
    pred.set_defaults(func=_predict)

    cert = hs.add_parser("certify", help="certify reports (and hardware counts) against a "
                                         "latency budget")
    cert.add_argument("paths", nargs="+", help="csynth report, cosim.rpt and/or solution dir")
    cert.add_argument("--hw-p99", type=_nonneg_int("--hw-p99"), help="hardware p99 latency, cycles")
    cert.add_argument("--hw-max", type=_nonneg_int("--hw-max"), help="hardware max latency, cycles")
    from ..hls.parts import DEFAULT_PART
    _add_budget(cert, part_default=DEFAULT_PART)
    cert.set_defaults(func=_certify)
