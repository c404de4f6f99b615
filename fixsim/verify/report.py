"""Human-readable text of a :class:`~fixsim.verify.compare.Comparison`, and its PNG plots."""

from __future__ import annotations

import os
from pathlib import Path

from .compare import Comparison, LayerDiff

_STATUS = {"equal": "EQUAL", "within_tolerance": "WITHIN TOLERANCE", "different": "DIFFERENT"}


def _edge(e: float) -> str:
    return "inf" if e == float("inf") else f"{e:g}"


def _hist_text(edges, hist) -> str:
    """Non-empty bins as ``<=0.5:123 (0.5,1]:4 ...``."""
    parts, lo = [], None
    for e, c in zip(edges, hist, strict=True):
        if c:
            parts.append(f"{'<=' + _edge(e) if lo is None else f'({_edge(lo)},{_edge(e)}]'}:{c}")
        lo = e
    return " ".join(parts) or "-"


def comparison_text(c: Comparison) -> str:
    """The report printed by ``fixsim compare``."""
    lines = [f"A (expected): {c.a['source']} [{c.a['kind']}, {'fixed' if c.a['fixed'] else 'float'}, "
             f"{c.a['frames']} frames]",
             f"B (actual):   {c.b['source']} [{c.b['kind']}, {'fixed' if c.b['fixed'] else 'float'}, "
             f"{c.b['frames']} frames]",
             f"{c.mode}: {c.frames} common frames, {len(c.layers)} layers"
             + (f"; frames only in A: {len(c.only_a)}" if c.only_a else "")
             + (f"; frames only in B: {len(c.only_b)}" if c.only_b else "")]
    if c.mode == "fixed-fixed":
        lines.append(f"  {'layer':<10} {'format':<32} {'values':>12} {'mismatches':>11} "
                     f"{'frames':>7} {'max LSB':>8}")
        for l in c.layers:
            lines.append(f"  {l.layer:<10} {l.format:<32} {l.values:>12} {l.mismatches:>11} "
                         f"{l.frames_with_mismatch:>7} {l.max_diff_lsb:>8}")
        if c.first_mismatch is not None:
            lines.append(f"  first mismatch: {c.first_mismatch.line()}")
            for l in c.layers:
                if isinstance(l, LayerDiff) and l.first is not None and l.first is not c.first_mismatch:
                    lines.append(f"    first in {l.layer}: {l.first.line()}")
    else:
        unit = "LSB" if all(l.unit == "LSB" for l in c.layers) else "LSB/abs"
        what = "fixed - float" if c.mode == "fixed-float" else "B - A"
        lines.append(f"  error {what} in {unit} of the layer format")
        lines.append(f"  {'layer':<10} {'values':>12} {'max':>10} {'mean|e|':>9} {'rms':>9} "
                     f"{'bias':>9}  histogram of |e|")
        for l in c.layers:
            nf = f" non-finite:{l.nonfinite}" if l.nonfinite else ""
            lines.append(f"  {l.layer:<10} {l.values:>12} {l.max_abs_lsb:>10.4g} "
                         f"{l.mean_abs_lsb:>9.3g} {l.rms_lsb:>9.3g} {l.mean_lsb:>9.2g}  "
                         f"{_hist_text(l.hist_edges, l.hist)}{nf}")
    if c.embedding:
        e = c.embedding
        lines.append(f"  embedding {e['layer']} ({e['dim']}-d): L2 mean {e['l2']['mean']:.4g} "
                     f"p99 {e['l2']['p99']:.4g} max {e['l2']['max']:.4g} (frame {e['max_frame']}); "
                     f"relative to |A| mean {e['relative']['mean']:.3g} max {e['relative']['max']:.3g}")
    k = c.classification
    if k:
        if k.get("method") is None:
            lines.append(f"  classification: skipped ({k['reason']})")
        else:
            acc = (f"; accuracy A {k['accuracy_a']:.4f}, B {k['accuracy_b']:.4f}"
                   if "accuracy_a" in k else "")
            ids = (f" (frames {', '.join(map(str, k['disagreement_ids']))}"
                   f"{', ...' if k['disagreements'] > len(k['disagreement_ids']) else ''})"
                   if k["disagreements"] else "")
            lines.append(f"  classification ({k['method']}, {k['support']}): same decision "
                         f"{k['agreement']:.4%} of {k['n']}, {k['disagreements']} differ{ids}{acc}")
    tol = f" (tolerance {c.tolerance_lsb:g} LSB)" if c.status != "equal" else ""
    lines.append(f"{_STATUS[c.status]}{tol}")
    return "\n".join(lines)


def write_plots(c: Comparison, out_dir: "str | os.PathLike") -> list[str]:
    """PNG plots of a comparison into ``out_dir`` (created), each written atomically.

    ``layers.png``: mismatches per layer (fixed vs fixed) or the |error| histogram of every
    layer (otherwise); ``embedding_l2.png``: histogram of the per-frame embedding distance.
    Needs matplotlib (the ``plots`` extra).
    """
    from .._files import atomic_path, require

    require("matplotlib", "plots")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if c.mode == "fixed-fixed":
        ax.bar([l.layer for l in c.layers], [l.mismatches for l in c.layers], color="tab:red")
        ax.set_ylabel("mismatching values")
        ax.set_title(f"mismatches per layer ({c.frames} frames)")
    else:
        labels = ["<=0.5"] + [f"<={_edge(e)}" for e in c.layers[0].hist_edges[1:]]
        width = 0.8 / max(1, len(c.layers))
        for i, l in enumerate(c.layers):
            ax.bar([x + i * width for x in range(len(l.hist))], l.hist, width, label=l.layer)
        ax.set_xticks(range(len(labels)), labels, rotation=45)
        ax.set_yscale("log")
        ax.set_xlabel("|error| in LSBs")
        ax.set_ylabel("values")
        ax.legend(fontsize=8)
        ax.set_title(f"error per layer ({c.mode}, {c.frames} frames)")
    fig.tight_layout()
    with atomic_path(out / "layers.png", suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    written.append(str(out / "layers.png"))
    if c.l2 is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(c.l2, bins=50, color="tab:blue")
        ax.set_xlabel(f"L2 distance of the {c.embedding['layer']} embeddings")
        ax.set_ylabel("frames")
        fig.tight_layout()
        with atomic_path(out / "embedding_l2.png", suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        written.append(str(out / "embedding_l2.png"))
    return written


__all__ = ["comparison_text", "write_plots"]
