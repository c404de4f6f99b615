"""HDF5 dataset files of simulated frames: writing (streamed, atomic) and loading.

Layout (format ``fixsim-spi/1``)::

    /frames   (N, 65, 65) float32, chunked by frames
    /labels   (N,) int64, attribute class_names
    /params/<name>   per-frame parameters (see FrameSimulator.params_template)
    root attributes: format, fixsim_version, seed, n, classes, config (JSON),
                     frames_sha256, labels_sha256

``frames_sha256`` is the sha256 of the C-order float32 bytes of /frames.  Files are
written without HDF5 timestamps, so the same seed and config give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError
from .config import CLASS_NAMES, SimConfig
from .simulate import (BLOCK, FrameSimulator, check_count, check_seed, default_workers,
                       draw_labels, resolve_classes)


def open_hdf5(path: Path, what: str, kind: str):
    """Open ``path`` read-only; a missing or non-HDF5 file is a one-line InputError."""
    import h5py

    if not path.is_file():
        raise InputError(f"{what} {str(path)!r} does not exist")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise InputError(f"{str(path)!r} is not {kind}") from None


FORMAT = "fixsim-spi/1"
#: Frames simulated per write: bounds memory for any N (a multiple of simulate.BLOCK).
_CHUNK = 256
assert _CHUNK % BLOCK == 0


def write_dataset(path: "str | os.PathLike", n: int, seed: int,
                  config: SimConfig | dict | None = None, classes=None,
                  progress: Callable[[int], None] | None = None,
                  workers: int | None = None) -> dict:
    """Simulate ``n`` frames and write them to ``path`` atomically (temp file + rename).

    Parameters
    ----------
    path : path-like
        Output HDF5 file; its directory must exist.  Nothing is left on failure.
    n, seed, config, classes :
        As for :func:`fixsim.data.simulate`.
    progress : callable, optional
        Called with the number of frames just finished (an increment).
    workers : int, optional
        Simulation threads (default: the usable CPUs); no effect on the file.

    Returns
    -------
    dict
        Summary: path, n, seed, frames_sha256, counts per class.

    Raises
    ------
    InputError
        Bad arguments or an output directory that does not exist.
    """
    import h5py

    from .._version import __version__
    from .._files import atomic_path

    n, seed = check_count(n), check_seed(seed)
    workers = default_workers() if workers is None else check_count(workers, "workers")
    if isinstance(config, dict):
        config = SimConfig.from_dict(config)
    sim = FrameSimulator(config)
    check_resources(path, n, sim)
    class_ids = resolve_classes(classes)
    labels = draw_labels(n, seed, class_ids)
    params = sim.params_template(n)
    out = sim.config.detector.out_px
    sha = hashlib.sha256()
    with atomic_path(path, suffix=".h5.tmp") as tmp:
        with h5py.File(tmp, "w", track_order=False) as f:
            dset = f.create_dataset("frames", shape=(n, out, out), dtype=np.float32,
                                    chunks=(min(n, 64), out, out), track_times=False)
            buf = np.empty((_CHUNK, out, out), dtype=np.float32)
            # one stream of blocks (no pool drained per chunk); a chunk is written once
            # its last block has arrived (blocks arrive in order and divide _CHUNK)
            for lo, block in sim.blocks(labels, seed, params, 0, n, workers=workers):
                s, hi = lo - lo % _CHUNK, lo + len(block)
                buf[lo - s:hi - s] = block
                if progress is not None:
                    progress(len(block))
                if hi == n or hi - s == _CHUNK:
                    dset[s:hi] = buf[:hi - s]
                    sha.update(np.ascontiguousarray(buf[:hi - s]).tobytes())
            lab = f.create_dataset("labels", data=labels, track_times=False)
            lab.attrs["class_names"] = list(CLASS_NAMES)
            grp = f.create_group("params")
            for name, arr in params.items():
                grp.create_dataset(name, data=arr, track_times=False)
            attrs = {
                "format": FORMAT,
                "fixsim_version": __version__,
                "seed": seed,
                "n": n,
                "classes": [CLASS_NAMES[c] for c in class_ids],
                "config": sim.config.to_json(),
                "frames_sha256": sha.hexdigest(),
                "labels_sha256": hashlib.sha256(labels.tobytes()).hexdigest(),
            }
            for key, value in attrs.items():
                f.attrs[key] = value
    _default_permissions(path)
    counts = {CLASS_NAMES[c]: int((labels == c).sum()) for c in class_ids}
    return {"path": str(path), "n": n, "seed": seed,
            "frames_sha256": attrs["frames_sha256"], "counts": counts}


def _available_memory() -> "int | None":
    """Bytes of memory available to a new allocation (MemAvailable), if known."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB"


def check_resources(path, n: int, sim: "FrameSimulator") -> None:
    """Refuse ``n`` frames that cannot fit in memory (labels, parameters) or on disk.

    Checked before anything is allocated: the labels and per-frame parameters are held
    in memory for the whole run; the frames are streamed to the file.
    """
    out = sim.config.detector.out_px
    per_frame_mem = 8 + sum(a.nbytes for a in sim.params_template(1).values())
    need_mem = n * per_frame_mem
    avail = _available_memory()
    if avail is not None and need_mem > avail // 2:
        raise InputError(
            f"--n {n} needs about {_gib(need_mem)} of memory for labels and per-frame "
            f"parameters; {_gib(avail)} is available, so at most "
            f"{max(1, (avail // 2) // per_frame_mem)} frames per file")
    need_disk = n * (out * out * 4 + per_frame_mem)
    parent = Path(path).parent if str(Path(path).parent) else Path(".")
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        return
    if need_disk > free:
        raise InputError(
            f"--n {n} needs about {_gib(need_disk)} on disk; {_gib(free)} is free in "
            f"{str(parent)!r}, so at most {max(1, free // (out * out * 4 + per_frame_mem))} "
            "frames")


def load_dataset(path: "str | os.PathLike", verify: bool = True):
    """Load a simulated dataset written by :func:`write_dataset`.

    Parameters
    ----------
    path : path-like
    verify : bool
        Recompute the sha256 of the frames and compare with the stored one.

    Returns
    -------
    frames : ndarray (N, 65, 65) float32
    labels : ndarray (N,) int64
    class_names : list of str
    meta : dict
        Root attributes (``config`` parsed to a dict) and ``params`` (dict of arrays).

    Raises
    ------
    InputError
        Missing file, not HDF5, missing datasets, wrong shapes or a checksum mismatch.
    """

    path = Path(path)
    try:
        return _load_dataset(path, verify)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, InputError):
            raise
        # h5py raises these for truncated or damaged files after a successful open.
        raise InputError(f"dataset {str(path)!r} is damaged or truncated "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                         ) from None


def _load_dataset(path: Path, verify: bool):
    import h5py

    with open_hdf5(path, "dataset", "an HDF5 file") as f:
        for name in ("frames", "labels"):
            if name not in f or not isinstance(f[name], h5py.Dataset):
                raise InputError(f"{str(path)!r} has no /{name} dataset "
                                 f"(not a fixsim simulated dataset?)")
        frames = f["frames"][()]
        labels = f["labels"][()]
        if frames.ndim != 3 or labels.shape != (frames.shape[0],):
            raise InputError(f"{str(path)!r}: /frames {frames.shape} and /labels "
                             f"{labels.shape} do not describe N frames")
        class_names = [str(c) for c in f["labels"].attrs.get("class_names", CLASS_NAMES)]
        meta = {k: _plain(v) for k, v in f.attrs.items()}
        if "config" in meta:
            meta["config"] = json.loads(meta["config"])
        meta["params"] = ({k: d[()] for k, d in f["params"].items()}
                          if "params" in f else {})
    frames = frames.astype(np.float32, copy=False)
    labels = labels.astype(np.int64, copy=False)
    # What was verified, so no caller claims a checksum that was never checked.
    meta["verified"] = []
    if verify:
        for key, arr in (("frames_sha256", frames), ("labels_sha256", labels)):
            if key not in meta:
                continue
            got = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
            if got != meta[key]:
                raise InputError(f"{str(path)!r}: {key.split('_')[0]} sha256 {got[:12]}... does "
                                 f"not match the stored {str(meta[key])[:12]}... (corrupted file)")
            meta["verified"].append(key)
    return frames, labels, class_names, meta


def _default_permissions(path) -> None:
    """Give the file the permissions of a normal ``open()`` (mkstemp creates it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _plain(v):
    """HDF5 attribute value as a plain Python object."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v
