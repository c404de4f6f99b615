"""Input frames of a vector set: simulated, or read from a dataset, CXI or .npy file.

:func:`read_source` returns float frames (when the source has floats), raw input
mantissas in the spec's input format, labels (when known) and a JSON-ready record of
the source for the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import sha256_file
from ..errors import InputError
from ..fixed import check_raw, quantize
from ..network.spec import ModelSpec


@dataclass
class SourceData:
    """Frames of a vector set before the network runs on them."""

    inputs: np.ndarray              # (N, C, H, W) int64 raw input mantissas
    frames: np.ndarray | None       # (N, C, H, W) float32, or None for raw sources
    labels: np.ndarray | None       # (N,) int64, or None
    class_names: list[str] | None
    record: dict




def _as_batch(spec: ModelSpec, arr: np.ndarray, what: str) -> np.ndarray:
    c, h, w = spec.input_shape
    if arr.ndim == 3 and c == 1:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1:] != (c, h, w):
        raise InputError(f"{what}: frames have shape {arr.shape}, expected (N, {c}, {h}, {w})"
                         + (f" or (N, {h}, {w})" if c == 1 else ""))
    return arr


def _take(arr, n: int, what: str):
    if arr is None:
        return None
    if len(arr) < n:
        raise InputError(f"{what} holds {len(arr)} frames, fewer than --n {n}")
    return arr[:n]


def _simulate_quantized(spec: ModelSpec, n: int, seed: int, progress):
    """``fixsim.data.simulate(n, seed)`` with each block quantized on its simulating thread.

    Returns ``(frames, raw, labels, class_names, meta)``; ``raw`` (n, 1, 65, 65) equals
    ``quantize(frames, spec.input_format)`` (elementwise, so blockwise is the same), but
    is computed while the simulation runs, in cache, instead of after it.
    """
    from ..data import simulate

    fmt = spec.input_format
    raw = np.empty((n, *spec.input_shape), dtype=fmt.raw_dtype)

    def post(lo: int, block: np.ndarray) -> None:
        raw[lo:lo + len(block), 0] = quantize(block, fmt, warn=False)

    frames, labels, class_names, meta = simulate(n, seed, progress=progress, post=post)
    return frames, raw, labels, class_names, meta


def read_source(spec: ModelSpec, source, n: int, seed: int, progress=None) -> SourceData:
    """Frames for a vector set.

    Parameters
    ----------
    spec : ModelSpec
    source : "simulated" or path
        ``"simulated"``: :func:`fixsim.data.simulate` (n, seed) (standardized 65x65
        frames and their labels).  A path: ``.h5``/``.hdf5`` frames file of ``fixsim data
        simulate`` or ``fixsim data import`` (frames, labels when present), ``.cxi`` (frames through
        :func:`fixsim.data.read_cxi`, no labels), ``.npy`` (floats are frames; integers
        are raw input mantissas).  The first ``n`` frames are used.
    n : int
        Number of frames (>= 1).
    seed : int
        Data seed of the simulated source.

    Raises
    ------
    InputError
        Unknown source type, missing file, wrong shapes, fewer than ``n`` frames, raw
        values outside the input format, non-finite frames.
    """
    frames = labels = class_names = None
    raw = None
    from .._validate import check_int

    n = check_int("number of frames", n, minimum=1)
    if source == "simulated":
        if tuple(spec.input_shape) != (1, 65, 65):
            raise InputError(f"the simulated source makes (1, 65, 65) frames; spec "
                             f"{spec.name!r} takes {tuple(spec.input_shape)}")
        frames, raw, labels, class_names, meta = _simulate_quantized(spec, n, seed, progress)
        record = {"kind": "simulated", "generator": "fixsim.data.simulate", "data_seed": int(seed),
                  "config": meta["config"], "classes": meta.get("classes")}
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"source {str(source)!r} is neither 'simulated' nor an existing file")
        suffix = path.suffix.lower()
        record = {"kind": "file", "file": path.name, "sha256": sha256_file(path)}
        if suffix in (".h5", ".hdf5"):
            from ..data.frames_file import FORMAT, load_frames

            ff = load_frames(path)
            frames, labels, class_names = ff.frames, ff.labels, ff.class_names
            frames, labels = _take(frames, n, path.name), _take(labels, n, path.name)
            record["type"] = "dataset"
            if ff.meta.get("format") == FORMAT:  # fixsim data import: its provenance
                record.update(type="frames", frames=ff.n, labels=labels is not None,
                              source=ff.meta.get("source"), preprocessing=ff.meta.get("import"))
        elif suffix == ".cxi":
            from ..data import read_cxi

            frames = _take(read_cxi(path, stop=n), n, path.name)
            record["type"] = "cxi"
        elif suffix == ".npy":
            from .._files import read_npy

            arr = read_npy(path, "source", mmap=True)
            arr = _take(arr, n, path.name)
            if arr.dtype.kind == "f":
                frames = np.asarray(arr)
            elif arr.dtype.kind in "iu":
                raw = np.asarray(arr)
            else:
                raise InputError(f"{path.name}: dtype {arr.dtype} is neither float frames nor "
                                 "raw integers")
            record["type"] = "npy"
        else:
            raise InputError(f"source {path.name!r}: unknown file type {suffix!r}; expected "
                             ".h5/.hdf5 (fixsim data simulate), .cxi or .npy")
    return _finish(spec, frames, raw, labels, class_names, record)


def from_frames(spec: ModelSpec, frames: np.ndarray, labels=None, class_names=None,
                record: dict | None = None) -> SourceData:
    """Float frames already in memory (e.g. a frames file's) as :class:`SourceData`.

    The same shape checks, NaN/inf rule and quantization as :func:`read_source`.

    Raises
    ------
    InputError
        Frames of another shape than the spec's input.
    """
    return _finish(spec, frames, None, labels, class_names, dict(record or {"kind": "frames"}))


def _finish(spec, frames, raw, labels, class_names, record) -> SourceData:
    if frames is not None:
        frames = _as_batch(spec, np.ascontiguousarray(frames, dtype=np.float32), "source")
        warn_specials(frames, f"source {record.get('file', record.get('kind'))!r}")
        if raw is None:
            raw = quantize(frames, spec.input_format, warn=False)
    raw = _as_batch(spec, np.asarray(raw), "source")
    inputs = np.ascontiguousarray(check_raw(raw, spec.input_format, "source inputs"), dtype=np.int64)
    if labels is not None:
        labels = np.ascontiguousarray(labels, dtype=np.int64)
    return SourceData(inputs, frames, labels, list(class_names) if class_names else None, record)


def warn_specials(frames: np.ndarray, where: str) -> int:
    """The rule for NaN/inf input frames, shared by ``vectors gen`` and ``csim``.

    They are quantized as the ap_fixed headers do (``ap_fixed(double)``: NaN and inf as
    +-(1.m)*2^1024, so they saturate or wrap by sign, exactly what the hardware's input
    conversion does); one :class:`~fixsim.fixed.FixsimWarning` counts them.  Returns the
    number of non-finite values.
    """
    import warnings

    from ..fixed import FixsimWarning

    finite = np.isfinite(frames)
    if finite.all():
        return 0
    n_nan = int(np.count_nonzero(np.isnan(frames)))
    n_inf = int(frames.size - np.count_nonzero(finite) - n_nan)
    n_frames = int(np.count_nonzero(~finite.reshape(len(frames), -1).all(axis=1)))
    warnings.warn(f"{where}: {n_nan} NaN and {n_inf} inf values in {n_frames} frame(s), "
                  "quantized as the ap_fixed headers do (NaN and inf as +-2^1024 by sign)",
                  FixsimWarning, stacklevel=2)
    return n_nan + n_inf


__all__ = ["SourceData", "read_source", "from_frames", "warn_specials"]
