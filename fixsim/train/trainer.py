"""Seeded, resumable triplet training of SpeckleNN.

Determinism: every epoch draws its batches and augmentation from a generator seeded by
``(seed, epoch)``, and the model and optimizer state are checkpointed (atomically) after
every epoch. Resuming from a checkpoint therefore continues bit-identically to an
uninterrupted run on the same machine and thread count.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .._version import __version__
from ..errors import InputError
from ..model.specklenn import SpeckleNNTrain, init_weights
from .augment import augment as augment_batch
from .augment import standardize_torch
from .dataset import LabelledFrames
from .fewshot import FewShotClassifier, select_support
from .modeldir import save_model_dir, torch_save_atomic
from .triplet import triplet_loss

CHECKPOINT_FORMAT = "fixsim-specklenn-checkpoint/1"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (all recorded in checkpoints and model.json).

    ``batch`` must be a multiple of the number of classes: batches are class-balanced so
    that every anchor has positives and negatives.
    """

    epochs: int
    seed: int
    margin: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch: int = 64
    augment: bool = True
    val_fraction: float = 0.1
    val_support: int = 5

    def check(self, n_classes: int) -> None:
        """Raise InputError on an out-of-range value."""
        from .._validate import check_int, check_number

        check_int("epochs", self.epochs, minimum=1)
        check_int("epochs", self.epochs, minimum=1, maximum=10**6)
        check_int("seed", self.seed, minimum=0)
        check_int("seed", self.seed, minimum=0, maximum=2**63 - 1)
        check_number("margin", self.margin, minimum=0)
        check_number("lr", self.lr, minimum=0, exclusive_min=True)
        check_number("weight decay", self.weight_decay, minimum=0)
        check_int("batch", self.batch, minimum=1)
        if self.batch < 2 * n_classes or self.batch % n_classes:
            raise InputError(f"batch must be a multiple of the {n_classes} classes and at "
                             f"least {2 * n_classes}, got {self.batch!r}")
        check_number("val fraction", self.val_fraction, minimum=0)
        if not self.val_fraction < 1:
            raise InputError(f"val fraction must be a number >= 0 and < 1, "
                             f"got {self.val_fraction!r}")


def split_train_val(labels: np.ndarray, fraction: float, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: ``fraction`` of every class to validation, chosen by ``seed``."""
    rng = np.random.default_rng([seed, 1])
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(round(fraction * len(idx)))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def balanced_batches(labels: np.ndarray, batch: int, n_classes: int,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of class-balanced batches, ``batch // n_classes`` frames of each class.

    The epoch has ``ceil(N / batch)`` steps; each class is drawn from a stream of its
    shuffled indices (reshuffled when exhausted), so rare classes are repeated.
    """
    per = batch // n_classes
    steps = -(-len(labels) // batch)
    streams = []
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 2:
            raise InputError(f"class {c} has {len(idx)} training frames; need at least 2")
        reps = -(-steps * per // len(idx))
        streams.append(np.concatenate([rng.permutation(idx) for _ in range(reps)]))
    return [np.concatenate([s[i * per:(i + 1) * per] for s in streams]) for i in range(steps)]


def embed(model: torch.nn.Module, frames: np.ndarray, batch: int = 512) -> np.ndarray:
    """Raw embeddings (eval mode, no normalization) of raw frames, float32 (N, D).

    Frames are standardized per image first. For a training-variant model the
    embedding before the final L2 normalization is returned.
    """
    from ..model.preprocess import standardize

    was_training = model.training
    model.eval()
    fn = getattr(model, "embed_raw", model)
    out = []
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(standardize(frames[i:i + batch]))
            out.append(fn(x).numpy())
    model.train(was_training)
    if not out:
        return np.zeros((0, getattr(model, "latent_dim", 50)), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def fewshot_accuracy(model, support: LabelledFrames, query: LabelledFrames, k: int,
                     seed: int) -> float:
    """Overall nearest-support accuracy of ``query`` with k supports per class from ``support``."""
    n_classes = len(support.class_names)
    idx = select_support(support.labels, k, seed, n_classes)
    clf = FewShotClassifier(embed(model, support.frames[idx]), support.labels[idx])
    return float((clf.predict(embed(model, query.frames)) == query.labels).mean())


def _checkpoint_state(model, opt, epoch, config, history, data) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "fixsim_version": __version__,
        "torch_version": str(torch.__version__),
        "num_threads": torch.get_num_threads(),
        "epoch": epoch,
        "config": dataclasses.asdict(config),
        "class_names": data.class_names,
        "data_sha256": data.sha256,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "history": history,
    }


def load_checkpoint(path: "str | os.PathLike") -> dict:
    """Read a training checkpoint; InputError if missing or not a fixsim checkpoint."""
    from .._files import torch_load

    ckpt = torch_load(path, "checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{str(path)!r} is not a fixsim training checkpoint")
    return ckpt


def _check_resume(ckpt: dict, config: TrainConfig, data: LabelledFrames) -> None:
    """The resumed run must be the same run: same data, classes and hyper-parameters."""
    saved = dict(ckpt["config"])
    now = dataclasses.asdict(config)
    for key in now:
        if key != "epochs" and saved.get(key) != now[key]:
            raise InputError(f"cannot resume: {key} was {saved.get(key)!r} in the "
                             f"checkpoint, now {now[key]!r}")
    if ckpt["data_sha256"] != data.sha256 or ckpt["class_names"] != data.class_names:
        raise InputError("cannot resume: the data file differs from the checkpoint's")
    if ckpt["epoch"] >= config.epochs:
        raise InputError(f"cannot resume: checkpoint already has {ckpt['epoch']} epochs, "
                         f"asked for {config.epochs}")


def train(data: LabelledFrames, out: "str | os.PathLike", config: TrainConfig, *,
          resume: "str | os.PathLike | None" = None, record: dict | None = None,
          progress: bool = True, log: Callable[[str], None] | None = None) -> dict:
    """Train SpeckleNN with semi-hard triplet loss; write checkpoints and the model directory.

    Parameters
    ----------
    data : LabelledFrames
        Raw frames (standardized per image inside) and labels.
    out : path
        Output directory (created; its parent must exist). Receives
        ``checkpoints/epoch_NNNN.pt``, ``checkpoints/last.pt`` and the model files.
    config : TrainConfig
    resume : path, optional
        Checkpoint to continue from; the run must have the same data and hyper-parameters.
    record : dict, optional
        Extra provenance (e.g. the command line) stored in model.json.
    progress : bool
        Show a tqdm bar per epoch.
    log : callable, optional
        Receives one line per epoch.

    Returns
    -------
    dict
        The model.json content (including the per-epoch history).

    Raises
    ------
    InputError
        Bad configuration, data too small, or an incompatible checkpoint.
    """
    from tqdm import tqdm

    n_classes = len(data.class_names)
    config.check(n_classes)
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"output directory parent {str(out.parent)!r} does not exist")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a directory")
    ckdir = out / CHECKPOINT_DIR
    if resume is None and (ckdir / LAST_CHECKPOINT).exists():
        raise InputError(f"{str(out)!r} already holds a training run; "
                         f"use --resume {ckdir / LAST_CHECKPOINT}")

    train_idx, val_idx = split_train_val(data.labels, config.val_fraction, config.seed)
    tr, va = data.subset(train_idx), data.subset(val_idx)
    frames = torch.from_numpy(tr.frames)

    model = SpeckleNNTrain()
    init_weights(model, torch.Generator().manual_seed(config.seed))
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history: list[dict] = []
    start = 0
    if resume is not None:
        ckpt = load_checkpoint(resume)
        _check_resume(ckpt, config, data)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        history, start = list(ckpt["history"]), int(ckpt["epoch"])
    ckdir.mkdir(parents=True, exist_ok=True)

    for epoch in range(start, config.epochs):
        rng = np.random.default_rng([config.seed, 2, epoch])
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        batches = balanced_batches(tr.labels, config.batch, n_classes, rng)
        model.train()
        losses, active = [], []
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not progress, leave=False)
        for idx in bar:
            x = frames[idx]
            if config.augment:
                x = augment_batch(x, gen)
            emb = model(standardize_torch(x))
            loss, stats = triplet_loss(emb, torch.from_numpy(tr.labels[idx]), config.margin)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            active.append(stats["active"])
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        entry = {"epoch": epoch + 1, "loss": float(np.mean(losses)),
                 "active_fraction": float(np.mean(active))}
        if len(va) and config.val_support:
            entry["val_accuracy"] = fewshot_accuracy(model, tr, va, config.val_support,
                                                     config.seed)
        history.append(entry)
        if log:
            log("epoch {epoch}: loss {loss:.4f}, active {active_fraction:.2f}".format(**entry)
                + (f", val accuracy {entry['val_accuracy']:.3f}" if "val_accuracy" in entry
                   else ""))
        state = _checkpoint_state(model, opt, epoch + 1, config, history, data)
        torch_save_atomic(state, ckdir / f"epoch_{epoch + 1:04d}.pt")
        torch_save_atomic(state, ckdir / LAST_CHECKPOINT)

    full_record = {"config": dataclasses.asdict(config), "seed": config.seed,
                   "data_sha256": data.sha256, "frames": len(data),
                   "train_frames": len(tr), "val_frames": len(va),
                   "num_threads": torch.get_num_threads(), "history": history,
                   **(record or {})}
    return save_model_dir(out, model.eval(), data.class_names, full_record)
