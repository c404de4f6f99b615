"""Human-readable summaries of reports, verdicts and latency predictions (CLI text)."""

from __future__ import annotations

from typing import Optional

from .latency import Verdict
from .latency_model import Prediction
from .model import RESOURCE_KEYS, CosimReport, SynthReport


def _v(value, unit: str = "") -> str:
    return "undef" if value is None else f"{value:g}{unit}" if isinstance(value, float) \
        else f"{value}{unit}"


def _time(cycles: Optional[int], period_ns: Optional[float]) -> str:
    if cycles is None or period_ns is None:
        return ""
    ns = cycles * period_ns
    text = f"{ns / 1000:.3f} us" if ns >= 1000 else f"{ns:.3f} ns"
    return f" = {text} at {period_ns:g} ns"


def synth_summary(r: SynthReport) -> str:
    """A few lines: clocks, latency (cycles and time), interval, resource table."""
    tool = " ".join(x for x in (r.tool, r.tool_version) if x)
    lines = [f"{r.kind}: {r.source or '<text>'}" + (f"  ({tool})" if tool else ""),
             f"top       {r.top or '?'}    part {r.part or '?'}    pipeline "
             f"{r.pipeline_type or '?'}"]
    clk = f"clock     target {_v(r.target_clock_ns, ' ns')}"
    if r.target_clock_ns:
        clk += f" ({1000 / r.target_clock_ns:g} MHz)"
    clk += (f"   estimated {_v(r.estimated_clock_ns, ' ns')}   uncertainty "
            f"{_v(r.clock_uncertainty_ns, ' ns')}")
    if r.estimated_clock_ns is not None and r.target_clock_ns is not None:
        clk += "   [meets target]" if r.estimated_clock_ns <= r.target_clock_ns \
            else "   [VIOLATES target]"
    if r.slack_ns is not None:
        clk += f"   slack {r.slack_ns:g} ns"
    lines.append(clk)
    lat = (f"latency   best {_v(r.latency_best)}   avg {_v(r.latency_avg)}   worst "
           f"{_v(r.latency_worst)} cycles{_time(r.latency_worst, r.target_clock_ns)}")
    if r.latency_worst is None:
        lat += "   (worst case unknown: cannot be certified)"
    elif r.target_clock_ns is None and r.latency_worst_ns is not None:
        ns = r.latency_worst_ns
        lat += f" = {ns / 1000:.3f} us (tool's figure)" if ns >= 1000 else \
            f" = {ns:.3f} ns (tool's figure)"
    lines.append(lat)
    lines.append(f"interval  min {_v(r.interval_min)}   max {_v(r.interval_max)} cycles")
    util = r.utilization()
    lines.append(f"{'resource':<10}{'used':>10}{'available':>12}{'%':>8}")
    for key in RESOURCE_KEYS:
        pct = "" if util[key] is None else f"{util[key]:.1f}"
        avail = r.available.get(key)
        lines.append(f"  {key:<8}{_v(r.resources.get(key)):>10}"
                     f"{('?' if avail is None else str(avail)):>12}{pct:>8}")
    return "\n".join(lines)


def cosim_summary(c: CosimReport) -> str:
    """One line per RTL language, plus the overall status."""
    lines = [f"cosim.rpt: {c.source or '<text>'}   top {c.top or '?'}   status {c.status}",
             f"  {'RTL':<9}{'status':<8}{'latency min/avg/max':>26}{'interval min/avg/max':>26}"]
    for row in c.rows:
        lat = "/".join(_v(v).replace("undef", "NA") for v in
                       (row.latency_min, row.latency_avg, row.latency_max))
        ii = "/".join(_v(v).replace("undef", "NA") for v in
                      (row.interval_min, row.interval_avg, row.interval_max))
        lines.append(f"  {row.language:<9}{row.status:<8}{lat:>26}{ii:>26}")
    return "\n".join(lines)


def verdict_summary(v: Verdict) -> str:
    """Status line with the budget, then one line per check."""
    lines = [f"verdict: {v.status.upper()}   threshold {v.budget.cycles} cycles at "
             f"{v.budget.clock_mhz:g} MHz ({v.budget.period_ns:g} ns clock), interval <= "
             f"{v.budget.interval_limit} cycles"]
    for c in v.checks:
        lines.append(f"  {c.status.upper():<8}{c.name:<18}{c.detail}")
    if not v.checks:
        lines.extend(f"  {r}" for r in v.reasons)
    return "\n".join(lines)


def prediction_summary(p: Prediction, budget_cycles: int, budget_clock_mhz: float) -> str:
    """Per-layer table and the whole-network prediction against the budget."""
    lines = [f"{'layer':<9}{'kind':<10}{'out shape':<14}{'beats in':>9}{'mults':>7}"
             f"{'reuse':>6}{'busy':>7}{'first out':>10}{'last out':>10}"]
    for e in p.layers:
        shape = "x".join(str(s) for s in e.out_shape)
        lines.append(f"{e.name:<9}{e.kind:<10}{shape:<14}{e.beats_in:>9}{e.multipliers:>7}"
                     f"{e.reuse:>6}{e.busy_cycles:>7}{e.first_out:>10}{e.last_out:>10}")
    ok = p.latency_cycles <= budget_cycles
    lines += [
        f"predicted latency {p.latency_cycles} cycles = {p.latency_us:.3f} us at "
        f"{p.clock_mhz:g} MHz (dataflow {'on' if p.dataflow else 'off'}; without overlap "
        f"{p.sequential_cycles} cycles)",
        f"predicted interval {p.interval_cycles} cycles; {p.multipliers} multipliers; "
        f"{p.macs} MACs per inference",
        f"budget {budget_cycles} cycles at {budget_clock_mhz:g} MHz: "
        f"{'WITHIN' if ok else 'OVER'} ({100 * p.latency_cycles / budget_cycles:.1f}% of budget)",
    ]
    return "\n".join(lines)
