"""Frames files of imported detector data (``fixsim data import``): format and loader.

Layout (format ``fixsim-frames/1``)::

    /frames   (N, H, W) float32, chunked by frames
    /labels   (N,) int64 with attribute class_names   (only when labels were given)
    root attributes: format, fixsim_version, n, frame_shape, has_labels, frames_sha256,
                     labels_sha256 (with labels), source (JSON), import (JSON),
                     nonfinite (JSON)

``source`` records the input file (name, sha256, type, dataset); ``import`` every
preprocessing option (mask file and its sha256, mask rectangles, beam centre and where
it came from, crop, bin, standardize, labels file and its sha256).  A file of ``fixsim
data simulate`` (``fixsim-spi/1``) is read by :func:`load_frames` too, so every command
that takes ``--data`` accepts both.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

FORMAT = "fixsim-frames/1"


@dataclass(frozen=True)
class FramesFile:
    """A loaded frames file.

    Attributes
    ----------
    path : Path
    frames : ndarray (N, H, W) float32
    labels : ndarray (N,) int64, or None when the data has no labels
    class_names : list of str, or None
    meta : dict
        Root attributes (JSON attributes parsed), ``verified`` (the checksums that were
        recomputed) and ``file_sha256`` (sha256 of the file's bytes).
    """

    path: Path
    frames: np.ndarray
    labels: "np.ndarray | None"
    class_names: "list[str] | None"
    meta: dict

    @property
    def n(self) -> int:
        return int(self.frames.shape[0])

    def provenance(self) -> dict:
        """What a certificate or manifest records about this data (JSON-ready)."""
        m = self.meta
        return {"file": self.path.name, "sha256": m["file_sha256"],
                "format": m.get("format"), "n": self.n,
                "frame_shape": list(self.frames.shape[1:]),
                "frames_sha256": m.get("frames_sha256"),
                "labels": self.labels is not None,
                "fixsim_version": m.get("fixsim_version"),
                "source": m.get("source"), "import": m.get("import"),
                "seed": m.get("seed")}


def load_frames(path: "str | os.PathLike", verify: bool = True) -> FramesFile:
    """Load a frames file of ``fixsim data import`` or ``fixsim data simulate``.

    Parameters
    ----------
    path : path-like
    verify : bool
        Recompute the stored sha256 of the frames (and labels) and compare.

    Returns
    -------
    FramesFile

    Raises
    ------
    InputError
        Missing file, not HDF5, no ``/frames``, wrong shapes, a checksum mismatch.
    """
    from .._files import sha256_file
    from .store import load_dataset

    path = Path(path)
    if file_format(path) != FORMAT:
        # fixsim data simulate's files (and other /frames + /labels files)
        frames, labels, names, meta = load_dataset(path, verify=verify)
        meta.pop("params", None)
        meta["file_sha256"] = sha256_file(path)
        return FramesFile(path, frames, labels, names, meta)
    try:
        frames, labels, names, meta = _read(path)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"frames file {str(path)!r} is damaged or truncated "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                         ) from None
    meta["verified"] = []
    if verify:
        for key, arr in (("frames_sha256", frames), ("labels_sha256", labels)):
            if arr is None or key not in meta:
                continue
            got = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
            if got != meta[key]:
                raise InputError(f"{str(path)!r}: {key.split('_')[0]} sha256 {got[:12]}... "
                                 f"does not match the stored {str(meta[key])[:12]}... "
                                 "(corrupted file)")
            meta["verified"].append(key)
    meta["file_sha256"] = sha256_file(path)
    return FramesFile(path, frames, labels, names, meta)


def file_format(path: "str | os.PathLike") -> str:
    """The ``format`` attribute of an HDF5 file ('' when absent).

    Raises
    ------
    InputError
        Missing, not HDF5, or damaged.
    """
    from .store import _plain, open_hdf5

    path = Path(path)
    with open_hdf5(path, "frames file", "an HDF5 frames file") as f:
        try:
            return str(_plain(f.attrs.get("format", "")))
        except (OSError, KeyError, ValueError, TypeError):
            raise InputError(f"frames file {str(path)!r} is damaged or truncated") from None


def _read(path: Path):
    import h5py

    from .store import _plain

    with h5py.File(path, "r") as f:
        if not isinstance(f.get("frames"), h5py.Dataset):
            raise InputError(f"{str(path)!r} has no /frames dataset")
        frames = np.asarray(f["frames"][()], dtype=np.float32)
        if frames.ndim != 3:
            raise InputError(f"{str(path)!r}: /frames has shape {frames.shape}, "
                             "expected (N, H, W)")
        labels = names = None
        if "labels" in f:
            labels = np.asarray(f["labels"][()], dtype=np.int64)
            if labels.shape != (len(frames),):
                raise InputError(f"{str(path)!r}: /labels {labels.shape} does not match "
                                 f"{len(frames)} frames")
            names = [str(c) for c in _plain(f["labels"].attrs["class_names"])]
        meta = {k: _plain(v) for k, v in f.attrs.items()}
    for key in ("source", "import", "nonfinite"):
        if key in meta:
            meta[key] = json.loads(meta[key])
    return frames, labels, names, meta


__all__ = ["FORMAT", "FramesFile", "load_frames", "file_format"]
