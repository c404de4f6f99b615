"""Weights in and out: HDF5 (SNL's storage), PyTorch checkpoints, npz, weight images.

:func:`load_weights` turns any weight source into the raw dict ``fixsim.network.run``
takes, plus a JSON-ready record of where it came from (for manifests):

``None``      the same as ``"golden"``: never a silent fallback to random weights
``"golden"``  ``golden/weights_folded.npz`` (``$FIXSIM_GOLDEN`` overrides the directory);
              refused when missing or made for another architecture
``"random"``  seeded PyTorch-style random weights quantized to the spec
a path        ``.npz`` (float arrays are quantized, integer arrays taken as raw),
              ``.pt``/``.pth`` (a state dict of the inference variant; needs torch),
              ``.h5``/``.hdf5`` (:func:`export_hdf5` layout), ``.img``/``.bin`` (weight image)

HDF5 layout (docs/weight_image.md): root attributes ``format = "fixsim-weights-hdf5"``,
``version = 1``, ``generator``, ``spec_name``, ``spec_sha256``, ``spec_json``; one group
per layer with weights, one dataset per tensor role (``weight``, ``bias``: raw int64,
PyTorch layout) carrying attributes ``format`` (text), ``width``, ``int_bits``, ``signed``; and
``weight_float``/``bias_float`` (float64, the exact values of the raws).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._version import __version__
from .._files import sha256_file
from ..errors import InputError
from ..fixed import to_float
from ..network.spec import load_spec
from ..network.weights import check_weights, quantize_weights, random_weights
from .errors import ImageShapeError, RawRangeError, SpecHashMismatch

HDF5_FORMAT = "fixsim-weights-hdf5"
GOLDEN_FILE = "weights_folded.npz"


def golden_dir() -> Path:
    """``$FIXSIM_GOLDEN``, else the bundled golden model (rule: :mod:`fixsim._bundle`)."""
    from .._bundle import golden_dir as locate

    return locate()




def _floats_or_raw(spec, arrays: dict, what: str) -> dict:
    """Float arrays are quantized to the spec; integer arrays are checked as raw."""
    kinds = {np.asarray(a).dtype.kind for a in arrays.values()}
    if kinds <= {"i", "u"}:
        return check_weights(spec, arrays)
    if kinds <= {"f", "i", "u"}:
        return quantize_weights(spec, {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()},
                                warn=False)
    raise InputError(f"{what}: arrays must be numbers, got dtypes {sorted(kinds)}")


def read_npz(spec, path: Path) -> dict:
    from .._files import read_npz as _read

    arrays = _read(path, "weights")
    if any(a.dtype.kind == "f" and not np.isfinite(a).all() for a in arrays.values()):
        raise InputError(f"weights {str(path)!r} hold NaN or inf values")
    return _floats_or_raw(spec, arrays, path.name)


def read_checkpoint(spec, path: Path) -> dict:
    """A PyTorch state dict (``torch.save``) of the inference variant, quantized to ``spec``.

    Keys may carry a ``module.``/``model.`` prefix; tensors not named by the spec
    (BatchNorm statistics of an unfolded model...) are an error, not silently dropped.
    """

    from .._files import torch_load

    state = torch_load(path, "weights")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"{path.name}: expected a state dict, got {type(state).__name__}")
    out = {}
    for key, value in state.items():
        name = str(key)
        for prefix in ("module.", "model."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        if not hasattr(value, "detach"):
            raise InputError(f"{path.name}: entry {key!r} is not a tensor")
        out[name] = value.detach().cpu().double().numpy()
    return quantize_weights(spec, out, warn=False)


def export_hdf5(path: "str | os.PathLike", spec, weights: dict) -> None:
    """Write raw weights (with exact float copies) as HDF5, atomically.

    Raises
    ------
    InputError
        Weights that do not match ``spec``.
    """
    import h5py

    from .._files import atomic_path

    spec = load_spec(spec)
    raw = check_weights(spec, weights)
    fmts = spec.weight_formats()
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.attrs.update({"format": HDF5_FORMAT, "version": 1,
                            "generator": f"fixsim {__version__}", "spec_name": spec.name,
                            "spec_sha256": spec.spec_hash(), "spec_json": spec.to_json()})
            for name, arr in raw.items():
                layer, kind = name.split(".")
                g = f.require_group(layer)
                fmt = fmts[name]
                d = g.create_dataset(kind, data=arr)
                d.attrs.update({"format": str(fmt), "width": fmt.width, "int_bits": fmt.int_bits,
                                "signed": int(fmt.signed), "order": "pytorch"})
                g.create_dataset(f"{kind}_float", data=to_float(arr, fmt))


def import_hdf5(path: "str | os.PathLike", spec) -> dict:
    """Read raw weights from an :func:`export_hdf5` file, checked against ``spec``.

    Raises
    ------
    SpecHashMismatch
        The file records another spec.
    ImageShapeError
        Missing tensors, wrong shapes, formats that differ from the spec's.
    RawRangeError
        Raw values outside their format, or float copies that disagree with them.
    InputError
        Not an HDF5 file of this layout.
    """
    import h5py

    spec = load_spec(spec)
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path.name}: not an HDF5 file") from None
    fmts = spec.weight_formats()
    out = {}
    with f:
        if f.attrs.get("format") != HDF5_FORMAT:
            raise InputError(f"{path.name}: not a {HDF5_FORMAT} file (format attribute "
                             f"{f.attrs.get('format')!r})")
        if f.attrs.get("spec_sha256") != spec.spec_hash():
            raise SpecHashMismatch(f"{path.name}: weights are for spec hash "
                                   f"{str(f.attrs.get('spec_sha256'))[:16]}..., not {spec.name!r}")
        for name, shape in spec.weight_shapes().items():
            layer, kind = name.split(".")
            d = f.get(f"{layer}/{kind}")
            if not isinstance(d, h5py.Dataset):
                raise ImageShapeError(f"{path.name}: no dataset /{layer}/{kind}")
            if d.shape != shape or d.dtype.kind not in "iu":
                raise ImageShapeError(f"{path.name}: /{layer}/{kind} is {d.dtype} {d.shape}, "
                                      f"expected raw integers {shape}")
            if d.attrs.get("format") != str(fmts[name]):
                raise ImageShapeError(f"{path.name}: /{layer}/{kind} format "
                                      f"{d.attrs.get('format')!r} is not the spec's {str(fmts[name])!r}")
            arr = d[()].astype(np.int64)
            try:
                out[name] = check_weights_one(arr, fmts[name], f"{path.name}: /{layer}/{kind}")
            except InputError as exc:
                raise RawRangeError(str(exc)) from None
            fl = f.get(f"{layer}/{kind}_float")
            if fl is not None and not np.array_equal(fl[()], to_float(out[name], fmts[name])):
                raise RawRangeError(f"{path.name}: /{layer}/{kind}_float disagrees with the raw values")
        extra = sorted(set(f) - {n.split(".")[0] for n in fmts})
        if extra:
            raise ImageShapeError(f"{path.name}: group /{extra[0]} is not a layer with weights "
                                  f"of spec {spec.name!r}")
    return out


def check_weights_one(arr: np.ndarray, fmt, name: str) -> np.ndarray:
    from ..fixed import check_raw

    return check_raw(arr, fmt, name).astype(np.int64)


def load_weights(spec, source=None, *, seed: int = 0) -> tuple[dict, dict]:
    """Raw weights for ``spec`` from a source, and a record of the source.

    Parameters
    ----------
    spec : ModelSpec, name or path
    source : None, "golden", "random" or path
        See the module docstring.
    seed : int
        Seed of the random weights (used only when random weights are chosen).

    Returns
    -------
    weights : dict name -> int64 array (PyTorch layout)
    record : dict
        ``kind`` ("golden", "random", "file"), and ``file``/``sha256`` or ``seed``.

    Raises
    ------
    InputError
        A missing or unreadable file, weights that do not match the spec; "golden"
        when the golden weights are missing or for another architecture.
    """
    from .._validate import check_int

    check_int("seed", seed, minimum=0)
    check_int("seed", seed, minimum=0, maximum=2**63 - 1)
    spec = load_spec(spec)
    if source is None or source == "golden":
        gpath = golden_dir() / GOLDEN_FILE
        hint = "give random weights explicitly (--weights random) or a weights file"
        if not gpath.is_file():
            raise InputError(f"golden weights {str(gpath)!r} not found ($FIXSIM_GOLDEN names "
                             f"the golden model directory); {hint}")
        try:
            w = read_npz(spec, gpath)
        except InputError as exc:
            raise InputError(f"golden weights do not fit spec {spec.name!r} ({exc}); "
                             f"{hint}") from None
        return w, {"kind": "golden", "file": f"golden/{GOLDEN_FILE}", "sha256": sha256_file(gpath)}
    if source == "random":
        return random_weights(spec, seed), {"kind": "random", "seed": int(seed),
                                            "generator": "fixsim.network.weights.random_weights"}
    path = Path(source)
    if not path.is_file():
        raise InputError(f"weights file {str(path)!r} does not exist (or give golden/random)")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        w = read_npz(spec, path)
    elif suffix in (".pt", ".pth"):
        w = read_checkpoint(spec, path)
    elif suffix in (".h5", ".hdf5"):
        w = import_hdf5(path, spec)
    elif suffix in (".img", ".bin"):
        from .weight_image import read_image

        w = read_image(path, spec).weights
    else:
        raise InputError(f"weights file {path.name!r}: unknown type {suffix!r}; expected .npz, "
                         ".pt/.pth, .h5/.hdf5 or .img/.bin")
    return w, {"kind": "file", "file": path.name, "sha256": sha256_file(path)}


def describe_weights(record: dict) -> str:
    """One line naming the weights of a :func:`load_weights` record.

    >>> describe_weights({"kind": "random", "seed": 3})
    'random (seed 3)'
    >>> describe_weights({"kind": "golden", "file": "golden/weights_folded.npz", "sha256": "ab" * 32})
    'golden golden/weights_folded.npz (sha256 abababababababab...)'
    """
    if record.get("kind") == "random":
        return f"random (seed {record.get('seed')})"
    return f"{record.get('kind')} {record.get('file')} (sha256 {str(record.get('sha256'))[:16]}...)"


__all__ = ["load_weights", "describe_weights", "export_hdf5", "import_hdf5", "read_npz", "read_checkpoint",
           "golden_dir", "HDF5_FORMAT"]
