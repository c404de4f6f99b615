"""Write a certificate (from :func:`fixsim.verify.certify.certify`) as JSON and Markdown.

Both files are rendered completely in memory, written to temporary files next to their
destinations, and only then renamed into place, so an error never leaves a half-written
or mismatched pair behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._files import atomic_path
from ..errors import InputError

JSON_NAME, MD_NAME = "certificate.json", "certificate.md"


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _short(h) -> str:
    return f"`{h[:16]}...`" if isinstance(h, str) and len(h) > 16 else _fmt(h)


def _design_lines(cert: dict) -> list[str]:
    d = cert["design"]
    git = cert.get("fixsim_git") or {}
    out = []
    if "top" in d:
        out.append(f"- top function: {' or '.join(f'`{t}`' for t in d['top']['names'])} "
                   f"(from {d['top']['from']})")
    if "weight_image_sha256" in d:
        vs = d.get("vector_set") or {}
        out.append(f"- weight image sha256 {_short(d['weight_image_sha256'])}; vector set "
                   f"`{vs.get('path')}` manifest sha256 {_short(vs.get('manifest_sha256'))}")
    rtl = d.get("rtl_sources")
    if rtl:
        out.append(f"- rtl/ sources of the C simulation: {len(rtl['files'])} files, sha256 "
                   f"{_short(rtl['sha256'])}")
    if git:
        out.append(f"- fixsim git commit `{git.get('commit')}`"
                   + (" (uncommitted changes)" if git.get("dirty") else ""))
    return out


def _data_lines(cert: dict) -> list[str]:
    """The frames accuracy and agreement were measured on: simulated, or --data."""
    data, n = cert.get("data"), cert["accuracy"]["held_out"]["n"]
    if not data:
        return [f"- held-out seed {cert['seeds']['held_out']}, {n} frames"]
    src = data.get("source") or {}
    line = (f"- data: `{data.get('path')}` (sha256 {_short(data.get('sha256'))}), {n} of "
            f"{data.get('n')} frames, labels {'yes' if data.get('labels') else 'no'}")
    if src:
        line += f"; imported from `{src.get('file')}` (sha256 {_short(src.get('sha256'))})"
    out = [line]
    if not data.get("labels"):
        out.append("- accuracy: not measured (the data has no labels)")
    return out


def _evidence_lines(evidence: list) -> list[str]:
    if not evidence:
        return []
    lines = ["", "## Evidence", "", "| file | kind | sha256 | top | part | clock MHz |",
             "|---|---|---|---|---|---|"]
    for e in evidence:
        lines.append(f"| `{e.get('path')}` | {e.get('kind')} | {_short(e.get('sha256'))} | "
                     f"{_fmt(e.get('top'))} | {_fmt(e.get('part'))} | {_fmt(e.get('clock_mhz'))} |")
    return lines


def markdown(cert: dict) -> str:
    """The human-readable certificate."""
    d, acc, lat = cert["design"], cert["accuracy"], cert["latency"]
    lines = [f"# fixsim certificate: {cert['verdict']}", "",
             f"- design: spec `{d['spec']}` (sha256 `{d['spec_sha256'][:16]}...`)",
             f"- golden model: `{d['golden']['path']}` (manifest sha256 "
             f"`{d['golden']['manifest_sha256'][:16]}...`)",
             f"- created {cert['created_utc']} by fixsim {cert['fixsim_version']} in "
             f"{cert['run_seconds']} s; g++: {cert['tools'].get('g++') or 'not found'}",
             *_data_lines(cert), *_design_lines(cert), "", "## Reasons", ""]
    lines += [f"- {r}" for r in cert["reasons"]]
    lines += _evidence_lines(cert.get("evidence") or [])
    lines += ["", "## Checks", "", "| section | check | status | measured | threshold | detail |",
              "|---|---|---|---|---|---|"]
    for c in cert["checks"]:
        req = "" if c.get("required", True) else " (info)"
        detail = str(c["detail"]).replace("|", "\\|")
        lines.append(f"| {c['section']} | {c['name']} | {c['status'].upper()}{req} | "
                     f"{_fmt(c['measured'])} | {_fmt(c['threshold'])} | {detail} |")
    lines += ["", "## Accuracy per class", "", "| class | frames | float | fixed |", "|---|---|---|---|"]
    for name, row in acc["float"]["per_class"].items():
        fx = acc["fixed"]["per_class"].get(name, {}).get("accuracy")
        lines.append(f"| {name} | {row['n']} | {row['accuracy']:.4f} | "
                     f"{'-' if fx is None else f'{fx:.4f}'} |")
    lines += ["", f"Float engine: {acc['float']['engine']}. Fixed engine: {acc['fixed']['engine']}. "
              f"Rule: {acc['rule']}; support {acc['support']['source']}.", ""]
    if "prediction" in lat:
        p = lat["prediction"]
        lines += ["## Latency (not measured)", "",
                  f"Predicted {p['latency_cycles']} cycles = {p['latency_us']:.1f} us: {p['note']}.", ""]
    lines += [f"Budget: {lat['budget']['describe']}.", "",
              "Exit codes: 0 PASS, 1 FAIL or INCOMPLETE, 2 bad input.", ""]
    return "\n".join(lines)


def write_certificate(cert: dict, out_dir: "str | os.PathLike") -> tuple[Path, Path]:
    """Write ``certificate.json`` and ``certificate.md`` into ``out_dir`` (created).

    Raises
    ------
    InputError
        If ``out_dir`` exists and is not a directory.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a directory")
    text_json = json.dumps(cert, indent=2, default=str) + "\n"
    text_md = markdown(cert)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / JSON_NAME, out / MD_NAME
    with atomic_path(paths[0]) as tj, atomic_path(paths[1]) as tm:
        tj.write_text(text_json)
        tm.write_text(text_md)
    return paths


__all__ = ["write_certificate", "markdown", "JSON_NAME", "MD_NAME"]
