"""Reader for real SPI data in CXI (HDF5) files, with the SpeckleNN preprocessing.

Crop a ``crop`` x ``crop`` window around the beam centre, zero masked and non-finite
pixels, ``bin`` x ``bin`` block mean, per-image standardization.  Only the crop window
of ``chunk`` frames at a time is read from disk, so files larger than memory work with
:func:`iter_cxi`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError, closest
from .preprocess import bin_mean, crop_window, standardize
from .store import open_hdf5

DEFAULT_DATASET = "/entry_1/data_1/data"
_MASK_SEMANTICS = ("good", "bad")


def read_cxi(path: "str | os.PathLike", *, dataset: str = DEFAULT_DATASET,
             centre: "tuple[float, float] | None" = None, crop: int = 390, bin: int = 6,
             mask: "np.ndarray | str | None" = None, mask_semantics: str = "good",
             standardized: bool = True, start: int = 0, stop: "int | None" = None,
             chunk: int = 64) -> np.ndarray:
    """Read and preprocess frames of a CXI file into model inputs.

    Parameters
    ----------
    path : path-like
        CXI / HDF5 file.
    dataset : str
        Path of the frames dataset, shape (N, H, W) or (H, W) for one frame.
    centre : (row, col), optional
        Beam centre in pixel-index coordinates; default the frame centre.
    crop : int
        Side of the square window around the centre, a multiple of ``bin``.
    bin : int
        Block-mean factor; the output side is ``crop // bin`` (65 by default).
    mask : ndarray (H, W) or str, optional
        Pixel mask, or the path of a mask dataset in the same file.
    mask_semantics : {"good", "bad"}
        "good": non-zero marks usable pixels (psana style); "bad": non-zero marks bad
        pixels (the CXI ``mask`` convention).
    standardized : bool
        Apply per-image ``(x - mean) / std``; False returns the binned means.
    start, stop : int
        Frame range to read (Python slice semantics, no negative indices).
    chunk : int
        Frames read per HDF5 access.

    Returns
    -------
    ndarray (n, crop // bin, crop // bin), float32

    Raises
    ------
    InputError
        Missing file or dataset, wrong shapes, a crop window outside the frame, bad
        ranges or an unknown ``mask_semantics``.
    """
    parts = list(iter_cxi(path, dataset=dataset, centre=centre, crop=crop, bin=bin,
                          mask=mask, mask_semantics=mask_semantics,
                          standardized=standardized, start=start, stop=stop, chunk=chunk))
    if not parts:
        out = crop // bin
        return np.empty((0, out, out), dtype=np.float32)
    return np.concatenate([p for _, p in parts], axis=0)


def iter_cxi(path: "str | os.PathLike", *, dataset: str = DEFAULT_DATASET,
             centre=None, crop: int = 390, bin: int = 6, mask=None,
             mask_semantics: str = "good", standardized: bool = True, start: int = 0,
             stop: "int | None" = None, chunk: int = 64) -> Iterator[tuple[int, np.ndarray]]:
    """Like :func:`read_cxi`, yielding ``(first_frame_index, frames)`` per chunk.

    The file is opened and every argument validated before the first chunk is read.
    """
    from .._validate import check_int

    crop, bin, chunk = (check_int(name, v, minimum=1)
                        for name, v in (("crop", crop), ("bin", bin), ("chunk", chunk)))
    if crop % bin:
        raise InputError(f"crop {crop} is not a multiple of bin {bin}")
    if mask_semantics not in _MASK_SEMANTICS:
        raise InputError(f"mask_semantics {mask_semantics!r} unknown"
                         f"{closest(mask_semantics, _MASK_SEMANTICS)}; valid: good, bad")
    path = Path(path)
    with open_hdf5(path, "CXI file", "an HDF5/CXI file") as f:
        dset = _dataset(f, dataset, path)
        if dset.ndim not in (2, 3):
            raise InputError(f"{dataset} in {str(path)!r} has shape {dset.shape}; "
                             f"expected (N, H, W) frames or one (H, W) frame")
        single = dset.ndim == 2
        n_total = 1 if single else dset.shape[0]
        h, w = dset.shape[-2:]
        if centre is None:
            centre = ((h - 1) / 2, (w - 1) / 2)
        if len(centre) != 2 or not all(np.isfinite(c) for c in centre):
            raise InputError(f"centre must be (row, col), got {centre!r}")
        r0, c0 = crop_window((h, w), centre, crop)
        valid = _mask_window(f, mask, mask_semantics, (h, w), path)
        if valid is not None:
            valid = valid[r0:r0 + crop, c0:c0 + crop]
        stop = n_total if stop is None else stop
        if not (0 <= start <= stop <= n_total):
            raise InputError(f"frame range {start}:{stop} outside the {n_total} frames "
                             f"of {dataset}")
        for s in range(start, stop, chunk):
            e = min(stop, s + chunk)
            if single:
                block = dset[r0:r0 + crop, c0:c0 + crop][None]
            else:
                block = dset[s:e, r0:r0 + crop, c0:c0 + crop]
            block = np.asarray(block, dtype=np.float64)
            bad = ~np.isfinite(block)
            if valid is not None:
                bad |= ~valid
            block[bad] = 0.0
            binned = bin_mean(block, bin)
            yield s, (standardize(binned) if standardized else binned.astype(np.float32))


def _dataset(f, name: str, path: Path):
    import h5py

    obj = f.get(name)
    if not isinstance(obj, h5py.Dataset):
        found = []
        f.visititems(lambda k, v: found.append("/" + k) if isinstance(v, h5py.Dataset) else None)
        hint = closest(name, found)
        listed = ", ".join(found[:6]) + (" ..." if len(found) > 6 else "")
        raise InputError(f"no dataset {name!r} in {str(path)!r}{hint}; "
                         f"datasets: {listed or 'none'}")
    return obj


def _mask_window(f, mask, semantics: str, shape: tuple, path: Path):
    """Full-frame boolean valid-pixel mask (True = usable), or None."""
    if mask is None:
        return None
    if isinstance(mask, str):
        mask = _dataset(f, mask, path)[()]
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise InputError(f"mask shape {mask.shape} does not match the frame shape {tuple(shape)}")
    nonzero = mask != 0
    return nonzero if semantics == "good" else ~nonzero
