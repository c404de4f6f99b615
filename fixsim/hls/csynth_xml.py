"""Read and write ``csynth.xml``, the machine-readable C-synthesis summary.

Vivado HLS (to 2020.1) and Vitis HLS (2020.1 on) write the same ``<profile>`` document;
they differ in the DSP resource name (``DSP48E`` vs ``DSP``) and in optional elements
(``FlowTarget``, ``*RealTimeLatency``, ``DataflowPipelineThroughput``).  Elements are
looked up by name, in their expected section first and anywhere second, so neither
element order nor missing sections break the parser.  A value may be a scalar,
``undef`` (unknown -> None) or a nested ``<range><min/><max/></range>``.
"""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from typing import Optional

from ..errors import InputError
from .model import (RESOURCE_KEYS, SynthReport, canonical_resource, empty_resources,
                    parse_count, parse_time_ns)

_LATENCY_TAGS = {
    "latency_best": ("Best-caseLatency", "min"),
    "latency_avg": ("Average-caseLatency", None),
    "latency_worst": ("Worst-caseLatency", "max"),
    "interval_min": ("Interval-min", "min"),
    "interval_max": ("Interval-max", "max"),
}
_REALTIME_TAGS = {
    "latency_best_ns": "Best-caseRealTimeLatency",
    "latency_avg_ns": "Average-caseRealTimeLatency",
    "latency_worst_ns": "Worst-caseRealTimeLatency",
}
_SECTIONS = ("UserAssignments", "PerformanceEstimates", "AreaEstimates", "ReportVersion")


def _find(root: ET.Element, section: Optional[str], tag: str) -> Optional[ET.Element]:
    """The first ``tag`` inside ``section`` if there is one, else anywhere in the file."""
    if section is not None:
        for parent in root.iter(section):
            hit = parent.find(f".//{tag}")
            if hit is not None:
                return hit
    return next(root.iter(tag), None)


def _text(elem: Optional[ET.Element]) -> Optional[str]:
    if elem is None or elem.text is None:
        return None
    text = elem.text.strip()
    return text or None


def _count(elem: Optional[ET.Element], pick: Optional[str], what: str) -> Optional[int]:
    """A count element; a ``<range>`` gives its min or max (``pick``), or None."""
    if elem is None:
        return None
    rng = elem.find("range")
    try:
        if rng is not None:
            if pick is None:
                return None  # an average over a range is not in the report
            return parse_count(_text(rng.find(pick)))
        return parse_count(_text(elem))
    except InputError as exc:
        raise InputError(f"csynth.xml <{what}>: {exc}") from None


def _float(elem: Optional[ET.Element], what: str) -> Optional[float]:
    try:
        return parse_time_ns(_text(elem))
    except InputError as exc:
        raise InputError(f"csynth.xml <{what}>: {exc}") from None


def _resources(root: ET.Element, section: str) -> dict:
    out = empty_resources()
    for parent in root.iter(section):
        for child in parent:
            key = canonical_resource(child.tag)
            if key is not None and out[key] is None:
                out[key] = _count(child, "max", f"{section}/{child.tag}")
        break
    return out


def _tool_name(root: ET.Element, version: Optional[str]) -> Optional[str]:
    """Vivado HLS names the DSP resource DSP48E; Vitis HLS names it DSP and adds FlowTarget."""
    tags = {elem.tag for elem in root.iter()}
    if tags & {"DSP48E", "DSP48"}:
        return "Vivado HLS"
    if tags & {"DSP", "FlowTarget"}:
        return "Vitis HLS"
    match = re.match(r"(\d{4})\.(\d)", version or "")
    if match:
        return "Vivado HLS" if (int(match[1]), int(match[2])) < (2020, 2) else "Vitis HLS"
    return None


def parse_csynth_xml(data: "str | bytes", source: str = "") -> SynthReport:
    """Parse the text of a csynth.xml report.

    Parameters
    ----------
    data : str or bytes
        The whole file (any line endings).
    source : str
        Where it came from, used in messages and kept in the result.

    Returns
    -------
    SynthReport

    Raises
    ------
    InputError
        If the text is not well-formed XML or is not a csynth report.
    """
    name = source or "csynth.xml"
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, LookupError, ValueError) as exc:  # LookupError: bad encoding name
        raise InputError(f"{name}: malformed or truncated XML ({exc})") from None
    if root.tag != "profile" and not any(root.find(f".//{s}") is not None or root.tag == s
                                         for s in _SECTIONS):
        raise InputError(f"{name}: not an HLS csynth.xml report (root element "
                         f"<{root.tag}>, expected <profile>)")
    if not any(next(root.iter(s), None) is not None for s in _SECTIONS[:3]):
        raise InputError(f"{name}: no UserAssignments, PerformanceEstimates or "
                         f"AreaEstimates section: not a csynth.xml report")
    version = _text(_find(root, "ReportVersion", "Version"))
    fields = dict(
        kind="csynth.xml", tool=_tool_name(root, version), tool_version=version,
        part=_text(_find(root, "UserAssignments", "Part")),
        top=_text(_find(root, "UserAssignments", "TopModelName")),
        target_clock_ns=_float(_find(root, "UserAssignments", "TargetClockPeriod"),
                               "TargetClockPeriod"),
        clock_uncertainty_ns=_float(_find(root, "UserAssignments", "ClockUncertainty"),
                                    "ClockUncertainty"),
        estimated_clock_ns=_float(_find(root, "SummaryOfTimingAnalysis", "EstimatedClockPeriod"),
                                  "EstimatedClockPeriod"),
        pipeline_type=_text(_find(root, "PerformanceEstimates", "PipelineType")),
        resources=_resources(root, "Resources"),
        available=_resources(root, "AvailableResources"),
        source=source,
    )
    for attr, (tag, pick) in _LATENCY_TAGS.items():
        fields[attr] = _count(_find(root, "SummaryOfOverallLatency", tag), pick, tag)
    for attr, tag in _REALTIME_TAGS.items():
        fields[attr] = _float(_find(root, "SummaryOfOverallLatency", tag), tag)
    return SynthReport(**fields)


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "undef"
    return f"{value}{unit}"


def render_csynth_xml(report: SynthReport, *, newline: str = "\n",
                      shuffle: Optional[random.Random] = None,
                      dsp_name: Optional[str] = None) -> str:
    """Write a report as csynth.xml text (the subset of elements this module reads).

    Used to make fixtures and for ``parse(render(r)) == r`` tests.  ``shuffle`` reorders
    the children of every section; ``dsp_name`` overrides the DSP element name (default
    ``DSP48E`` for Vivado HLS, ``DSP`` otherwise).  Times are written in ns.
    """
    dsp = dsp_name or ("DSP48E" if report.tool == "Vivado HLS" else "DSP")

    def block(tag, children, indent=""):
        items = list(children)
        if shuffle is not None:
            shuffle.shuffle(items)
        return [f"<{tag}>", *items, f"</{tag}>"]

    def leaf(tag, value, unit=""):
        return f"<{tag}>{_fmt(value, unit)}</{tag}>"

    def optional(tag, value):
        return [] if value is None else [f"<{tag}>{value}</{tag}>"]

    user = ["<unit>ns</unit>", *optional("Part", report.part),
            *optional("TopModelName", report.top),
            *optional("TargetClockPeriod", report.target_clock_ns),
            *optional("ClockUncertainty", report.clock_uncertainty_ns)]
    if report.tool == "Vitis HLS":
        user.append("<FlowTarget>vivado</FlowTarget>")
    latency = ["<unit>clock cycles</unit>"]
    for attr, (tag, _) in _LATENCY_TAGS.items():
        latency.append(leaf(tag, getattr(report, attr)))
    for attr, tag in _REALTIME_TAGS.items():
        latency.append(leaf(tag, getattr(report, attr), " ns"))
    timing = ["<unit>ns</unit>", leaf("EstimatedClockPeriod", report.estimated_clock_ns)]
    perf = [*optional("PipelineType", report.pipeline_type),
            "\n".join(block("SummaryOfTimingAnalysis", timing)),
            "\n".join(block("SummaryOfOverallLatency", latency))]

    def resources(tag, values):
        names = {"DSP": dsp}
        # Every key is written (unknown as undef): the DSP element name tells the tool.
        return "\n".join(block(tag, [leaf(names.get(k, k), values.get(k))
                                     for k in RESOURCE_KEYS]))

    area = [resources("Resources", report.resources),
            resources("AvailableResources", report.available)]
    sections = []
    if report.tool_version is not None:
        sections.append("\n".join(block("ReportVersion", optional("Version", report.tool_version))))
    sections += ["\n".join(block("UserAssignments", user)),
                 "\n".join(block("PerformanceEstimates", perf)),
                 "\n".join(block("AreaEstimates", area))]
    if shuffle is not None:
        shuffle.shuffle(sections)
    text = "<profile>\n\n" + "\n\n".join(sections) + "\n\n</profile>\n"
    return text.replace("\n", newline)
