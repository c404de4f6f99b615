"""Plain values read from HLS reports: synthesis estimates and co-simulation results.

Every number a tool may leave undefined is ``None`` (the tool printed ``undef``, ``?``
or ``NA``, or the field is absent).  ``None`` means *unknown*, never zero: a verdict
built on these values must not pass on an unknown latency.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

from ..errors import InputError

#: The canonical resource names, in report order.
RESOURCE_KEYS = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")

# Names the tools have used for each canonical resource (upper-cased, no spaces).
_RESOURCE_ALIASES = {
    "BRAM_18K": "BRAM_18K", "BRAM18K": "BRAM_18K", "BRAM": "BRAM_18K",
    "DSP": "DSP", "DSP48E": "DSP", "DSP48": "DSP", "DSP48E1": "DSP", "DSP48E2": "DSP",
    "DSP58": "DSP",
    "FF": "FF", "LUT": "LUT", "URAM": "URAM",
}

_TIME_UNITS_NS = {"ps": 1e-3, "ns": 1.0, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9,
                  "sec": 1e9}
_UNKNOWN_WORDS = {"undef", "?", "na", "n/a", "", "-", "none"}


def canonical_resource(name: str) -> Optional[str]:
    """Return the canonical key for a tool's resource name, or None if not a resource.

    >>> canonical_resource("DSP48E"), canonical_resource("bram_18k"), canonical_resource("SLICE")
    ('DSP', 'BRAM_18K', None)
    """
    return _RESOURCE_ALIASES.get(name.strip().upper().replace(" ", ""))


def empty_resources() -> dict:
    """A resource dict with every canonical key unknown."""
    return {key: None for key in RESOURCE_KEYS}


def parse_count(text: Optional[str]) -> Optional[int]:
    """Parse a cycle or resource count; unknown words give None.

    >>> parse_count(" 1735 "), parse_count("undef"), parse_count("NA"), parse_count("3 (~0%)")
    (1735, None, None, 3)

    Raises
    ------
    InputError
        If the text is neither a count nor a known "unknown" marker.
    """
    if text is None:
        return None
    token = text.strip()
    if token.lower() in _UNKNOWN_WORDS:
        return None
    match = re.fullmatch(r"(\d+)(?:\s*\(.*\))?", token.replace(",", ""))
    if not match:
        raise InputError(f"expected a cycle/resource count, got {token!r}")
    return int(match.group(1))


def parse_time_ns(text: Optional[str], default_unit: str = "ns") -> Optional[float]:
    """Parse ``"3.475 us"``, ``"5.00 ns"``, ``"2.627e+06"`` into nanoseconds; unknown -> None.

    >>> parse_time_ns("3.475 us"), parse_time_ns("undef"), parse_time_ns("2.627 ms")
    (3475.0, None, 2627000.0)

    Raises
    ------
    InputError
        If the text is not a number with an optional time unit.
    """
    if text is None:
        return None
    token = text.strip()
    if token.lower() in _UNKNOWN_WORDS:
        return None
    match = re.fullmatch(r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*([a-zA-Zµ]*)", token)
    if not match:
        raise InputError(f"expected a time such as '5.00 ns', got {token!r}")
    unit = (match.group(2) or default_unit).lower()
    if unit not in _TIME_UNITS_NS:
        raise InputError(f"unknown time unit {unit!r} in {token!r}; "
                         f"expected one of {sorted(_TIME_UNITS_NS)}")
    return float(match.group(1)) * _TIME_UNITS_NS[unit]


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class SynthReport:
    """The summary of one C-synthesis report (csynth.xml or csynth.rpt).

    Attributes
    ----------
    kind : str
        ``"csynth.xml"`` or ``"csynth.rpt"`` (the file format it was read from).
    tool, tool_version : str or None
        ``"Vivado HLS"`` / ``"Vitis HLS"`` and e.g. ``"2020.1"`` when the file says so.
    part, top : str or None
        Target device and top function.
    target_clock_ns, clock_uncertainty_ns, estimated_clock_ns : float or None
        User clock period, its uncertainty, and the estimated achievable period.
    latency_best, latency_avg, latency_worst : int or None
        Whole-design latency in clock cycles; None when the tool printed ``undef``.
    latency_best_ns, latency_avg_ns, latency_worst_ns : float or None
        The tool's own ``*RealTimeLatency`` strings converted to nanoseconds.
    interval_min, interval_max : int or None
        Initiation interval in cycles.
    pipeline_type : str or None
        ``dataflow``, ``none``, ``pipeline``... as reported.
    slack_ns : float or None
        Timing slack of the top module (only the Vitis "Synthesis Summary" gives it).
    resources, available : dict
        Canonical keys :data:`RESOURCE_KEYS`; values are counts or None (unknown).
    source : str
        The path it was read from ("" when parsed from a string).
    """

    kind: str
    tool: Optional[str] = None
    tool_version: Optional[str] = None
    part: Optional[str] = None
    top: Optional[str] = None
    target_clock_ns: Optional[float] = None
    clock_uncertainty_ns: Optional[float] = None
    estimated_clock_ns: Optional[float] = None
    latency_best: Optional[int] = None
    latency_avg: Optional[int] = None
    latency_worst: Optional[int] = None
    latency_best_ns: Optional[float] = None
    latency_avg_ns: Optional[float] = None
    latency_worst_ns: Optional[float] = None
    interval_min: Optional[int] = None
    interval_max: Optional[int] = None
    pipeline_type: Optional[str] = None
    slack_ns: Optional[float] = None
    resources: dict = field(default_factory=empty_resources, hash=False)
    available: dict = field(default_factory=empty_resources, hash=False)
    source: str = field(default="", compare=False)

    def utilization(self) -> dict:
        """Percent of each available resource used (None where either side is unknown)."""
        out = {}
        for key in RESOURCE_KEYS:
            used, avail = self.resources.get(key), self.available.get(key)
            out[key] = None if used is None or not avail else 100.0 * used / avail
        return out

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return _jsonable(self)

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2)


@dataclass(frozen=True)
class CosimRow:
    """One RTL language's row of a co-simulation report.

    ``status`` is ``"Pass"``, ``"Fail"`` or ``"NA"`` (not simulated); counts are cycles,
    None where the report says NA (e.g. the interval of a single transaction).
    """

    language: str
    status: str
    latency_min: Optional[int] = None
    latency_avg: Optional[int] = None
    latency_max: Optional[int] = None
    interval_min: Optional[int] = None
    interval_avg: Optional[int] = None
    interval_max: Optional[int] = None
    total_cycles: Optional[int] = None


@dataclass(frozen=True)
class CosimReport:
    """A C/RTL co-simulation report: one :class:`CosimRow` per RTL language."""

    rows: tuple
    top: Optional[str] = None
    simulator: Optional[str] = None
    source: str = field(default="", compare=False)
    kind: str = "cosim.rpt"

    @property
    def status(self) -> str:
        """``"Fail"`` if any language failed, else ``"Pass"`` if any passed, else ``"NA"``."""
        statuses = {row.status for row in self.rows}
        if "Fail" in statuses:
            return "Fail"
        return "Pass" if "Pass" in statuses else "NA"

    @property
    def latency_max(self) -> Optional[int]:
        """Largest measured latency over the passing languages (None if none measured)."""
        values = [r.latency_max for r in self.rows if r.status == "Pass" and r.latency_max is not None]
        return max(values) if values else None

    @property
    def interval_max(self) -> Optional[int]:
        """Largest measured interval over the passing languages (None if none measured)."""
        values = [r.interval_max for r in self.rows
                  if r.status == "Pass" and r.interval_max is not None]
        return max(values) if values else None

    def to_dict(self) -> dict:
        """A JSON-ready dict, with the derived status and maxima."""
        out = _jsonable(self)
        out.update(status=self.status, latency_max=self.latency_max,
                   interval_max=self.interval_max)
        return out

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2)
