"""Vector sets: inputs, a weight image and every layer's expected raw output (docs/vectors.md).

A vector set is a directory any language can read::

    manifest.json      what follows, with the sha256 of every other file
    spec.json          the model spec (canonical JSON; its sha256 is the spec hash)
    weights.img        the weight image (docs/weight_image.md)
    inputs.bin         raw input mantissas, (N, C, H, W) C order
    frames_f32.bin     float32 LE input frames before quantization (float sources only)
    labels.bin         int64 LE class ids (when the source has labels)
    tap_<layer>.bin    raw outputs of each layer, (N, *layer.out_shape)

Raw files are little-endian integers of the narrowest type holding their format
(:func:`fixsim.vectors.storage.storage_dtype`, recorded per file in the manifest;
version 1 sets: all int64).  :func:`load_vector_set` returns int64 either way.

>>> from fixsim.verify.defaults import default_vectors   # vectors/specklenn-snl-default
>>> vs = load_vector_set(default_vectors())
>>> vs.taps["fc2"].shape
(16, 50)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._version import __version__
from .._files import sha256_file
from ..errors import FixsimError, InputError
from ..network.spec import ModelSpec, load_spec
from .errors import (ChecksumError, ManifestError, SpecHashMismatch, UnsafePathError,
                     VectorSetError, VectorShapeError)
from .storage import HashedFile, Taps, expected_dtype, read_array, storage_dtype
from .weight_image import build_image, parse_image, read_image

FORMAT, VERSION = "fixsim-vectors", 2
#: Versions this reader understands (1: every raw file int64; 2: narrowest dtypes).
READ_VERSIONS = (1, 2)
MANIFEST, SPEC_FILE, IMAGE_FILE = "manifest.json", "spec.json", "weights.img"
INPUTS_FILE, FRAMES_FILE, LABELS_FILE = "inputs.bin", "frames_f32.bin", "labels.bin"
#: Frames per network run while writing (bounded memory for large sets: ~83 MB of
#: int64 specklenn-snl taps per chunk in flight).
CHUNK = 256
#: Manifest file names: plain names in the directory, no separators, not hidden.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass
class VectorSet:
    """A loaded vector set.

    Attributes
    ----------
    path : Path
    manifest : dict
    spec : ModelSpec
    inputs : int64 ndarray (N, C, H, W)
        Raw input mantissas (the stored dtype when loaded with ``widen=False``).
    frames : float32 ndarray (N, C, H, W) or None
    labels : int64 ndarray (N,) or None
    class_names : list of str or None
    taps : Taps (a read-only mapping) layer name -> int64 ndarray
        Expected raw outputs, shapes as :func:`fixsim.network.run` returns them
        (``"input"`` is ``inputs``).  Each tap is widened from its stored dtype on first
        access; large files are memory-mapped until then.
    weights : dict tensor name -> int64 ndarray
        Raw weights as :func:`fixsim.network.run` takes them (PyTorch layout).
    weight_image_path : Path
    """

    path: Path
    manifest: dict
    spec: ModelSpec
    inputs: np.ndarray
    frames: np.ndarray | None
    labels: np.ndarray | None
    class_names: list[str] | None
    taps: Taps
    weights: dict
    weight_image_path: Path

    @property
    def n(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def outputs(self) -> np.ndarray:
        """The last layer's expected raw outputs (what a board returns)."""
        return self.taps[self.spec.layers[-1].name]


# ------------------------------------------------------------------ generation
def _command(model, n, source, seed, weights) -> str:
    parts = ["fixsim", "vectors", "gen", "--model", str(model), "--n", str(n), "--source",
             str(source), "--seed", str(seed)]
    if weights is not None:
        parts += ["--weights", str(weights)]
    return " ".join(parts)


def _write_file(tmp: Path, name: str, data, files: dict) -> None:
    f = HashedFile(tmp / name)
    try:
        f.write(data)
    finally:
        files[name] = f.close()


def _write_taps(tmp: Path, spec: ModelSpec, weights: dict, inputs: np.ndarray, progress) -> dict:
    """Run the network over ``inputs`` in chunks and write every layer's tap file.

    Chunks are computed ahead by one worker thread per CPU (each a serial
    :func:`fixsim.network.run`, whose kernels release the GIL), narrowed to the storage
    dtype in the worker, and hashed and written in order by this thread while the next
    chunks compute.  Order of writing is fixed, so the bytes never depend on timing.
    Returns ``{file name: sha256}``.
    """
    from .._threads import resolve_threads
    from ..network.engine import run

    layers = spec.layers
    dtypes = [storage_dtype(layer.out_format) for layer in layers]
    n = len(inputs)

    def job(start: int) -> list:
        res = run(spec, weights, inputs[start:start + CHUNK], threads=1)
        return [np.ascontiguousarray(res[layer.name], dtype=dt)
                for layer, dt in zip(layers, dtypes, strict=True)]

    workers = resolve_threads(None)
    starts = iter(range(0, n, CHUNK))
    writers = [HashedFile(tmp / f"tap_{layer.name}.bin") for layer in layers]
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending = deque(pool.submit(job, s) for _, s in zip(range(workers + 1), starts, strict=False))
            try:
                while pending:
                    parts = pending.popleft().result()
                    nxt = next(starts, None)
                    if nxt is not None:
                        pending.append(pool.submit(job, nxt))
                    for w, arr in zip(writers, parts, strict=True):
                        w.write(arr)
                    if progress is not None:
                        progress(len(parts[0]))
            finally:
                for f in pending:
                    f.cancel()
    finally:
        sums = [w.close() for w in writers]
    return {f"tap_{layer.name}.bin": h for layer, h in zip(layers, sums, strict=True)}


def generate_vector_set(out_dir, model="specklenn-snl", n: int = 64, source="simulated",
                        seed: int = 0, weights=None, *, force: bool = False,
                        word_bits: int | None = None, command: str | None = None,
                        progress=None) -> VectorSet:
    """Generate a vector set and write it atomically to ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Target directory; its parent must exist.  Built in a temporary directory next
        to it and renamed into place.  An existing identical set is left as it is; an
        existing different one is replaced only with ``force``.
    model : str, path or ModelSpec
        Bundled spec name or spec JSON file.
    n : int
        Number of frames.
    source : "simulated" or path
        See :func:`fixsim.vectors.sources.read_source`.
    seed : int
        Data seed of the simulated source and seed of random weights.
    weights : None, "golden", "random" or path
        See :func:`fixsim.vectors.weight_io.load_weights` (None: the golden weights, refused
        when missing).
    force : bool
        Replace an existing, different set.
    word_bits : {16, 32, 64}, optional
        Word width of the weight image (default the smallest that fits).
    command : str, optional
        The command line to record (default: the equivalent ``fixsim vectors gen``).
    progress : callable, optional
        Called with a number of frames just processed (simulation, then network).

    Returns
    -------
    VectorSet
        The set as written (loaded back without re-hashing; taps widened on access).

    Raises
    ------
    InputError
        Bad arguments, sources or weights; an existing different set without ``force``;
        an ``out_dir`` that is not a directory.  Nothing is written on error.
    """
    from .sources import read_source
    from .weight_io import load_weights

    from .._files import check_dir_output
    from .._validate import check_int

    check_int("seed", seed, minimum=0)
    out = check_dir_output(out_dir)
    spec = load_spec(model)
    raw_w, w_record = load_weights(spec, weights, seed=int(seed))
    blob = build_image(spec, raw_w, word_bits=word_bits)
    image = parse_image(blob, spec)
    data = read_source(spec, source, n, int(seed), progress=progress)
    n = len(data.inputs)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent if str(out.parent) else "."))
    try:
        files: dict[str, str] = {}
        _write_file(tmp, SPEC_FILE, (spec.to_json() + "\n").encode(), files)
        _write_file(tmp, IMAGE_FILE, blob, files)
        _write_file(tmp, INPUTS_FILE, np.asarray(data.inputs, storage_dtype(spec.input_format)),
                    files)
        if data.frames is not None:
            _write_file(tmp, FRAMES_FILE, np.asarray(data.frames, "<f4"), files)
        if data.labels is not None:
            _write_file(tmp, LABELS_FILE, np.asarray(data.labels, "<i8"), files)
        files.update(_write_taps(tmp, spec, image.weights, data.inputs, progress))
        manifest = _manifest(spec, n, int(seed), model, source, weights, command, data, w_record,
                             image, files)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _install(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_vector_set(out, verify=False)


def _manifest(spec, n, seed, model, source, weights, command, data, w_record, image, files):
    c, h, w = spec.input_shape
    in_dtype = storage_dtype(spec.input_format)
    taps = [{"layer": "input", "type": "input", "file": INPUTS_FILE, "dtype": in_dtype,
             "shape": [n, c, h, w], "format": str(spec.input_format)}]
    taps += [{"layer": l.name, "type": l.type, "file": f"tap_{l.name}.bin",
              "dtype": storage_dtype(l.out_format), "shape": [n, *l.out_shape],
              "format": str(l.out_format)} for l in spec.layers]
    return {
        "format": FORMAT, "version": VERSION,
        "generator": f"fixsim {__version__}",
        "command": command or _command(model, n, source, seed, weights),
        "seed": seed,
        "model": {"name": spec.name, "spec_file": SPEC_FILE, "spec_sha256": spec.spec_hash()},
        "n": n,
        "source": data.record,
        "weights": {**w_record, "image": IMAGE_FILE, "word_bits": image.word_bits,
                    "image_crc32": f"{image.crc32:08x}"},
        "input": {"file": INPUTS_FILE, "dtype": in_dtype, "shape": [n, c, h, w],
                  "format": str(spec.input_format), "order": "n,c,h,w"},
        "frames": None if data.frames is None else {
            "file": FRAMES_FILE, "dtype": "<f4", "shape": [n, c, h, w],
            "note": "float frames before input quantization"},
        "labels": None if data.labels is None else {
            "file": LABELS_FILE, "dtype": "<i8", "shape": [n], "class_names": data.class_names},
        "taps": taps,
        "output_layer": spec.layers[-1].name,
        "files": dict(sorted(files.items())),
    }


def _same_tree(a: Path, b: Path) -> bool:
    names_a = sorted(p.name for p in a.iterdir())
    if names_a != sorted(p.name for p in b.iterdir()):
        return False
    for name in names_a:
        pa, pb = a / name, b / name
        if not (pa.is_file() and pb.is_file() and not pb.is_symlink()):
            return False
        if pa.stat().st_size != pb.stat().st_size:
            return False
        with open(pa, "rb") as fa, open(pb, "rb") as fb:
            while True:
                ba, bb = fa.read(1 << 20), fb.read(1 << 20)
                if ba != bb:
                    return False
                if not ba:
                    break
    return True


def _install(tmp: Path, out: Path, force: bool) -> None:
    """Move the finished set into place: new, identical (kept), or replaced with force."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    if not out.exists():
        os.rename(tmp, out)
        return
    if _same_tree(tmp, out):
        shutil.rmtree(tmp)
        return
    if not force:
        raise InputError(f"{str(out)!r} already holds a different vector set (or other files); "
                         "use --force to replace it")
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rmdir(old)
    try:
        os.rename(out, old)
        os.rename(tmp, out)
    except BaseException:
        # Interrupted between the two renames: put the previous set back.
        if not out.exists() and old.exists():
            os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------ loading
def _need(obj, key: str, kind, where: str = "manifest"):
    if not isinstance(obj, dict) or key not in obj:
        raise ManifestError(f"{where} lacks {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ManifestError(f"{where} {key!r} has the wrong type ({type(value).__name__})")
    return value


def safe_file(root: Path, name, what: str) -> Path:
    """``root/name`` for a manifest file name; refuses paths leaving ``root`` and symlinks.

    Raises
    ------
    UnsafePathError
        Absolute paths, separators, ``..``, hidden names, symlinks.
    VectorSetError
        A missing file.
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or name in (".", ".."):
        raise UnsafePathError(f"{what} file {name!r} is not a plain file name inside the vector "
                              "directory (absolute paths, separators, '..' and hidden names are refused)")
    path = root / name
    if path.is_symlink():
        raise UnsafePathError(f"{what} file {name!r} is a symlink (refused: it could point "
                              "outside the vector directory)")
    if not path.is_file():
        raise VectorSetError(f"{what} file {name!r} is missing from {str(root)!r}")
    return path




def _array(root: Path, entry, what: str, files: dict, dtype: str, shape: tuple) -> np.ndarray:
    name = _need(entry, "file", str, what)
    path = safe_file(root, name, what)
    if name not in files:
        raise ManifestError(f"{what} file {name!r} has no sha256 in manifest 'files'")
    if entry.get("dtype") != dtype:
        raise VectorShapeError(f"{what} dtype {entry.get('dtype')!r} is not {dtype!r}")
    got = entry.get("shape")
    if not isinstance(got, list) or [int(s) if isinstance(s, int) else -1 for s in got] != list(shape):
        raise VectorShapeError(f"{what} shape {got!r} is not the expected {list(shape)}")
    itemsize = np.dtype(dtype).itemsize
    size = int(np.prod(shape)) * itemsize
    if path.stat().st_size != size:
        raise VectorShapeError(f"{what} file {name!r} has {path.stat().st_size} bytes, expected "
                               f"{size} for shape {list(shape)} {dtype}")
    return read_array(path, dtype, shape)


def _check_range(arr: np.ndarray, fmt, what: str) -> None:
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < fmt.raw_min or hi > fmt.raw_max:
            raise VectorShapeError(f"{what}: value {lo if lo < fmt.raw_min else hi} is outside "
                                   f"the raw range of {fmt} [{fmt.raw_min}, {fmt.raw_max}]")


def load_vector_set(path, verify: bool = True, *, widen: bool = True) -> VectorSet:
    try:
        return _load_vector_set(path, verify, widen=widen)
    except InputError as exc:
        if str(path) in str(exc):
            raise
        # Name the set: "tap_fc2.bin: sha256 differs" alone does not say which set.
        raise type(exc)(f"vector set {str(path)!r}: {exc}") from None


def _load_vector_set(path, verify: bool = True, *, widen: bool = True) -> VectorSet:
    """Load a vector set, validating its manifest, files, shapes and weight image.

    Parameters
    ----------
    path : path
        The vector-set directory.
    verify : bool
        Also recompute the sha256 of every file and range-check every tap (reads all
        data; without it only sizes, the spec hash and the weight image are checked).
    widen : bool
        Return inputs and taps as int64 (default; taps widened on first access).
        ``False`` keeps the stored dtypes (version 2: the narrowest type of each
        format, e.g. int16; large files stay memory-mapped) for streaming consumers.

    Returns
    -------
    VectorSet
        Version 1 and version 2 sets alike.

    Raises
    ------
    ManifestError, UnsafePathError, ChecksumError, VectorShapeError, VectorSetError
        A malformed set (one line naming the file or field).
    SpecHashMismatch, WeightImageError
        spec.json or the weight image disagree with the manifest.
    """
    root = Path(path)
    if not root.is_dir():
        raise VectorSetError(f"vector set {str(path)!r} is not a directory")
    mpath = safe_file(root, MANIFEST, "manifest")
    try:
        man = json.loads(mpath.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest.json is not valid JSON: {exc}") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise ManifestError(f"manifest.json is not a {FORMAT} manifest (format "
                            f"{man.get('format') if isinstance(man, dict) else None!r})")
    version = man.get("version")
    if isinstance(version, bool) or version not in READ_VERSIONS:
        raise ManifestError(f"vector-set version {version!r} not supported (this fixsim reads "
                            f"versions {', '.join(map(str, READ_VERSIONS))})")
    files = _need(man, "files", dict)
    for name, digest in files.items():
        safe_file(root, name, "listed")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ManifestError(f"manifest sha256 of {name!r} is not 64 hex digits")
        if verify and sha256_file(root / name) != digest:
            raise ChecksumError(f"{name}: sha256 differs from the manifest (corrupted or edited file)")
    model = _need(man, "model", dict)
    spec_path = safe_file(root, _need(model, "spec_file", str, "manifest model"), "spec")
    if spec_path.name not in files:
        raise ManifestError(f"spec file {spec_path.name!r} has no sha256 in manifest 'files'")
    try:
        spec = load_spec(spec_path)
    except FixsimError as exc:
        raise ManifestError(f"{spec_path.name}: {exc}") from None
    if spec.spec_hash() != model.get("spec_sha256"):
        raise SpecHashMismatch(f"{spec_path.name} hashes to {spec.spec_hash()[:16]}..., the "
                               f"manifest says {str(model.get('spec_sha256'))[:16]}...")
    n = _need(man, "n", int)
    if n < 1:
        raise ManifestError(f"manifest n {n} must be >= 1")
    winfo = _need(man, "weights", dict)
    img_path = safe_file(root, _need(winfo, "image", str, "manifest weights"), "weight image")
    if img_path.name not in files:
        raise ManifestError(f"weight image {img_path.name!r} has no sha256 in manifest 'files'")
    image = read_image(img_path, spec)
    shape = (n, *spec.input_shape)
    inputs = _array(root, _need(man, "input", dict), "input", files,
                    expected_dtype(version, spec.input_format), shape)
    if _need(man["input"], "format", str, "manifest input") != str(spec.input_format):
        raise VectorShapeError(f"input format {man['input']['format']!r} is not the spec's "
                               f"{str(spec.input_format)!r}")
    frames = labels = class_names = None
    if man.get("frames") is not None:
        frames = _array(root, man["frames"], "frames", files, "<f4", shape)
    if man.get("labels") is not None:
        labels = _array(root, man["labels"], "labels", files, "<i8", (n,))
        class_names = man["labels"].get("class_names")
        if class_names is not None and (not isinstance(class_names, list) or
                                        not all(isinstance(c, str) for c in class_names)):
            raise ManifestError("manifest labels 'class_names' must be a list of strings")
        if class_names and labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise VectorShapeError(f"labels must be ids in [0, {len(class_names)})")
    taps = _taps(root, man, spec, n, files, verify, version)
    if verify:
        _check_range(inputs, spec.input_format, "inputs")
    inputs = np.asarray(inputs, np.int64) if widen else inputs
    taps["input"] = inputs
    return VectorSet(root, man, spec, inputs, frames, labels, class_names, Taps(taps, widen),
                     image.weights, img_path)


def _taps(root: Path, man: dict, spec: ModelSpec, n: int, files: dict, verify: bool,
          version: int) -> dict:
    """The stored tap arrays (``"input"`` checked here, its array set by the caller)."""
    entries = _need(man, "taps", list)
    expect = [("input", tuple(spec.input_shape), spec.input_format)]
    expect += [(l.name, tuple(l.out_shape), l.out_format) for l in spec.layers]
    if [e.get("layer") if isinstance(e, dict) else None for e in entries] != [e[0] for e in expect]:
        raise ManifestError(f"manifest taps must be {[e[0] for e in expect]} in this order")
    taps = {}
    for entry, (name, shape, fmt) in zip(entries, expect, strict=True):
        if entry.get("format") != str(fmt):
            raise VectorShapeError(f"tap {name!r} format {entry.get('format')!r} is not the "
                                   f"spec's {str(fmt)!r}")
        arr = _array(root, entry, f"tap {name!r}", files, expected_dtype(version, fmt),
                     (n, *shape))
        if verify:
            _check_range(arr, fmt, f"tap {name!r}")
        taps[name] = arr
    return taps



load_vector_set.__doc__ = _load_vector_set.__doc__

__all__ = ["VectorSet", "generate_vector_set", "load_vector_set", "safe_file", "FORMAT",
           "VERSION", "READ_VERSIONS"]
