"""Rebuild golden/: the trained reference SpeckleNN, its support set and its manifest.

One command, from the repo root (4 to 12 minutes on a 2-core machine; the manifest
records the measured time)::

    python tools/make_golden.py

Steps: simulate a training set (seed DATA_SEED) and a held-out set (fresh seed
TEST_SEED) with :func:`fixsim.data.write_dataset`; ``fixsim train`` on the training set;
``fixsim evaluate`` on the held-out set with supports drawn from the training set (both
rules); copy the model files, the support set and the plots into golden/ and write
golden/manifest.json with the seeds, the exact commands, the accuracies and the sha256
of every file. Everything is seeded; rerunning on the same machine and thread count
gives the same weights.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA_SEED, TEST_SEED, TRAIN_SEED, SUPPORT_SEED = 1, 2, 0, 0
SUPPORT_PER_CLASS = 5
DEFAULTS = dict(train_frames=5000, test_frames=2000, epochs=8, margin=0.2, batch=64)
GOLDEN_FILES = ("model_float.pt", "model_folded.pt", "weights_folded.npz", "model.json")


def _simulate(path: Path, n: int, seed: int) -> dict:
    from tqdm import tqdm

    from fixsim.data import write_dataset

    with tqdm(total=n, desc=f"simulate {path.name}", unit="frame") as bar:
        return write_dataset(path, n, seed, progress=bar.update)


def _fixsim(argv: list[str], capture: bool = False) -> tuple[int, str]:
    from fixsim.cli.main import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf) if capture else contextlib.nullcontext():
        rc = main(argv)
    if rc not in (0, 1):
        raise SystemExit(f"make_golden: `fixsim {' '.join(argv)}` failed with exit code {rc}")
    return rc, buf.getvalue()


def _support_set(model_dir: Path, train_h5: Path, out: Path) -> dict:
    """support.npz: the chosen training frames, their raw embeddings and labels."""
    import torch

    from fixsim.train.dataset import load_labelled
    from fixsim.train.fewshot import select_support
    from fixsim.train.modeldir import load_model_dir
    from fixsim.train.trainer import embed
    from fixsim.model.preprocess import standardize

    data = load_labelled(train_h5)
    idx = select_support(data.labels, SUPPORT_PER_CLASS, SUPPORT_SEED, len(data.class_names))
    model, _ = load_model_dir(model_dir)
    with torch.no_grad():
        emb = embed(model, data.frames[idx])
    np.savez(out, frames=standardize(data.frames[idx]), embeddings=emb,
             labels=data.labels[idx], indices=idx, class_names=np.array(data.class_names))
    return {"indices": idx.tolist(), "seed": SUPPORT_SEED, "per_class": SUPPORT_PER_CLASS,
            "source": "training set", "normalize_embeddings": True}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO / "golden"))
    p.add_argument("--work", help="keep intermediate files here (default: a temp dir)")
    for key, val in DEFAULTS.items():
        p.add_argument("--" + key.replace("_", "-"), type=type(val), default=val)
    args = p.parse_args(argv)

    import torch

    from fixsim._version import __version__
    from fixsim._files import sha256_file as file_sha256

    torch.set_num_threads(2)
    t0 = time.time()
    out = Path(args.out)
    out = out.resolve()
    cwd = Path.cwd()
    try:
        with tempfile.TemporaryDirectory(prefix="fixsim-golden-") as tmp:
            work = Path(args.work).resolve() if args.work else Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            # Commands run inside the work directory with relative paths, so that the
            # recorded commands (and hence model.json and its checksum) do not depend on it.
            os.chdir(work)
            train_h5, test_h5, model_dir = Path("train.h5"), Path("test.h5"), Path("model")
            if model_dir.exists():
                shutil.rmtree(model_dir)
            sims = {"train": _simulate(train_h5, args.train_frames, DATA_SEED),
                    "test": _simulate(test_h5, args.test_frames, TEST_SEED)}
            t_sim = time.time() - t0
            train_argv = ["train", "--data", str(train_h5), "--out", str(model_dir),
                          "--epochs", str(args.epochs), "--seed", str(TRAIN_SEED),
                          "--margin", str(args.margin), "--lr", "1e-3", "--batch", str(args.batch),
                          "--threads", "2"]
            _fixsim(train_argv)
            t_train = time.time() - t0 - t_sim
            plots = Path("plots")
            plots.mkdir(exist_ok=True)
            reports, eval_argvs = {}, {}
            for rule in ("nearest", "mean"):
                eval_argvs[rule] = ["evaluate", "--model", str(model_dir), "--data", str(test_h5),
                                    "--support-data", str(train_h5), "--support-per-class",
                                    str(SUPPORT_PER_CLASS), "--support-seed", str(SUPPORT_SEED),
                                    "--rule", rule, "--json"]
                if rule == "nearest":
                    eval_argvs[rule] += ["--plots", str(plots)]
                _, text = _fixsim(eval_argvs[rule], capture=True)
                reports[rule] = json.loads(text)

            staging = Path(tempfile.mkdtemp(prefix=".golden-", dir=out.parent))
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(staging, 0o777 & ~mask)  # mkdtemp makes 0700
            try:
                for name in GOLDEN_FILES:
                    shutil.copy2(model_dir / name, staging / name)
                for name in ("confusion.png", "accuracy_vs_fluence.png"):
                    shutil.copy2(plots / name, staging / name)
                support = _support_set(model_dir, train_h5, staging / "support.npz")
                evaluation = {rule: {k: v for k, v in r.items() if k != "plots"}
                              for rule, r in reports.items()}
                (staging / "evaluation.json").write_text(json.dumps(evaluation, indent=2,
                                                                    sort_keys=True) + "\n")

                def rel(argv):
                    return "fixsim " + " ".join(argv)

                info = json.loads((model_dir / "model.json").read_text())
                manifest = {
                    "format": "fixsim-golden/1",
                    "fixsim_version": __version__,
                    "torch_version": str(torch.__version__),
                    "command": "python tools/make_golden.py",
                    "commands_run_in": "a temporary work directory (train.h5, test.h5, model/)",
                    "options": vars(args) | {"out": "golden", "work": None},
                    "data": {name: {"seed": s["seed"], "frames": s["n"], "counts": s["counts"],
                                    "frames_sha256": s["frames_sha256"],
                                    "file_sha256": file_sha256(f"{name}.h5")}
                             for name, s in sims.items()},
                    "train": {"command": rel(train_argv), "seed": TRAIN_SEED,
                              "epochs": args.epochs, "frames": args.train_frames,
                              "history": info["train"]["history"]},
                    "evaluation": {rule: {"command": rel(eval_argvs[rule]),
                                          "held_out_seed": TEST_SEED,
                                          "overall_accuracy": r["overall_accuracy"],
                                          "per_class_accuracy": r["per_class_accuracy"],
                                          "per_class_count": r["per_class_count"],
                                          "confusion_matrix": r["confusion_matrix"]}
                                   for rule, r in reports.items()},
                    "support": support,
                    "inference_parameters": info["inference_parameters"],
                    "seconds": {"simulate": round(t_sim, 1), "train": round(t_train, 1),
                                "total": round(time.time() - t0, 1)},
                    "files": {f.name: file_sha256(f) for f in sorted(staging.iterdir())},
                }
                (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
                if out.exists():
                    shutil.rmtree(out)
                staging.rename(out)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    finally:
        os.chdir(cwd)

    acc = manifest["evaluation"]["nearest"]
    print(f"golden -> {out}: held-out accuracy {acc['overall_accuracy']:.4f} "
          f"({', '.join(f'{k} {v:.3f}' for k, v in acc['per_class_accuracy'].items())}) "
          f"in {manifest['seconds']['total'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
