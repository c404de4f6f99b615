"""Sweep results on disk: the table (JSON, CSV), the Pareto plots, the chosen spec, a manifest.

The table files hold only what the points determine (rows sorted by stage and grid
coordinates, floats written with 6 decimals, no times, no executor): the same points give
byte-identical ``sweep.json`` and ``sweep.csv`` whatever ran them.  ``manifest.json``
records the run (executor, computed and cached counts, seconds, the sha256 of every file).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .._files import atomic_path, sha256_file, write_text_atomic
from .._version import __version__

#: Columns of the CSV table, in order (label columns are inserted after ``key``).
METRICS = ("accuracy", "float_accuracy", "gap_pp", "agreement", "err_lsb_mean", "err_lsb_max",
           "multipliers", "dsp", "lut_multipliers", "lut", "ff", "bram36", "weight_bits",
           "cycles", "latency_us")
LABELS = ("stage", "width", "modes", "accum", "tensor", "margin")
STAGES = {"grid": 0, "search": 1, "combined": 2}


def _fmt(v):
    """Fixed float formatting (6 decimals) for the table; other values unchanged."""
    if isinstance(v, float):
        return float(f"{v:.6f}")
    return v


def _sort_key(row: dict) -> tuple:
    lab = row["label"]
    parts = [STAGES.get(lab.get("stage", "grid"), 9)]
    for k in LABELS[1:]:
        v = lab.get(k)
        parts.append((0, v, "") if isinstance(v, int) else (1, 0, "" if v is None else str(v)))
    return (*parts, row["key"])


def table_rows(rows, targets) -> list[dict]:
    """Rows in table order with fixed formatting and the ``meets`` flag."""
    out = []
    for r in sorted(rows, key=_sort_key):
        lab = {"stage": "grid", **r["label"]}
        row = {"key": r["key"], **{k: lab.get(k) for k in LABELS}}
        row.update({k: _fmt(r.get(k)) for k in METRICS})
        row["meets"] = bool(targets.meets(r))
        row["formats"] = r["formats"]
        out.append(row)
    return out


def table_json(result: dict, targets, record: dict) -> str:
    """The JSON table: inputs' record, targets, cost model, rows, best, minimal widths."""
    best = result["best"]
    doc = {"format": "fixsim-sweep/1", "fixsim_version": __version__, **record,
           "targets": targets.to_dict(),
           "base": {"key": result["base"]["key"], **{k: _fmt(result["base"].get(k))
                                                     for k in METRICS}},
           "best": None if best is None else {"key": best["key"], **{k: _fmt(best.get(k))
                                                                     for k in METRICS}},
           "minimal_widths": result.get("minimal_widths"),
           "rows": table_rows(result["rows"], targets)}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def table_csv(result: dict, targets) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["key", *LABELS, *METRICS, "meets"])
    for r in table_rows(result["rows"], targets):
        w.writerow([r["key"], *["" if r[k] is None else r[k] for k in LABELS],
                    *["" if r[k] is None else (f"{r[k]:.6f}" if isinstance(r[k], float) else r[k])
                      for k in METRICS], int(r["meets"])])
    return buf.getvalue()


def pareto_front(rows, cost: str) -> list[dict]:
    """Rows not dominated in (higher accuracy, lower ``cost``), by increasing cost."""
    pts = sorted((r for r in rows if r.get("accuracy") is not None),
                 key=lambda r: (r[cost], -r["accuracy"], r["key"]))
    front, best = [], -1.0
    for r in pts:
        if r["accuracy"] > best:
            front.append(r)
            best = r["accuracy"]
    return front


def pareto_png(path, result: dict, targets) -> None:
    """Accuracy against DSPs and against weight bits, every point and the Pareto front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if r.get("accuracy") is not None]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, cost, name in ((axes[0], "dsp", "DSP48E2 slices"),
                           (axes[1], "weight_bits", "weight memory (bits)")):
        ax.scatter([r[cost] for r in rows], [100 * r["accuracy"] for r in rows], s=14,
                   color="0.6", label="points")
        front = pareto_front(rows, cost)
        ax.step([r[cost] for r in front], [100 * r["accuracy"] for r in front], where="post",
                color="C0", label="Pareto front")
        ax.axhline(100 * targets.min_accuracy, color="C3", ls="--", lw=1, label="target")
        for r, style, lab in ((result["base"], "s", "base spec"), (result["best"], "*",
                                                                   "cheapest meeting targets")):
            if r is not None and r.get("accuracy") is not None:
                ax.plot(r[cost], 100 * r["accuracy"], style, ms=10, label=lab)
        ax.set_xlabel(name)
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"fixsim sweep: {len(rows)} points (fixsim {__version__})")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": f"fixsim {__version__}"})
    plt.close(fig)


def study_png(path, result: dict, targets) -> bool:
    """Accuracy against the uniform width (one line per modes/accumulator set) and, after a
    search, the minimal width of each tensor.  False (nothing written) without either."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [r for r in result["rows"] if isinstance(r["label"].get("width"), int)
            and r["label"].get("stage", "grid") == "grid" and r.get("accuracy") is not None]
    widths = result.get("minimal_widths")
    if not grid and not widths:
        return False
    fig, axes = plt.subplots(1, 2 if widths else 1, figsize=(11 if widths else 6, 4.2),
                             squeeze=False)
    ax = axes[0][0]
    series: dict = {}
    for r in grid:
        lab = r["label"]
        series.setdefault(f"modes {lab.get('modes')}, accum {lab.get('accum')}", []).append(r)
    for name, rs in sorted(series.items()):
        rs = sorted(rs, key=lambda r: r["label"]["width"])
        ax.plot([r["label"]["width"] for r in rs], [100 * r["accuracy"] for r in rs], "o-",
                ms=4, label=name)
    if grid:
        ax.plot(sorted({r["label"]["width"] for r in grid}),
                [100 * grid[0]["float_accuracy"]] * len({r["label"]["width"] for r in grid}),
                "k:", label="float")
        ax.legend(fontsize=7)
    ax.axhline(100 * targets.min_accuracy, color="C3", ls="--", lw=1)
    ax.set_xlabel("uniform width W (bits)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    if widths:
        ax2 = axes[0][1]
        names = list(widths)
        ax2.barh(range(len(names)), [widths[n] for n in names], color="C0")
        ax2.set_yticks(range(len(names)), names, fontsize=7)
        ax2.invert_yaxis()
        ax2.set_xlabel("narrowest width meeting the targets (others at the start)")
        ax2.grid(alpha=0.3, axis="x")
    fig.suptitle(f"fixsim sweep (fixsim {__version__})")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": f"fixsim {__version__}"})
    plt.close(fig)
    return True


def write_outputs(out_dir, result: dict, targets, record: dict, spec_text: str | None,
                  run_record: dict, plot: bool = True) -> dict:
    """Write sweep.json, sweep.csv, pareto.png, widths.png, cheapest_spec.json, manifest.json.

    Returns name -> path of the files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"sweep.json": table_json(result, targets, record),
             "sweep.csv": table_csv(result, targets)}
    if spec_text is not None:
        files["cheapest_spec.json"] = spec_text
    written = {}
    for name, text in files.items():
        write_text_atomic(out / name, text)
        written[name] = out / name
    if plot:
        pareto_png(out / "pareto.png", result, targets)
        written["pareto.png"] = out / "pareto.png"
        if study_png(out / "widths.png", result, targets):
            written["widths.png"] = out / "widths.png"
    manifest = {"format": "fixsim-sweep-manifest/1", "fixsim_version": __version__, **run_record,
                "inputs": record, "files": {n: sha256_file(p) for n, p in sorted(written.items())}}
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    written["manifest.json"] = out / "manifest.json"
    return written


__all__ = ["table_rows", "table_json", "table_csv", "pareto_front", "pareto_png", "study_png",
           "write_outputs", "METRICS", "LABELS"]
