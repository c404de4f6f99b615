"""``fixsim data import``: detector runs (CXI/HDF5 or .npy) into a frames file.

The preprocessing is the one of :func:`fixsim.data.read_cxi` and of the simulator, step
for step, so imported frames are what the model saw in training:

1. crop a ``crop`` x ``crop`` window around the beam centre
   (:func:`~fixsim.data.preprocess.crop_window`);
2. zero masked pixels (mask file and rectangles, full-frame coordinates);
3. non-finite pixels: zeroed like masked pixels when binning or standardizing (a NaN
   would poison the whole mean), else kept, counted and warned about once; the
   frames' consumers quantize them as the ap_fixed headers do;
4. ``bin`` x ``bin`` block mean (:func:`~fixsim.data.preprocess.bin_mean`);
5. per-image ``(x - mean) / std`` (:func:`~fixsim.data.preprocess.standardize`).

Frames are read and written ``chunk`` at a time, so runs larger than memory work; the
output is written to a temporary file and renamed (nothing is left on error, Ctrl-C or
SIGTERM).  The file layout is described in :mod:`fixsim.data.frames_file`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError, closest
from .config import CLASS_NAMES
from .frames_file import FORMAT
from .preprocess import bin_mean, crop_window, standardize

#: Frames datasets tried in order when ``dataset`` is not given (CXI's usual places).
DEFAULT_DATASETS = ("/entry_1/data_1/data", "/entry_1/instrument_1/detector_1/data",
                    "/entry_1/image_1/data", "/data", "/frames")
HDF5_SUFFIXES = (".cxi", ".h5", ".hdf5", ".nxs")
_RECT = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*$")
_LABEL_COLUMNS = ("label", "labels", "class", "class_name", "class_id")


@dataclass(frozen=True)
class ImportOptions:
    """Preprocessing and labels of an import (every field is recorded in the file).

    Parameters
    ----------
    dataset : str, optional
        Frames dataset of an HDF5 source (default: the first of :data:`DEFAULT_DATASETS`).
    mask : path, optional
        Pixel mask file (.npy, or .h5 with one 2-D dataset or ``mask_dataset``), shape
        (H, W) of the detector frame, boolean or 0/1.
    mask_dataset : str, optional
        Dataset of the mask inside an HDF5 mask file.
    mask_semantics : {"good", "bad"}
        "good": non-zero marks usable pixels; "bad": non-zero marks bad pixels.
    mask_rects : tuple of (y0, y1, x0, x1)
        Rectangles of bad pixels, half-open (rows y0..y1-1, cols x0..x1-1).
    centre : (row, col), optional
        Beam centre in pixel-index coordinates (default: the file's ``image_center`` if
        recorded, else the frame centre).  Only used to place the crop window.
    crop : int, optional
        Side of the square window around the centre (default: the whole frame).
    bin : int
        Block-mean factor (1: none).
    standardize : bool
        Per-image standardization.
    labels : path, optional
        Labels file (.npy, .h5, .csv/.txt): class names or ids, one per frame.
    """

    dataset: "str | None" = None
    mask: "str | None" = None
    mask_dataset: "str | None" = None
    mask_semantics: str = "good"
    mask_rects: tuple = ()
    centre: "tuple[float, float] | None" = None
    crop: "int | None" = None
    bin: int = 1
    standardize: bool = False
    labels: "str | None" = None


# --------------------------------------------------------------------------- parsing

def parse_rect(text: str) -> tuple:
    """``"y0:y1,x0:x1"`` -> (y0, y1, x0, x1), half-open pixel ranges.

    >>> parse_rect("10:20,0:5")
    (10, 20, 0, 5)

    Raises
    ------
    InputError
        Not of that form, or an empty range.
    """
    m = _RECT.match(str(text))
    if not m:
        raise InputError(f"--mask-rect {text!r} must be y0:y1,x0:x1 (non-negative integer "
                         "pixel ranges, end excluded), e.g. 0:10,100:120")
    y0, y1, x0, x1 = map(int, m.groups())
    if y1 <= y0 or x1 <= x0:
        raise InputError(f"--mask-rect {text!r} is empty: the end of a range must be greater "
                         "than its start")
    return (y0, y1, x0, x1)


def parse_centre(text: str) -> tuple:
    """``"Y,X"`` -> (row, col) as floats.

    >>> parse_centre("511.5,512")
    (511.5, 512.0)
    """
    parts = str(text).split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        y, x = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"--center {text!r} must be Y,X (row and column of the beam centre "
                         "in pixels), e.g. 511.5,511.5") from None
    if not (np.isfinite(y) and np.isfinite(x)):
        raise InputError(f"--center {text!r} must be finite")
    return (y, x)


# --------------------------------------------------------------------------- the source

class _Source:
    """Frames of the input file: shape, chunked reads, recorded centre, provenance."""

    def __init__(self, path: Path, dataset: "str | None", stack: contextlib.ExitStack):
        from .._files import sha256_file

        self.path = path
        self.recorded_centre = None
        suffix = path.suffix.lower()
        if suffix == ".npy":
            from .._files import read_npy

            if dataset is not None:
                raise InputError(f"--dataset applies to HDF5 sources; {path.name!r} is .npy")
            self.data = read_npy(path, "source", mmap=True)
            self.dataset, self.type = None, "npy"
        elif suffix in HDF5_SUFFIXES:
            from .store import open_hdf5

            f = stack.enter_context(open_hdf5(path, "source", "an HDF5/CXI file"))
            self.data, self.dataset = _frames_dataset(f, dataset, path)
            self.type = "cxi" if suffix == ".cxi" else "hdf5"
            self.recorded_centre = _recorded_centre(f, self.dataset)
        else:
            raise InputError(f"source {path.name!r}: unknown file type {suffix!r}; expected "
                             ".cxi/.h5/.hdf5/.nxs (HDF5) or .npy")
        if self.data.dtype.kind not in "fiu":
            raise InputError(f"source {path.name!r}: frames of dtype {self.data.dtype} are not "
                             "numbers")
        if self.data.ndim not in (2, 3):
            raise InputError(f"source {path.name!r}: frames have shape {self.data.shape}; "
                             "expected (N, H, W) frames or one (H, W) frame")
        self.single = self.data.ndim == 2
        self.n = 1 if self.single else int(self.data.shape[0])
        self.shape = tuple(int(s) for s in self.data.shape[-2:])
        if self.n == 0 or 0 in self.shape:
            raise InputError(f"source {path.name!r} holds no pixels (shape {self.data.shape})")
        self.sha256 = sha256_file(path)

    def read(self, start: int, stop: int, r0: int, c0: int, h: int, w: int) -> np.ndarray:
        """Frames start..stop-1, window rows r0..r0+h-1, cols c0..c0+w-1, as float64."""
        if self.single:
            block = self.data[r0:r0 + h, c0:c0 + w][None]
        else:
            block = self.data[start:stop, r0:r0 + h, c0:c0 + w]
        return np.array(block, dtype=np.float64)

    def record(self) -> dict:
        return {"file": self.path.name, "sha256": self.sha256, "type": self.type,
                "dataset": self.dataset, "frames": self.n, "frame_shape": list(self.shape),
                "dtype": str(self.data.dtype)}


def _datasets(f) -> list:
    import h5py

    found = []
    f.visititems(lambda k, v: found.append(("/" + k, v.shape))
                 if isinstance(v, h5py.Dataset) else None)
    return found


def _frames_dataset(f, name: "str | None", path: Path):
    import h5py

    if name is not None and not str(name).strip("/"):
        raise InputError(f"--dataset {name!r} must name a dataset of {path.name!r}")
    names = [name] if name is not None else list(DEFAULT_DATASETS)
    for n in names:
        obj = f.get(n)
        if isinstance(obj, h5py.Dataset):
            return obj, n
    cands = [f"{k} {tuple(s)}" for k, s in _datasets(f) if len(s) in (2, 3)]
    listed = ", ".join(cands[:8]) + (" ..." if len(cands) > 8 else "")
    what = (f"no dataset {name!r}" + closest(name, [k for k, _ in _datasets(f)])
            if name is not None else
            f"none of the usual frames datasets ({', '.join(DEFAULT_DATASETS)})")
    raise InputError(f"{path.name!r} has {what}; pass --dataset, candidates: "
                     f"{listed or 'no 2-D or 3-D dataset'}")


def _recorded_centre(f, dataset: str):
    """``image_center`` [x, y(, z)] in pixels next to the frames, or in /entry_1/image_1."""
    import h5py

    parent = dataset.rsplit("/", 1)[0] or "/"
    for where in (f"{parent}/image_center", "/entry_1/image_1/image_center"):
        obj = f.get(where)
        if isinstance(obj, h5py.Dataset):
            v = np.asarray(obj[()], dtype=np.float64).reshape(-1)
            if v.size >= 2 and np.isfinite(v[:2]).all():
                return (float(v[1]), float(v[0])), where
    return None


# --------------------------------------------------------------------------- mask, labels

def _hdf5_array(path: Path, dataset: "str | None", what: str, prefer: tuple) -> np.ndarray:
    import h5py

    from .store import open_hdf5

    with open_hdf5(path, what, "an HDF5 file") as f:
        if dataset is not None:
            obj = f.get(dataset)
            if not isinstance(obj, h5py.Dataset):
                raise InputError(f"{what} {path.name!r} has no dataset {dataset!r}"
                                 f"{closest(dataset, [k for k, _ in _datasets(f)])}")
            return obj[()], obj.attrs.get("class_names")
        for name in prefer:
            if isinstance(f.get(name), h5py.Dataset):
                return f[name][()], f[name].attrs.get("class_names")
        found = _datasets(f)
        if len(found) != 1:
            raise InputError(f"{what} {path.name!r} holds {len(found)} datasets and none is "
                             f"named {' or '.join(prefer)}: "
                             f"{', '.join(k for k, _ in found[:6]) or 'none'}")
        obj = f[found[0][0]]
        return obj[()], obj.attrs.get("class_names")


def load_mask(path: "str | os.PathLike", shape: tuple, semantics: str = "good",
              dataset: "str | None" = None) -> np.ndarray:
    """A mask file as a full-frame boolean array, True = usable pixel.

    Raises
    ------
    InputError
        Unreadable file, a shape other than ``shape``, values other than 0/1/booleans.
    """
    from .._files import read_npy

    if semantics not in ("good", "bad"):
        raise InputError(f"mask semantics {semantics!r} unknown{closest(semantics, ('good', 'bad'))}"
                         "; valid: good, bad")
    path = Path(path)
    if path.suffix.lower() == ".npy":
        mask = read_npy(path, "--mask")
    else:
        mask, _ = _hdf5_array(path, dataset, "--mask", ("mask", "/entry_1/mask"))
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise InputError(f"--mask {path.name!r} has shape {mask.shape}; the frames are "
                         f"{shape[0]}x{shape[1]}")
    if mask.dtype.kind not in "biu" or not np.isin(mask, (0, 1)).all():
        raise InputError(f"--mask {path.name!r} must hold booleans or 0/1 values "
                         f"(dtype {mask.dtype})")
    nonzero = mask != 0
    return nonzero if semantics == "good" else ~nonzero


def _label_values(path: Path):
    """Raw label values of a file: (1-D array of ints or strings, class_names attr)."""
    from .._files import read_npy, read_text

    suffix = path.suffix.lower()
    if suffix == ".npy":
        return read_npy(path, "--labels"), None
    if suffix in HDF5_SUFFIXES:
        return _hdf5_array(path, None, "--labels", ("labels", "/labels"))
    if suffix in (".csv", ".txt"):
        rows = [r for r in csv.reader(io.StringIO(read_text(path, "--labels")))
                if any(c.strip() for c in r)]
        if not rows:
            raise InputError(f"--labels {path.name!r} holds no labels")
        head = [c.strip().lower() for c in rows[0]]
        col = next((head.index(c) for c in _LABEL_COLUMNS if c in head), None)
        if col is not None:
            rows = rows[1:]
        elif len(head) == 1:
            col = 0
        else:
            raise InputError(f"--labels {path.name!r}: {len(head)} columns and no header "
                             f"naming the label column ({', '.join(_LABEL_COLUMNS)})")
        try:
            return np.array([r[col].strip() for r in rows]), None
        except IndexError:
            raise InputError(f"--labels {path.name!r}: a row has fewer than {col + 1} "
                             "columns") from None
    raise InputError(f"--labels {path.name!r}: unknown file type {suffix!r}; expected .npy, "
                     ".h5 or .csv")


def load_labels(path: "str | os.PathLike", n: int) -> np.ndarray:
    """Labels file -> (n,) int64 ids into :data:`~fixsim.data.config.CLASS_NAMES`.

    Values are class names (``single_hit``...) or ids 0-3; an HDF5 dataset with a
    ``class_names`` attribute may use its own ids, mapped by name.

    Raises
    ------
    InputError
        Unreadable file, a count other than ``n``, unknown names or ids.
    """
    path = Path(path)
    values, attr_names = _label_values(path)
    values = np.asarray(values)
    if values.ndim != 1:
        raise InputError(f"--labels {path.name!r} has shape {values.shape}; expected one "
                         "label per frame (N,)")
    if len(values) != n:
        raise InputError(f"--labels {path.name!r} holds {len(values)} labels for {n} frames")
    if values.dtype.kind == "S":
        values = values.astype(str)
    if values.dtype.kind == "U":
        if all(re.fullmatch(r"[+-]?\d+", v) for v in values):
            values = values.astype(np.int64)
        else:
            return _ids_of_names(values, path)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values % 1 == 0):
        values = values.astype(np.int64)
    if values.dtype.kind not in "iu":
        raise InputError(f"--labels {path.name!r}: dtype {values.dtype} is neither class "
                         "names nor integer class ids")
    if attr_names is not None:
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(attr_names)]
        bad = values[(values < 0) | (values >= len(names))]
        if bad.size:
            raise InputError(f"--labels {path.name!r}: id {int(bad[0])} outside its "
                             f"class_names ({len(names)} names)")
        return _ids_of_names(np.array(names)[values], path)
    bad = values[(values < 0) | (values >= len(CLASS_NAMES))]
    if bad.size:
        raise InputError(f"--labels {path.name!r}: class id {int(bad[0])} outside 0.."
                         f"{len(CLASS_NAMES) - 1} ({', '.join(CLASS_NAMES)})")
    return values.astype(np.int64)


def _ids_of_names(names: np.ndarray, path: Path) -> np.ndarray:
    index = {name: i for i, name in enumerate(CLASS_NAMES)}
    for name in dict.fromkeys(names.tolist()):
        if name not in index:
            raise InputError(f"--labels {path.name!r}: unknown class {name!r}"
                             f"{closest(name, CLASS_NAMES)}; classes: {', '.join(CLASS_NAMES)}")
    return np.array([index[v] for v in names.tolist()], dtype=np.int64)


# --------------------------------------------------------------------------- the import

@contextlib.contextmanager
def _unreadable_as_input_error(source: Path):
    """h5py raises OSError/KeyError/ValueError for damaged files after a successful open
    (and OSError for a full disk while writing): one line naming the source."""
    try:
        yield
    except (OSError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, InputError):
            raise
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"source {source.name!r}: reading it (a damaged or truncated file?) "
                         f"or writing the output failed ({text})") from None


@dataclass
class _Plan:
    """Everything checked before the first frame is read."""

    r0: int
    c0: int
    h: int
    w: int
    valid: "np.ndarray | None"
    centre: "tuple | None"
    centre_from: str
    labels: "np.ndarray | None"
    record: dict


def _plan(src: _Source, opts: ImportOptions) -> _Plan:
    from .._validate import check_int

    h, w = src.shape
    crop = None if opts.crop is None else check_int("--crop", opts.crop, minimum=1)
    binf = check_int("--bin", opts.bin, minimum=1)
    centre, centre_from = opts.centre, "--center"
    if centre is not None and crop is None:
        raise InputError("--center places the --crop window; give --crop too")
    if centre is None and src.recorded_centre is not None:
        centre, where = src.recorded_centre
        centre_from = f"the file's {where}"
    elif centre is None:
        centre, centre_from = ((h - 1) / 2, (w - 1) / 2), "the frame centre"
    if crop is not None:
        r0, c0 = crop_window((h, w), centre, crop)
        ch = cw = crop
    else:
        r0, c0, ch, cw = 0, 0, h, w
    if ch % binf or cw % binf:
        raise InputError(f"{'--crop ' + str(crop) if crop else f'frame {h}x{w}'} is not a "
                         f"multiple of --bin {binf}")
    valid = None
    mask_sha = None
    if opts.mask is not None:
        from .._files import sha256_file

        valid = load_mask(opts.mask, (h, w), opts.mask_semantics, opts.mask_dataset)
        mask_sha = sha256_file(opts.mask)
    for (y0, y1, x0, x1) in opts.mask_rects:
        if y1 > h or x1 > w:
            raise InputError(f"--mask-rect {y0}:{y1},{x0}:{x1} reaches outside the {h}x{w} "
                             "frame")
        valid = np.ones((h, w), bool) if valid is None else valid
        valid[y0:y1, x0:x1] = False
    if valid is not None:
        valid = valid[r0:r0 + ch, c0:c0 + cw]
    labels = labels_sha = None
    if opts.labels is not None:
        from .._files import sha256_file

        labels = load_labels(opts.labels, src.n)
        labels_sha = sha256_file(opts.labels)
    record = {**asdict(opts), "mask_rects": [list(r) for r in opts.mask_rects],
              "mask": Path(opts.mask).name if opts.mask else None, "mask_sha256": mask_sha,
              "labels": Path(opts.labels).name if opts.labels else None,
              "labels_sha256": labels_sha, "crop": crop, "bin": binf,
              "centre": list(centre) if crop is not None else None,
              "centre_from": centre_from if crop is not None else None,
              "window": {"row": r0, "col": c0, "rows": ch, "cols": cw},
              "masked_pixels": 0 if valid is None else int((~valid).sum()),
              "nonfinite_pixels": "zeroed" if (binf > 1 or opts.standardize) else "kept"}
    return _Plan(r0, c0, ch, cw, valid, centre, centre_from, labels, record)


def _process(block: np.ndarray, plan: _Plan, opts: ImportOptions, counts: dict) -> np.ndarray:
    """One chunk through steps 2-5 of the module docstring (float64 in, float32 out)."""
    finite = np.isfinite(block)
    if not finite.all():
        counts["nan"] += int(np.count_nonzero(np.isnan(block)))
        counts["inf"] += int(block.size - np.count_nonzero(finite)) - int(
            np.count_nonzero(np.isnan(block)))
        counts["frames"] += int(np.count_nonzero(~finite.reshape(len(block), -1).all(axis=1)))
    if plan.valid is not None:
        block[:, ~plan.valid] = 0.0
    if opts.bin > 1 or opts.standardize:
        block[~np.isfinite(block)] = 0.0
    if opts.bin > 1:
        block = bin_mean(block, opts.bin)
    return standardize(block) if opts.standardize else block.astype(np.float32)


def import_frames(source: "str | os.PathLike", out: "str | os.PathLike",
                  options: "ImportOptions | None" = None, *,
                  progress: "Callable[[int], None] | None" = None, chunk: int = 64,
                  command: "str | None" = None) -> dict:
    """Preprocess the frames of ``source`` into the frames file ``out`` (atomically).

    Parameters
    ----------
    source : path-like
        CXI/HDF5 file (frames dataset ``options.dataset`` or a usual CXI place) or .npy
        array, (N, H, W) or one (H, W) frame, any real dtype.
    out : path-like
        Output HDF5 file (format ``fixsim-frames/1``); its directory must exist.  An
        existing file is replaced (the CLI refuses that without ``--force``).
    options : ImportOptions
    progress : callable, optional
        Called with the number of frames just written (an increment).
    chunk : int
        Frames read, processed and written at a time.
    command : str, optional
        The command line, recorded.

    Returns
    -------
    dict
        Summary: path, n, frame_shape, labels (bool), frames_sha256, nonfinite counts.

    Raises
    ------
    InputError
        Every bad input, before the output is created: see :class:`ImportOptions`.
    """
    import h5py

    from .._files import atomic_path
    from .._version import __version__
    from .store import _default_permissions

    opts = options or ImportOptions()
    out = Path(out)
    counts = {"nan": 0, "inf": 0, "frames": 0}
    if opts.mask_dataset is not None and (opts.mask is None
                                          or Path(opts.mask).suffix.lower() == ".npy"):
        raise InputError(f"--mask-dataset {opts.mask_dataset!r} applies to an HDF5 --mask file")
    with contextlib.ExitStack() as stack, _unreadable_as_input_error(Path(source)):
        src = _Source(Path(source), opts.dataset, stack)
        plan = _plan(src, opts)
        oh, ow = plan.h // opts.bin, plan.w // opts.bin
        sha = hashlib.sha256()
        with atomic_path(out, suffix=".h5.tmp") as tmp, h5py.File(tmp, "w") as f:
            dset = f.create_dataset("frames", shape=(src.n, oh, ow), dtype=np.float32,
                                    chunks=(min(src.n, 64), oh, ow), track_times=False)
            for s in range(0, src.n, chunk):
                e = min(src.n, s + chunk)
                block = _process(src.read(s, e, plan.r0, plan.c0, plan.h, plan.w), plan,
                                 opts, counts)
                dset[s:e] = block
                sha.update(np.ascontiguousarray(block).tobytes())
                if progress is not None:
                    progress(e - s)
            attrs = {"format": FORMAT, "fixsim_version": __version__, "n": src.n,
                     "frame_shape": [oh, ow], "has_labels": plan.labels is not None,
                     "frames_sha256": sha.hexdigest(),
                     "source": json.dumps(src.record(), sort_keys=True),
                     "import": json.dumps(plan.record, sort_keys=True),
                     "nonfinite": json.dumps(counts, sort_keys=True)}
            if command is not None:
                attrs["command"] = command
            if plan.labels is not None:
                lab = f.create_dataset("labels", data=plan.labels, track_times=False)
                lab.attrs["class_names"] = list(CLASS_NAMES)
                attrs["labels_sha256"] = hashlib.sha256(plan.labels.tobytes()).hexdigest()
            for key, value in attrs.items():
                f.attrs[key] = value
    _default_permissions(out)
    if counts["nan"] or counts["inf"]:
        from ..fixed import FixsimWarning

        fate = ("zeroed like masked pixels" if plan.record["nonfinite_pixels"] == "zeroed"
                else "kept; quantized as the ap_fixed headers do (NaN and inf as +-2^1024 by "
                     "sign)")
        warnings.warn(f"{src.path.name}: {counts['nan']} NaN and {counts['inf']} inf values in "
                      f"{counts['frames']} frame(s), {fate}", FixsimWarning, stacklevel=2)
    return {"path": str(out), "n": src.n, "frame_shape": [oh, ow],
            "labels": plan.labels is not None, "frames_sha256": attrs["frames_sha256"],
            "source_sha256": src.sha256, "nonfinite": counts,
            "centre": plan.record["centre"], "centre_from": plan.record["centre_from"]}


__all__ = ["ImportOptions", "import_frames", "load_labels", "load_mask", "parse_rect",
           "parse_centre", "DEFAULT_DATASETS"]
