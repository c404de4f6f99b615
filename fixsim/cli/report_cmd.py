"""``fixsim report``: summarize an HLS report file or solution directory.

Exit 0 when the report was read, 2 when the input is not a report.
"""

from __future__ import annotations

import json
from pathlib import Path


def run(args) -> int:
    from ..hls.model import SynthReport
    from ..hls.reports import find_solution_reports, load_report
    from ..hls.summary import cosim_summary, synth_summary

    path = Path(args.path)
    if path.is_dir():
        found = find_solution_reports(path, top=args.top)
        items = [r for r in (found.csynth, found.cosim) if r is not None]
        payload = {"solution_dir": found.solution_dir,
                   "csynth": found.csynth.to_dict() if found.csynth else None,
                   "cosim": found.cosim.to_dict() if found.cosim else None}
    else:
        report = load_report(path)
        if args.top is not None and report.top != args.top:
            from ..errors import InputError

            raise InputError(f"--top {args.top!r}: the report {str(path)!r} is of top "
                             f"{report.top!r}")
        items, payload = [report], report.to_dict()
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    texts = [synth_summary(r) if isinstance(r, SynthReport) else cosim_summary(r)
             for r in items]
    print("\n\n".join(texts))
    return 0


def register(sub):
    p = sub.add_parser(
        "report", help="summarize an HLS report (csynth.xml/.rpt, cosim.rpt or a solution dir)",
        description="Summarize latency (cycles and time), interval, clocks and resources of "
                    "a Vivado/Vitis HLS report, or of the top-level csynth.xml and cosim.rpt "
                    "found in a solution directory.")
    p.add_argument("path", help="csynth.xml, csynth.rpt, cosim.rpt, or a solution/project dir")
    p.add_argument("--top", help="top function when a directory holds several reports")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)
