"""Latency certification: does a design meet a cycle budget at a clock?

A :class:`Budget` is a number of cycles at a clock (default 9,000 cycles at 200 MHz,
i.e. 45 us on the KCU1500).  :func:`certify` checks every piece of evidence given to it
(synthesis estimates, co-simulation measurements, hardware cycle-counter statistics,
resource use) and returns a :class:`Verdict`.  Unknown evidence never passes: an
``undef`` latency or interval is a failure, and a check that cannot be decided (e.g. a
co-simulation in which no language ran) makes the verdict ``unknown`` at best.

>>> b = Budget.from_time(45.015, clock_mhz=200)
>>> b.cycles, b.period_ns
(9003, 5.0)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Optional

from .._validate import check_int, check_number
from ..errors import InputError
from .model import RESOURCE_KEYS, CosimReport, SynthReport
from .parts import DEFAULT_PART, device_of, part_resources

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
_CLOCK_TOL_NS = 1e-6


def _positive_int(value, name: str) -> int:
    return check_int(name, value, minimum=1)


@dataclass(frozen=True)
class Budget:
    """A latency budget: ``cycles`` at ``clock_mhz``.

    Parameters
    ----------
    cycles : int
        Largest allowed latency in cycles of the budget clock.
    clock_mhz : float
        The clock the cycles are counted at.
    interval_cycles : int, optional
        Largest allowed initiation interval; default ``cycles`` (one frame at a time).
    part : str or None
        The part the design must target; None skips the part check.
    max_utilization : float
        Largest allowed use of each resource, in percent of the part.

    Raises
    ------
    InputError
        For a non-positive cycle count, clock, or utilization limit.
    """

    cycles: int = 9000
    clock_mhz: float = 200.0
    interval_cycles: Optional[int] = None
    part: Optional[str] = DEFAULT_PART
    max_utilization: float = 100.0

    def __post_init__(self):
        object.__setattr__(self, "cycles", _positive_int(self.cycles, "budget cycles"))
        if self.interval_cycles is not None:
            object.__setattr__(self, "interval_cycles",
                               _positive_int(self.interval_cycles, "budget interval cycles"))
        check_number("clock (MHz)", self.clock_mhz, minimum=0, exclusive_min=True)
        check_number("max utilization (%)", self.max_utilization, minimum=0, maximum=100,
                     exclusive_min=True)

    @classmethod
    def from_time(cls, microseconds: float, clock_mhz: float = 200.0, **kwargs) -> "Budget":
        """The budget of ``microseconds`` at ``clock_mhz``: floor(us * MHz) cycles, exactly."""
        check_number("budget time (us)", microseconds, minimum=0, exclusive_min=True)
        check_number("clock (MHz)", clock_mhz, minimum=0, exclusive_min=True)
        cycles = math.floor(Fraction(str(microseconds)) * Fraction(str(clock_mhz)))
        if cycles <= 0:
            raise InputError(f"{microseconds} us at {clock_mhz} MHz is less than one cycle")
        return cls(cycles=cycles, clock_mhz=float(clock_mhz), **kwargs)

    @property
    def period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    @property
    def interval_limit(self) -> int:
        return self.interval_cycles if self.interval_cycles is not None else self.cycles

    def describe(self) -> str:
        """E.g. ``"9000 cycles at 200 MHz (5 ns clock) = 45 us"``."""
        return (f"{self.cycles} cycles at {self.clock_mhz:g} MHz ({self.period_ns:g} ns clock)"
                f" = {self.cycles / self.clock_mhz:g} us")


@dataclass(frozen=True)
class Check:
    """One decided (or undecidable) comparison: measured value against a threshold."""

    name: str
    status: str
    measured: object
    threshold: object
    detail: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`certify`: ``status`` is ``pass``, ``fail`` or ``unknown``."""

    status: str
    reasons: tuple
    checks: tuple
    budget: Budget

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict:
        """The status, the reasons, the threshold and clock, every check and the budget."""
        return {
            "status": self.status, "reasons": list(self.reasons),
            "threshold_cycles": self.budget.cycles, "clock_mhz": self.budget.clock_mhz,
            "clock_period_ns": self.budget.period_ns,
            "interval_threshold_cycles": self.budget.interval_limit,
            "budget": asdict(self.budget), "checks": [asdict(c) for c in self.checks],
        }

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, default=str)


def _cycles_at_budget(cycles: int, period_ns: Optional[float], budget: Budget):
    """Cycles of the design clock expressed in budget-clock cycles (rounded up)."""
    if period_ns is None or abs(period_ns - budget.period_ns) < _CLOCK_TOL_NS:
        return cycles, ""
    converted = math.ceil(cycles * period_ns / budget.period_ns - 1e-9)
    return converted, (f" ({cycles} cycles of the design's {period_ns:g} ns clock = "
                       f"{cycles * period_ns:g} ns = {converted} budget cycles)")


def _bound(name, value, limit, what, budget, period_ns=None, source="") -> Check:
    if value is None:
        return Check(name, FAIL, None, limit,
                     f"{what} is undef/unknown{source}: it cannot be certified (treated as a "
                     f"failure; fix variable loop bounds or add tripcount/latency constraints)")
    converted, note = _cycles_at_budget(value, period_ns, budget)
    ok = converted <= limit
    return Check(name, PASS if ok else FAIL, converted, limit,
                 f"{what} {converted} {'<=' if ok else '>'} {limit} cycles at "
                 f"{budget.clock_mhz:g} MHz{note}")


def _synth_checks(s: SynthReport, budget: Budget) -> list:
    src = f" in {s.source}" if s.source else ""
    period = s.target_clock_ns
    checks = [
        _bound("latency", s.latency_worst, budget.cycles, "worst-case latency", budget,
               period, src),
        _bound("interval", s.interval_max, budget.interval_limit, "maximum interval", budget,
               period, src),
    ]
    if period is None:
        checks.append(Check("target_clock", UNKNOWN, None, budget.period_ns,
                             f"target clock period not in the report{src}"))
    else:
        same = abs(period - budget.period_ns) < _CLOCK_TOL_NS
        checks.append(Check("target_clock", PASS if same else FAIL, period, budget.period_ns,
                            f"design target clock {period:g} ns "
                            f"{'equals' if same else 'differs from'} the budget clock "
                            f"{budget.period_ns:g} ns"))
    est = s.estimated_clock_ns
    if est is None or period is None:
        checks.append(Check("estimated_clock", UNKNOWN, est, period,
                             f"estimated or target clock period missing{src}"))
    else:
        ok = est <= period
        margin = "" if s.clock_uncertainty_ns is None else \
            f"; uncertainty {s.clock_uncertainty_ns:g} ns"
        checks.append(Check("estimated_clock", PASS if ok else FAIL, est, period,
                            f"estimated clock {est:g} ns {'<=' if ok else '>'} target "
                            f"{period:g} ns{margin}"))
    if budget.part is not None:
        if s.part is None:
            checks.append(Check("part", UNKNOWN, None, budget.part, f"no part{src}"))
        else:
            same = device_of(s.part) == device_of(budget.part)
            checks.append(Check("part", PASS if same else FAIL, s.part, budget.part,
                                f"report part {s.part} {'is' if same else 'is not'} the "
                                f"budget part {budget.part}"))
    checks += _resource_checks(s, budget)
    return checks


def _resource_checks(s: SynthReport, budget: Budget) -> list:
    totals = dict(s.available)
    if any(totals.get(k) is None for k in RESOURCE_KEYS):
        table = part_resources(s.part, strict=False) if s.part else None
        if table is None and s.part is None and budget.part is not None:
            table = part_resources(budget.part, strict=False)
        for key in RESOURCE_KEYS:
            if totals.get(key) is None and table is not None:
                totals[key] = table[key]
    checks = []
    for key in RESOURCE_KEYS:
        used, avail = s.resources.get(key), totals.get(key)
        name = f"resource_{key}"
        if used is None or avail is None:
            checks.append(Check(name, UNKNOWN, used, avail,
                                f"{key}: used {used}, available {avail}: cannot compare"))
            continue
        if avail == 0:
            ok = used == 0
            pct = 0.0 if ok else math.inf
        else:
            pct = 100.0 * used / avail
            ok = pct <= budget.max_utilization
        checks.append(Check(name, PASS if ok else FAIL, used, avail,
                            f"{key}: {used} of {avail} ({pct:.1f}%, limit "
                            f"{budget.max_utilization:g}%)"))
    return checks


def _cosim_checks(c: CosimReport, budget: Budget, period_ns: Optional[float]) -> list:
    if c.status == "Fail":
        failed = ", ".join(r.language for r in c.rows if r.status == "Fail")
        return [Check("cosim", FAIL, "Fail", "Pass", f"C/RTL co-simulation failed ({failed})")]
    if c.status == "NA":
        return [Check("cosim", UNKNOWN, "NA", "Pass",
                      "C/RTL co-simulation did not run in any RTL language (all NA)")]
    if c.latency_max is None:
        return [Check("cosim_latency", UNKNOWN, None, budget.cycles,
                      "co-simulation passed but reported no latency (NA)")]
    checks = [_bound("cosim_latency", c.latency_max, budget.cycles,
                     "co-simulation max latency", budget, period_ns)]
    if c.interval_max is not None:
        checks.append(_bound("cosim_interval", c.interval_max, budget.interval_limit,
                             "co-simulation max interval", budget, period_ns))
    return checks


def certify(budget: Budget = Budget(), synth: Optional[SynthReport] = None,
            cosim: Optional[CosimReport] = None, hw_p99_cycles: Optional[int] = None,
            hw_max_cycles: Optional[int] = None) -> Verdict:
    """Check every given piece of evidence against ``budget``.

    Parameters
    ----------
    budget : Budget
    synth : SynthReport, optional
        Synthesis estimates: worst-case latency, max interval, clocks, part, resources.
    cosim : CosimReport, optional
        Co-simulation: status and measured max latency/interval.
    hw_p99_cycles, hw_max_cycles : int, optional
        Statistics of a firmware cycle counter (first input beat to last output beat),
        counted at the budget clock.

    Returns
    -------
    Verdict
        ``fail`` if any check fails (unknown latency included), else ``unknown`` if any
        check is undecidable or no evidence was given, else ``pass``.

    Raises
    ------
    InputError
        For negative or non-integer hardware cycle counts.
    """
    checks = []
    if synth is not None:
        checks += _synth_checks(synth, budget)
    if cosim is not None:
        checks += _cosim_checks(cosim, budget, synth.target_clock_ns if synth else None)
    for name, value in (("hw_p99", hw_p99_cycles), ("hw_max", hw_max_cycles)):
        if value is None:
            continue
        value = check_int(f"{name} cycle count", value, minimum=0)
        checks.append(_bound(name, value, budget.cycles, f"hardware {name[3:]} latency",
                             budget))
    if not checks:
        return Verdict(UNKNOWN, ("no evidence given: nothing to certify against "
                                 f"{budget.describe()}",), (), budget)
    statuses = {c.status for c in checks}
    status = FAIL if FAIL in statuses else (UNKNOWN if UNKNOWN in statuses else PASS)
    reasons = [f"{c.status.upper()} {c.name}: {c.detail}" for c in checks if c.status != PASS]
    if status == PASS:
        reasons = [f"all {len(checks)} checks pass against {budget.describe()}"]
    else:
        reasons.insert(0, f"{status.upper()} against {budget.describe()}")
    return Verdict(status, tuple(reasons), tuple(checks), budget)
