"""Read the text reports: ``csynth.rpt`` (both layouts) and ``cosim.rpt``.

The tools draw ASCII tables whose column positions change between versions (extra
"Violation Type" or "Total Execution Time" columns, spanning headers such as
"Latency (cycles)" over "min | max").  Columns are therefore found by *name*: each
leaf column of the last header row is named by joining the texts of every header cell
above it, e.g. ``"Latency (cycles) min"``, and body cells are assigned to leaf columns by
character position.

Layouts handled:

* ``== Vivado HLS Report for 'top'`` / ``== Vitis HLS Report for 'top'``: timing
  summary (Target/Estimated/Uncertainty), latency summary (min/max cycles, interval,
  pipeline type) and the utilization summary (Total/Available rows).
* ``== Synthesis Summary Report of 'top'`` (Vitis 2020.2+ ``csynth.rpt``): the first row
  of the "Modules & Loops" table; ``-`` in a resource column means none used.
* ``cosim.rpt``: one row per RTL language with Status and latency/interval min/avg/max.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ..errors import InputError
from .model import (CosimReport, CosimRow, SynthReport, canonical_resource, empty_resources,
                    parse_count, parse_time_ns)

_RULE = re.compile(r"^[+\-=\s]+$")


@dataclass(frozen=True)
class Table:
    """An ASCII table: leaf column names and body rows (lists of cell strings)."""

    columns: tuple
    rows: tuple
    line: int  # index of the first line of the table in the file

    def index(self, *words: str, start: bool = False) -> Optional[int]:
        """The first column whose normalized name contains (or starts with) all words."""
        for i, name in enumerate(self.columns):
            norm = _norm(name)
            if all(w in norm for w in words) and (not start or norm.startswith(words[0])):
                return i
        return None


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _cells(line: str, delimiters: str) -> list:
    """(start, end, text) of each cell between delimiter characters."""
    cuts = [i for i, ch in enumerate(line) if ch in delimiters]
    return [(a + 1, b, line[a + 1:b]) for a, b in zip(cuts, cuts[1:], strict=False)]


def _is_rule(line: str) -> bool:
    return line.lstrip().startswith("+") and bool(_RULE.match(line))


def _build_table(lines: list, first: int) -> Optional[Table]:
    """Build a table from consecutive table lines (header block, then body)."""
    rule_at = [i for i, line in enumerate(lines) if _is_rule(line)]
    if len(rule_at) < 2:
        return None
    header = [line for line in lines[rule_at[0] + 1:rule_at[1]]]
    body = [line for line in lines[rule_at[1] + 1:] if not _is_rule(line)]
    if not header:
        return None

    def header_cells(line):
        return _cells(line, "|+" if line.lstrip().startswith("+") else "|")

    leaves = header_cells(header[-1])
    names = []
    for lo, hi, _ in leaves:
        mid = (lo + hi) / 2
        parts = []
        for line in header:
            for a, b, t in header_cells(line):
                if a <= mid < b and not _RULE.match(t):
                    parts.append(t.strip())
        names.append(" ".join(p for p in parts if p))
    rows = []
    for line in body:
        if not line.lstrip().startswith("|"):
            continue
        row = [""] * len(leaves)
        for a, b, text in _cells(line.rstrip(), "|"):
            mid = (a + b) / 2
            for k, (lo, hi, _) in enumerate(leaves):
                if lo - 1 <= mid <= hi + 1:
                    row[k] = text.strip()
                    break
        rows.append(tuple(row))
    return Table(columns=tuple(names), rows=tuple(rows), line=first)


def parse_tables(text: str) -> list:
    """Every ASCII table in a report, in file order."""
    lines = text.splitlines()
    tables, i = [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith(("+", "|")):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith(("+", "|")):
                j += 1
            table = _build_table(lines[i:j], i)
            if table is not None:
                tables.append(table)
            i = j
        else:
            i += 1
    return tables


def _field(text: str, label: str) -> Optional[str]:
    match = re.search(rf"^\s*\*\s*{re.escape(label)}\s*:\s*(.*?)\s*$", text, re.M)
    return match.group(1) if match and match.group(1) else None


def _count(cell: Optional[str], where: str, pick: int = 0) -> Optional[int]:
    """A count cell; ``a ~ b`` ranges give element ``pick`` (0 = min, 1 = max)."""
    if cell is None:
        return None
    match = re.fullmatch(r"\s*([^\s~()]+)\s*~\s*([^\s~()]+)\s*", cell)
    parts = [match.group(1), match.group(2)] if match else [cell]
    try:
        return parse_count(parts[min(pick, len(parts) - 1)])
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _time(cell: Optional[str], where: str) -> Optional[float]:
    try:
        return parse_time_ns(cell)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _cell(table: Table, row: tuple, *words: str, start: bool = False) -> Optional[str]:
    i = table.index(*words, start=start)
    return None if i is None else row[i]


def _header_info(text: str) -> dict:
    match = re.search(r"==\s*(Vivado HLS|Vitis HLS) Report for '([^']*)'", text)
    summary = re.search(r"==\s*Synthesis Summary Report of '([^']*)'", text)
    version = _field(text, "Version")
    version_num = re.match(r"(\d{4}\.\d+(?:\.\d+)?)", version or "")
    tool = match.group(1) if match else ("Vitis HLS" if summary else None)
    top = match.group(2) if match else (summary.group(1) if summary else None)
    return dict(tool=tool, top=top, part=_field(text, "Target device"),
                tool_version=version_num.group(1) if version_num else version)


def _latency_columns(table: Table) -> tuple:
    """Latency min/max columns: "Latency (cycles) min", or plain "Latency min" (Vivado HLS
    to 2019 puts "(clock cycles)" in the section title instead)."""
    lo, hi = table.index("latency", "cycles", "min"), table.index("latency", "cycles", "max")
    if lo is None or hi is None:
        plain = [i for i, c in enumerate(table.columns)
                 if _norm(c) in ("latencymin", "latencymax")]
        if len(plain) == 2:
            lo, hi = plain
    return lo, hi


def _classic(text: str, tables: list, info: dict, name: str) -> dict:
    """Fields from the Vivado/Vitis "HLS Report for" layout."""
    out = {}
    for table in tables:
        if table.index("target") is not None and table.index("estimated") is not None \
                and table.rows:
            row = table.rows[0]
            out["target_clock_ns"] = _time(_cell(table, row, "target"), f"{name} timing")
            out["estimated_clock_ns"] = _time(_cell(table, row, "estimated"), f"{name} timing")
            out["clock_uncertainty_ns"] = _time(_cell(table, row, "uncertainty"),
                                                f"{name} timing")
            break
    for table in tables:
        lo, hi = _latency_columns(table)
        if lo is None or hi is None or not table.rows or table.index("instance") is not None:
            continue
        row = table.rows[0]
        out["latency_best"] = _count(row[lo], f"{name} latency")
        out["latency_worst"] = _count(row[hi], f"{name} latency", 1)
        out["latency_best_ns"] = _time(_cell(table, row, "latency", "absolute", "min"),
                                       f"{name} latency")
        out["latency_worst_ns"] = _time(_cell(table, row, "latency", "absolute", "max"),
                                        f"{name} latency")
        out["interval_min"] = _count(_cell(table, row, "interval", "min"), f"{name} interval")
        out["interval_max"] = _count(_cell(table, row, "interval", "max"), f"{name} interval", 1)
        kind = _cell(table, row, "pipeline")
        out["pipeline_type"] = kind or None
        break
    for table in tables:
        labels = {_norm(r[0]): r for r in table.rows if r}
        if "total" not in labels or not any(canonical_resource(c) for c in table.columns):
            continue
        used, avail = empty_resources(), empty_resources()
        for i, col in enumerate(table.columns):
            key = canonical_resource(col)
            if key is None:
                continue
            used[key] = _count(labels["total"][i], f"{name} utilization")
            if "available" in labels:
                avail[key] = _count(labels["available"][i], f"{name} utilization")
        out["resources"], out["available"] = used, avail
        break
    return out


def _summary(tables: list, name: str) -> dict:
    """Fields from the Vitis "Synthesis Summary" layout (top row of Modules & Loops)."""
    for table in tables:
        if table.index("modules") is None or not table.rows:
            continue
        row = table.rows[0]
        lat = _cell(table, row, "latency", "cycles")
        interval = _cell(table, row, "interval", start=True)
        out = dict(latency_best=_count(lat, f"{name} latency"),
                   latency_worst=_count(lat, f"{name} latency", 1),
                   interval_min=_count(interval, f"{name} interval"),
                   interval_max=_count(interval, f"{name} interval", 1))
        ns = _cell(table, row, "latency", "(ns)")
        if ns and not re.search(r"\d\s*~", ns):
            out["latency_best_ns"] = out["latency_worst_ns"] = _time(ns, f"{name} latency")
        used = empty_resources()
        for i, col in enumerate(table.columns):
            key = canonical_resource(col)
            if key is not None:
                # In this table '-' marks a resource the module does not use.
                used[key] = 0 if row[i] == "-" else _count(row[i], f"{name} resources")
        out["resources"] = used
        out["slack_ns"] = _time(_cell(table, row, "slack"), f"{name} slack")
        return out
    return {}


def parse_csynth_rpt(text: str, source: str = "") -> SynthReport:
    """Parse a csynth.rpt text report (either layout).

    Raises
    ------
    InputError
        If the text is not a synthesis report or a table cell is not a number.
    """
    name = source or "csynth.rpt"
    info = _header_info(text)
    if info["tool"] is None:
        raise InputError(f"{name}: not a csynth.rpt report (no \"HLS Report for\" or "
                         f"\"Synthesis Summary Report of\" header)")
    tables = parse_tables(text)
    if "Synthesis Summary Report of" in text and "HLS Report for" not in text:
        fields = _summary(tables, name)
    else:
        fields = _classic(text, tables, info, name)
    return SynthReport(kind="csynth.rpt", source=source, **info, **fields)


def parse_cosim_rpt(text: str, source: str = "", top: Optional[str] = None) -> CosimReport:
    """Parse a cosim.rpt text report.

    ``NA`` cells are None (not simulated, or a single transaction has no interval).

    Raises
    ------
    InputError
        If no table with RTL and Status columns is present.
    """
    name = source or "cosim.rpt"
    for table in parse_tables(text):
        rtl, status = table.index("rtl"), table.index("status")
        if rtl is None or status is None:
            continue
        rows = []
        for row in table.rows:
            if not row[rtl]:
                continue
            state = row[status]
            canon = {"pass": "Pass", "fail": "Fail", "na": "NA", "n/a": "NA"}.get(state.lower())
            if canon is None:
                raise InputError(f"{name}: unknown co-simulation status {state!r} for "
                                 f"{row[rtl]!r}; expected Pass, Fail or NA")

            def get(*words, table=table, row=row, rtl=rtl):  # called in this iteration only
                return _count(_cell(table, row, *words, start=True), f"{name} {row[rtl]}")

            rows.append(CosimRow(
                language=row[rtl], status=canon,
                latency_min=get("latency", "min"), latency_avg=get("latency", "avg"),
                latency_max=get("latency", "max"), interval_min=get("interval", "min"),
                interval_avg=get("interval", "avg"), interval_max=get("interval", "max"),
                total_cycles=get("total")))
        if rows:
            sim = re.search(r"^\s*Simulation tool\s*:\s*(\S+?)\.?\s*$", text, re.M)
            return CosimReport(rows=tuple(rows), top=top, source=source,
                               simulator=sim.group(1) if sim else None)
    raise InputError(f"{name}: not a cosim.rpt report (no table with RTL and Status columns)")
