"""``fixsim train`` and ``fixsim evaluate``: SpeckleNN triplet training and few-shot evaluation.

torch and matplotlib are imported inside the command functions only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputError
from ._args import integer, number, seed

#: Default support examples per class for few-shot evaluation.
DEFAULT_SUPPORT = 5


_threads = integer("--threads", 1, 1024)


def _nonneg_float(name):
    return number(name, 0)


def register(sub) -> None:
    p = sub.add_parser("train", help="train SpeckleNN (semi-hard triplet loss) on labelled frames",
                       description="Train SpeckleNN with semi-hard triplet loss; writes "
                       "checkpoints and a model directory (float + folded weights).")
    p.add_argument("--data", required=True, help="labelled frames (HDF5, fixsim.data format)")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--epochs", required=True, type=integer("--epochs", 1, 10**6))
    p.add_argument("--seed", required=True, type=seed(),
                   help="seed of init, batches, augmentation")
    p.add_argument("--margin", type=_nonneg_float("--margin"), default=0.2,
                   help="triplet margin (0.2)")
    p.add_argument("--lr", type=number("--lr", 0, exclusive_min=True), default=1e-3,
                   help="AdamW learning rate (1e-3)")
    p.add_argument("--weight-decay", type=_nonneg_float("--weight-decay"), default=1e-2,
                   help="AdamW weight decay")
    p.add_argument("--batch", type=integer("--batch", 1, 2**20), default=64,
                   help="batch size, a multiple of the number of classes (64)")
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")
    p.add_argument("--val-fraction", type=number("--val-fraction", 0, 0.99), default=0.1,
                   help="fraction held out for the per-epoch few-shot accuracy (0.1)")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint of the same run")
    p.add_argument("--threads", type=_threads, default=2, help="torch threads (2)")
    p.add_argument("--force", action="store_true",
                   help="write into an existing non-empty --out that holds no training run")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    p.set_defaults(func=run_train)

    e = sub.add_parser("evaluate", help="few-shot classification accuracy of a trained model",
                       description="Embed a labelled set, pick k supports per class by seed, "
                       "classify the rest; exit 1 if below --min-accuracy.")
    e.add_argument("--model", required=True, help="model directory written by `fixsim train`")
    e.add_argument("--data", required=True, help="labelled frames to evaluate on")
    e.add_argument("--support-per-class", type=integer("--support-per-class", 1, 10**6),
                   default=DEFAULT_SUPPORT)
    e.add_argument("--support-seed", type=seed("support seed"), default=0,
                   help="seed of the support choice (0)")
    e.add_argument("--support-data", help="take supports from this file (default: from --data, "
                   "excluded from the queries)")
    e.add_argument("--rule", choices=("nearest", "mean"), default="nearest")
    e.add_argument("--no-normalize", action="store_true",
                   help="compare raw embeddings instead of L2-normalized ones")
    e.add_argument("--min-accuracy", type=number("--min-accuracy", 0, 1), default=0.0,
                   help="exit 1 if the overall accuracy is below this (0)")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.add_argument("--plots", metavar="DIR", help="write confusion.png and accuracy_vs_fluence.png")
    e.add_argument("--threads", type=_threads, default=2, help="torch threads (2)")
    e.add_argument("--force", action="store_true", help="replace existing plots in --plots")
    e.set_defaults(func=run_evaluate)


def run_train(args) -> int:
    from ..train.dataset import load_labelled

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {args.out!r} exists and is not a directory")
    if not out.parent.is_dir():
        raise InputError(f"--out {args.out!r}: directory {str(out.parent)!r} does not exist")
    if (args.resume is None and not args.force and out.is_dir() and any(out.iterdir())
            and not (out / "checkpoints").is_dir()):
        raise InputError(f"--out {args.out!r} exists and is not empty; pass --force to write "
                         "the model into it")
    data = load_labelled(args.data)  # before torch: a missing file fails fast
    import torch

    from ..train.trainer import TrainConfig, train

    torch.set_num_threads(args.threads)
    config = TrainConfig(epochs=args.epochs, seed=args.seed, margin=args.margin, lr=args.lr,
                         weight_decay=args.weight_decay, batch=args.batch,
                         augment=not args.no_augment, val_fraction=args.val_fraction)
    record = {"command": train_command(args), "data_path": str(args.data)}
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    info = train(data, args.out, config, resume=args.resume, record=record,
                 progress=not args.quiet, log=log)
    hist = info["train"]["history"]
    last = hist[-1] if hist else {}
    print(f"trained {config.epochs} epochs -> {args.out} "
          f"(loss {last.get('loss', float('nan')):.4f}"
          + (f", val accuracy {last['val_accuracy']:.3f}" if "val_accuracy" in last else "")
          + ")")
    return 0


def train_command(args) -> str:
    """The full ``fixsim train`` command line of ``args``, every option spelled out."""
    parts = ["fixsim", "train", "--data", str(args.data), "--out", str(args.out),
             "--epochs", str(args.epochs), "--seed", str(args.seed), "--margin", repr(args.margin),
             "--lr", repr(args.lr), "--weight-decay", repr(args.weight_decay),
             "--batch", str(args.batch), "--val-fraction", repr(args.val_fraction),
             "--threads", str(args.threads)]
    if args.no_augment:
        parts.append("--no-augment")
    if args.resume:
        parts += ["--resume", str(args.resume)]
    return " ".join(parts)


def run_evaluate(args) -> int:
    from ..train.dataset import load_labelled

    if args.plots:
        from ..train.evaluate import PLOT_FILES

        if not Path(args.plots).is_dir():
            raise InputError(f"--plots directory {args.plots!r} does not exist")
        for name in PLOT_FILES:
            if (Path(args.plots) / name).exists() and not args.force:
                raise InputError(f"--plots {args.plots!r} already holds {name}; pass --force "
                                 "to replace it")
    data = load_labelled(args.data)
    support = load_labelled(args.support_data) if args.support_data else None
    if args.plots:
        from .._files import require
        require("matplotlib", "plots")
    import torch

    from ..train.evaluate import evaluate, write_plots
    from ..train.modeldir import load_model_dir

    torch.set_num_threads(args.threads)
    model, info = load_model_dir(args.model)
    if info["class_names"] != data.class_names:
        raise InputError(f"the model was trained on classes {info['class_names']!r}, "
                         f"the data has {data.class_names!r}")
    report = evaluate(model, data, k=args.support_per_class, seed=args.support_seed,
                      rule=args.rule, normalize=not args.no_normalize, support=support)
    report["model"] = {"path": str(args.model), "files": info["files"]}
    report["min_accuracy"] = args.min_accuracy
    ok = report["overall_accuracy"] is not None and report["overall_accuracy"] >= args.min_accuracy
    report["passed"] = bool(ok)
    if args.plots:
        report["plots"] = write_plots(report, args.plots)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_report(report))
    return 0 if ok else 1


def format_report(report: dict) -> str:
    """Human-readable summary of an evaluation report."""
    lines = [f"few-shot {report['rule']}, {report['support_per_class']} supports/class, "
             f"{report['n']} queries: overall accuracy {report['overall_accuracy']:.4f}"]
    for name, acc in report["per_class_accuracy"].items():
        n = report["per_class_count"][name]
        lines.append(f"  {name:<16} {'n/a' if acc is None else f'{acc:.4f}'}  (n={n})")
    lines.append("confusion (rows true, columns predicted):")
    for name, row in zip(report["class_names"], report["confusion_matrix"], strict=True):
        lines.append(f"  {name:<16} " + " ".join(f"{v:6d}" for v in row))
    return "\n".join(lines)
