"""Read a HIL vector set: a fixsim vector set (docs/vectors.md), or the interim layout.

A fixsim vector set (``manifest.json`` with ``"format": "fixsim-vectors"``, written by
``fixsim vectors gen``) is read with :func:`fixsim.vectors.load_vector_set` (every
checksum, the weight image and the shapes verified): inputs are its raw input mantissas,
expected results its last layer's raw outputs, the weights its weight image, the wire
width the smallest of 2/4/8 bytes that holds the input format, and ``spec`` its model
spec (so a device model can compute the network: :class:`fixsim.vectors.device.NetworkDevice`).

The interim layout (still read, for hand-made sets) is a directory with ``manifest.json``::

    {"inputs":   "inputs.npy",     raw int64 input mantissas, shape (N, ...)
     "expected": "expected.npy",   raw int64 expected outputs, shape (N, ...)
     "weights":  "weights.bin",    optional weight image (bytes)
     "word_bytes": 8}              optional wire width of input words (2, 4 or 8)

Paths are relative to the directory and may not leave it.  :func:`read_vector_set`
is the only place in fixsim.hil that knows either layout.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError


@dataclass
class VectorSet:
    """What a HIL run needs from a vector set.

    ``spec`` is the model spec of a fixsim vector set (None for the interim layout,
    which only a replay device can answer).
    """

    inputs: np.ndarray
    expected: np.ndarray
    weights: bytes | None = None
    word_bytes: int = 8
    sha256: dict[str, str] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    spec: object = None


def _inside(root: Path, rel, key: str) -> Path:
    if not isinstance(rel, str) or not rel:
        raise InputError(f"manifest {key!r} must be a relative path string, got {rel!r}")
    p = (root / rel).resolve()
    if not p.is_relative_to(root):
        raise InputError(f"manifest {key!r} path {rel!r} escapes the vector directory {str(root)!r}")
    if not p.is_file():
        raise InputError(f"manifest {key!r}: file {rel!r} not found in {str(root)!r}")
    return p


def _load_raw(path: Path, key: str) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{key} file {path.name!r} is not a .npy array: {exc}") from None
    if a.dtype != np.int64 or a.ndim < 1 or len(a) == 0:
        raise InputError(f"{key} file {path.name!r} must hold raw int64 of shape (N, ...), "
                         f"N >= 1; got {a.dtype} {a.shape}")
    return a


def _fixsim_vector_set(directory, manifest_bytes: bytes) -> VectorSet:
    """A vector set of :mod:`fixsim.vectors`: inputs, last-layer outputs, weight image."""
    from ..vectors import load_vector_set

    vs = load_vector_set(directory, verify=True)
    fmt = vs.spec.input_format
    bits = fmt.width + (0 if fmt.signed else 1)  # words are signed on the wire
    wb = next(b for b in (2, 4, 8) if bits <= 8 * b)
    sums = {"manifest.json": hashlib.sha256(manifest_bytes).hexdigest(), **vs.manifest["files"]}
    return VectorSet(np.asarray(vs.inputs), np.asarray(vs.outputs), vs.weight_image_path.read_bytes(),
                     wb, sums, vs.manifest, vs.spec)


def read_vector_set(directory) -> VectorSet:
    """Load and validate a vector-set directory.

    Raises
    ------
    InputError
        Missing/malformed manifest, paths escaping the directory, wrong dtype/shape.
    """
    root = Path(directory).resolve()
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise InputError(f"no manifest.json in vector directory {str(directory)!r}")
    raw = mpath.read_bytes()
    try:
        man = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(mpath)!r} is not valid JSON: {exc}") from None
    if not isinstance(man, dict):
        raise InputError(f"{str(mpath)!r} must be a JSON object")
    if "format" in man:
        return _fixsim_vector_set(directory, raw)
    for key in ("inputs", "expected"):
        if key not in man:
            raise InputError(f"manifest.json lacks {key!r}")
    sums = {"manifest.json": hashlib.sha256(raw).hexdigest()}
    paths = {k: _inside(root, man[k], k) for k in ("inputs", "expected", "weights") if k in man}
    for k, p in paths.items():
        sums[man[k]] = hashlib.sha256(p.read_bytes()).hexdigest()
    x, y = _load_raw(paths["inputs"], "inputs"), _load_raw(paths["expected"], "expected")
    if len(x) != len(y):
        raise InputError(f"{len(x)} input samples but {len(y)} expected outputs")
    wb = man.get("word_bytes", 8)
    if wb not in (2, 4, 8):
        raise InputError(f"manifest word_bytes {wb!r} not one of [2, 4, 8]")
    lim = 1 << (8 * wb - 1)
    if x.min() < -lim or x.max() >= lim:
        raise InputError(f"inputs do not fit word_bytes={wb} (int{8 * wb})")
    weights = paths["weights"].read_bytes() if "weights" in paths else None
    return VectorSet(x, y, weights, wb, sums, man)
