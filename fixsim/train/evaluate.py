"""Few-shot evaluation of a model on a labelled set, and its plots."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._version import __version__
from .._files import atomic_path
from ..errors import InputError
from .dataset import LabelledFrames
from .fewshot import FewShotClassifier, select_support
from .metrics import accuracy_vs_fluence, classification_report


def evaluate(model, data: LabelledFrames, *, k: int, seed: int, rule: str = "nearest",
             normalize: bool = True, support: LabelledFrames | None = None) -> dict:
    """Classify ``data`` against ``k`` supports per class and report the accuracy.

    Parameters
    ----------
    model : torch.nn.Module
        An embedding model (inference or training variant).
    data : LabelledFrames
        Query frames. If ``support`` is None the supports are drawn from ``data`` (by
        ``seed``) and excluded from the queries.
    k, seed : int
        Supports per class and the seed of their choice.
    rule : {"nearest", "mean"}
    normalize : bool
        L2-normalize embeddings before distances.
    support : LabelledFrames, optional
        A separate labelled set to draw the supports from (same class names).

    Returns
    -------
    dict
        :func:`~fixsim.train.metrics.classification_report` plus ``rule``,
        ``support_per_class``, ``support_seed``, ``support_indices``, ``fluence``
        (accuracy per fluence bin, None if the data carry no fluence), data checksums
        and the fixsim version.
    """
    from .trainer import embed

    src = data if support is None else support
    if src.class_names != data.class_names:
        raise InputError(f"support classes {src.class_names!r} differ from the data's "
                         f"{data.class_names!r}")
    s_idx = select_support(src.labels, k, seed, len(src.class_names))
    clf = FewShotClassifier(embed(model, src.frames[s_idx]), src.labels[s_idx], rule=rule,
                            normalize=normalize)
    if support is None:
        query = data.subset(np.setdiff1d(np.arange(len(data)), s_idx))
    else:
        query = data
    if len(query) == 0:
        raise InputError("no query frames left after choosing the supports")
    pred = clf.predict(embed(model, query.frames))
    report = classification_report(query.labels, pred, data.class_names)
    fl = query.fluence()
    report["fluence"] = (None if fl is None else
                         {"source": fl[0], **accuracy_vs_fluence(query.labels, pred, fl[1])})
    report.update({
        "rule": rule, "normalize": normalize, "support_per_class": k, "support_seed": seed,
        "support_indices": s_idx.tolist(), "support_from": "data" if support is None else
        "support_data", "data_sha256": data.sha256,
        "support_sha256": src.sha256, "fixsim_version": __version__,
    })
    return report


#: Files :func:`write_plots` writes into its directory.
PLOT_FILES = ("confusion.png", "accuracy_vs_fluence.png")


def write_plots(report: dict, out_dir: "str | os.PathLike") -> list[str]:
    """Write ``confusion.png`` and ``accuracy_vs_fluence.png`` into ``out_dir`` (atomically).

    Returns the written paths (no fluence plot if the data carry no fluence). Needs
    matplotlib (the ``plots`` extra).
    """
    from .._files import require

    mpl = require("matplotlib", "plots")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    names = report["class_names"]
    cm = np.asarray(report["confusion_matrix"])
    frac = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow(frac, vmin=0, vmax=1, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center",
                color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{report['rule']}, k={report['support_per_class']}: "
                 f"accuracy {report['overall_accuracy']:.3f}")
    fig.colorbar(im, ax=ax, label="fraction of true class")
    fig.tight_layout()
    paths = [out / "confusion.png", out / "accuracy_vs_fluence.png"]
    with atomic_path(paths[0], suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)

    fl = report["fluence"]
    if fl is None:
        from .modeldir import umask_permissions

        umask_permissions(paths[0])
        return [str(paths[0])]
    edges = np.asarray(fl["edges"])
    centres = 0.5 * (edges[:-1] + edges[1:])
    acc = np.array([np.nan if a is None else a for a in fl["accuracy"]])
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(centres, acc, "o-")
    for x, a, n in zip(centres, acc, fl["count"], strict=True):
        if np.isfinite(a):
            ax.annotate(f"n={n}", (x, a), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7)
    if edges.min() > 0 and edges.max() > 5 * edges.min():
        ax.set_xscale("log")  # fluence spans decades; quantile bins are even in log
    ax.set_xlabel(fl["source"] + " (bin centre, quantile bins)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.set_title("few-shot accuracy vs fluence")
    fig.tight_layout()
    with atomic_path(paths[1], suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    from .modeldir import umask_permissions

    for p in paths:
        umask_permissions(p)
    return [str(p) for p in paths]
