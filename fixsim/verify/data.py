"""The frames ``fixsim certify`` measures accuracy and agreement on: simulated held-out
frames, or the frames of a ``--data`` file (``fixsim data import``).

Without labels in the file, accuracy is *not measured* (never assumed); the float-vs-fixed
decision agreement and the C-simulation bit-exactness are measured on the frames all the
same.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .provenance import relative_path


def load_data(cfg, spec) -> dict | None:
    """The frames of ``cfg.data`` for the spec (read, checked, quantized once), or None.

    Returns ``{"frames": (n, C, H, W) float32, "labels": (n,) int64 or None,
    "class_names", "provenance"}`` of the first ``cfg.n_eval`` frames (all when None).

    Raises
    ------
    InputError
        An unreadable frames file, frames of another shape than the spec's input, fewer
        frames than ``n_eval``.
    """
    if cfg.data is None:
        return None
    from pathlib import Path

    from ..data.frames_file import load_frames
    from ..errors import InputError
    from ..vectors.sources import from_frames

    ff = load_frames(cfg.data)
    n = ff.n if cfg.n_eval is None else cfg.n_eval
    if n > ff.n:
        raise InputError(f"--data {Path(cfg.data).name} holds {ff.n} frames, fewer than "
                         f"--n-eval {n}")
    src = from_frames(spec, ff.frames[:n], None if ff.labels is None else ff.labels[:n],
                      ff.class_names, {"kind": "file", "file": Path(cfg.data).name})
    return {"frames": src.frames, "labels": src.labels, "class_names": src.class_names,
            "provenance": {**ff.provenance(), "path": relative_path(cfg.data), "used": n}}


def eval_frames(cfg, data: dict | None, log):
    """(frames (N, C, H, W), labels or None, class names, record) of the accuracy section."""
    from ..data import CLASS_NAMES, simulate

    if data is not None:
        prov = data["provenance"]
        log(f"{prov['used']} frames of {prov['path']} (labels "
            f"{'yes' if data['labels'] is not None else 'no'})")
        labels = data["labels"]
        names = data["class_names"] or list(CLASS_NAMES)
        frames = data["frames"]
        record = {"n": int(len(frames)), "source": "data", "file": prov["path"],
                  "file_sha256": prov["sha256"], "labels": labels is not None,
                  "counts": None if labels is None else
                  np.bincount(labels, minlength=len(names)).tolist(),
                  "frames_sha256": hashlib.sha256(np.ascontiguousarray(frames).tobytes()
                                                  ).hexdigest()}
        return frames, labels, names, record
    log(f"simulating {cfg.n_eval} held-out frames (seed {cfg.seed})")
    frames, labels, names, meta = simulate(cfg.n_eval, cfg.seed)
    record = {"n": cfg.n_eval, "seed": cfg.seed, "generator": "fixsim.data.simulate",
              "classes": meta["classes"],
              "counts": np.bincount(labels, minlength=len(names)).tolist(),
              "frames_sha256": hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()}
    return frames[:, None], labels, names, record


__all__ = ["load_data", "eval_frames"]
