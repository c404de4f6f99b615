"""Labelled frame sets for training and evaluation, read through :mod:`fixsim.data`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._files import sha256_file
from ..errors import InputError

#: Per-frame meta keys that measure the incident fluence (or photon count), by preference.
FLUENCE_KEYS = ("fluence", "fluence_per_a2", "photons_per_area", "incident_photons", "n_photons",
                "photon_count", "photons", "total_photons")


@dataclass
class LabelledFrames:
    """Frames with integer labels and class names.

    Attributes
    ----------
    frames : ndarray, float32, shape (N, 65, 65)
    labels : ndarray, int64, shape (N,), values in ``0 .. len(class_names)-1``
    class_names : list of str
    meta : dict
        Whatever the data file carries (per-frame parameters, seed, version).
    sha256 : str
        Checksum of the source file ("" for in-memory data).
    """

    frames: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    meta: dict = field(default_factory=dict)
    sha256: str = ""

    def __post_init__(self):
        self.frames = np.asarray(self.frames, dtype=np.float32)
        self.labels = np.asarray(self.labels).astype(np.int64)
        self.class_names = [str(c) for c in self.class_names]
        if self.frames.ndim != 3 or self.frames.shape[1:] != (65, 65):
            raise InputError(f"frames must have shape (N, 65, 65), got {self.frames.shape!r}")
        if self.labels.shape != (len(self.frames),):
            raise InputError(f"labels must have shape ({len(self.frames)},), "
                             f"got {self.labels.shape!r}")
        if len(self.labels) and (self.labels.min() < 0
                                 or self.labels.max() >= len(self.class_names)):
            raise InputError(f"labels must lie in 0..{len(self.class_names) - 1}")
        if not np.all(np.isfinite(self.frames)):
            raise InputError("frames contain NaN or infinite values")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> "LabelledFrames":
        """Frames ``idx``; per-frame meta arrays (length N, also in nested dicts) follow."""
        n = len(self)

        def pick(v):
            if isinstance(v, dict):
                return {k: pick(x) for k, x in v.items()}
            if isinstance(v, np.ndarray) and v.shape[:1] == (n,):
                return v[idx]
            return v

        return LabelledFrames(self.frames[idx], self.labels[idx], self.class_names,
                              pick(self.meta), self.sha256)

    def fluence(self) -> tuple[str, np.ndarray] | None:
        """Per-frame fluence: the first of :data:`FLUENCE_KEYS` found in the meta (also
        inside a nested ``params`` dict, where :mod:`fixsim.data` keeps it).

        Returns
        -------
        (name, values) or None
            The meta key used and a float64 array of shape (N,); None if the data carry
            no per-frame fluence or photon count.
        """
        n = len(self)
        for source in (self.meta, self.meta.get("params")):
            if not isinstance(source, dict):
                continue
            for key in FLUENCE_KEYS:
                v = source.get(key)
                if v is not None and np.shape(v) == (n,):
                    return key, np.asarray(v, dtype=np.float64)
        return None




def load_labelled(path: "str | os.PathLike") -> LabelledFrames:
    """Read a labelled frame file with :func:`fixsim.data.load_dataset`.

    Raises
    ------
    InputError
        If the file is missing or unreadable, or :mod:`fixsim.data` is not available.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file {str(path)!r} does not exist")
    try:
        from ..data import load_dataset
    except ImportError as exc:
        raise InputError(f"reading data files needs fixsim.data ({exc})") from None
    frames, labels, class_names, meta = load_dataset(path)
    return LabelledFrames(frames, labels, list(class_names), dict(meta or {}),
                          sha256_file(path))
