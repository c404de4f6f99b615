"""One entry point for every HLS report: a file of any supported kind, or a solution.

>>> from fixsim.hls.reports import parse_report
>>> r = parse_report(b"<profile><UserAssignments><TopModelName>f</TopModelName>"
...                  b"</UserAssignments></profile>")
>>> r.kind, r.top, r.latency_worst is None
('csynth.xml', 'f', True)
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from ..errors import InputError
from .csynth_xml import parse_csynth_xml
from .model import CosimReport, SynthReport
from .rpt_text import parse_cosim_rpt, parse_csynth_rpt

Report = Union[SynthReport, CosimReport]
_MAX_BYTES = 64 * 1024 * 1024  # reports are kilobytes; anything this big is not one


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:4096]:
        raise InputError(f"{name}: binary file, not an HLS report")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _top_from_name(name: str) -> Optional[str]:
    match = re.match(r"(.+?)_(?:cosim|csynth)\.(?:rpt|xml)$", os.path.basename(name))
    return match.group(1) if match else None


def parse_report(data: "bytes | str", name: str = "") -> Report:
    """Parse report text, recognising its kind from the content (not the file name).

    Parameters
    ----------
    data : bytes or str
        The whole report.
    name : str
        File name for messages; a ``<top>_cosim.rpt`` name also supplies the top.

    Returns
    -------
    SynthReport or CosimReport

    Raises
    ------
    InputError
        If the content is empty, binary, malformed, or not an HLS report.
    """
    label = name or "report"
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if not raw.strip():
        raise InputError(f"{label}: empty file, not an HLS report")
    text = _decode(raw, label)
    if text.lstrip().startswith("<"):
        return parse_csynth_xml(raw, name)
    if re.search(r"==\s*(?:Vivado HLS|Vitis HLS) Report for|==\s*Synthesis Summary Report of",
                 text):
        return parse_csynth_rpt(text, name)
    if re.search(r"\|\s*RTL\s*\|?|\+\s*RTL\s*\+", text) and "Status" in text:
        return parse_cosim_rpt(text, name, top=_top_from_name(name))
    raise InputError(f"{label}: not an HLS report (expected csynth.xml, csynth.rpt or "
                     f"cosim.rpt content)")


def load_report(path: "str | os.PathLike") -> Report:
    """Read and parse one report file (see :func:`parse_report`).

    Raises
    ------
    InputError
        If the file is missing, unreadable, too large, or not a report.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{str(path)!r} is not a file")
    if path.stat().st_size > _MAX_BYTES:
        raise InputError(f"{str(path)!r} is {path.stat().st_size} bytes: too large for an "
                         f"HLS report")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    return parse_report(data, str(path))


@dataclass(frozen=True)
class SolutionReports:
    """The top-level reports found in one HLS solution directory."""

    solution_dir: str
    csynth: Optional[SynthReport]
    cosim: Optional[CosimReport]
    csynth_path: Optional[str]
    cosim_path: Optional[str]


def _solution_dirs(root: Path, depth: int = 3) -> list:
    """Directories under ``root`` (itself included) that hold syn/report or sim/report."""
    found = []
    if (root / "syn" / "report").is_dir() or (root / "sim" / "report").is_dir():
        return [root]
    if depth == 0:
        return found
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return found
    for child in children:
        found += _solution_dirs(child, depth - 1)
    return found


def _project_top(solution: Path) -> Optional[str]:
    """The top function from the project's hls.app (written by both tools)."""
    app = solution.parent / "hls.app"
    if not app.is_file():
        return None
    try:
        root = ET.parse(app).getroot()
    except (ET.ParseError, OSError):
        return None
    for elem in root.iter():
        if elem.tag.endswith("project") and elem.get("top"):
            return elem.get("top")
    return None


def _pick(candidates: list, top: Optional[str], what: str, solution: Path) -> Optional[Path]:
    if not candidates:
        return None
    if top is not None:
        for cand in candidates:
            if cand.name.startswith(f"{top}_"):
                return cand
    if len(candidates) == 1:
        return candidates[0]
    names = ", ".join(c.name for c in candidates[:6])
    raise InputError(f"{solution}: several {what} reports ({names}) and no top function "
                     f"known; pass the report file itself")


def find_solution_reports(directory: "str | os.PathLike", top: Optional[str] = None
                          ) -> SolutionReports:
    """Locate and parse the top-level csynth.xml and cosim.rpt of a solution.

    ``directory`` may be the solution, its project, or a directory above (searched three
    levels deep; exactly one solution must be found).  The top function is ``top``, else
    the project's ``hls.app``, else Vitis' plain ``csynth.xml``, else the only report.

    Raises
    ------
    InputError
        If no solution, several solutions, or no report is found.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{str(root)!r} is not a directory")
    solutions = _solution_dirs(root)
    if not solutions:
        raise InputError(f"{str(root)!r}: no HLS solution (no syn/report or sim/report "
                         f"directory within three levels)")
    if len(solutions) > 1:
        names = ", ".join(str(s) for s in solutions[:5])
        raise InputError(f"{str(root)!r}: several HLS solutions ({names}); pass one")
    solution = solutions[0]
    top = top or _project_top(solution)
    syn = solution / "syn" / "report"
    xmls = sorted(syn.glob("*_csynth.xml")) if syn.is_dir() else []
    plain = syn / "csynth.xml"
    if top is None and plain.is_file():
        csynth_path = plain  # Vitis writes the top-level summary under this name too
    else:
        csynth_path = _pick(xmls, top, "csynth.xml", solution)
        if csynth_path is None and plain.is_file():
            csynth_path = plain
    if csynth_path is None and syn.is_dir():
        # No XML (deleted or never written): fall back to the text report of the top.
        rpts = sorted(syn.glob("*_csynth.rpt")) or sorted(syn.glob("csynth.rpt"))
        csynth_path = _pick(rpts, top, "csynth.rpt", solution)
    csynth = load_report(csynth_path) if csynth_path else None
    if csynth is not None and not isinstance(csynth, SynthReport):
        raise InputError(f"{csynth_path}: expected a csynth report")
    top = top or (csynth.top if csynth else None)
    sim = solution / "sim" / "report"
    rpts = sorted(sim.glob("*_cosim.rpt")) if sim.is_dir() else []
    cosim_path = _pick(rpts, top, "cosim.rpt", solution)
    cosim = load_report(cosim_path) if cosim_path else None
    if cosim is not None and not isinstance(cosim, CosimReport):
        raise InputError(f"{cosim_path}: expected a cosim.rpt report")
    if csynth is None and cosim is None:
        raise InputError(f"{solution}: no *_csynth.xml in syn/report and no *_cosim.rpt in "
                         f"sim/report")
    return SolutionReports(str(solution), csynth, cosim,
                           str(csynth_path) if csynth_path else None,
                           str(cosim_path) if cosim_path else None)
