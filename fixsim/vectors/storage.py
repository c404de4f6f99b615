"""How a vector set stores raw values on disk, and how they are read back.

Version 2 sets store every raw integer file (inputs and taps) in the narrowest
little-endian integer type that holds every raw value of the file's format
(:func:`storage_dtype`): ``<i1``/``<i2``/``<i4``/``<i8`` for ``ap_fixed``,
``<u1``/``<u2``/``<u4``/``<u8`` for ``ap_ufixed``.  Version 1 sets stored them all as
``<i8``.  The manifest records the dtype of each file, so a reader in any language
takes it from there; :func:`expected_dtype` is what this reader requires.

Readers widen to int64 (:class:`Taps`), so the Python API returns the same arrays
whatever the version.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: Files this large or larger are memory-mapped instead of read.
MMAP_BYTES = 64 << 20


def storage_dtype(fmt) -> str:
    """The narrowest little-endian integer dtype holding every raw value of ``fmt``.

    Parameters
    ----------
    fmt : FixedType
        Its ``width`` bits: signed for ``ap_fixed`` (two's complement), unsigned for
        ``ap_ufixed``.

    Returns
    -------
    str
        ``"<i1"``, ``"<i2"``, ``"<i4"``, ``"<i8"`` (signed) or ``"<u1"`` ... ``"<u8"``.

    >>> from fixsim.fixed import FixedType
    >>> storage_dtype(FixedType.parse("ap_fixed<16,6>"))
    '<i2'
    >>> storage_dtype(FixedType.parse("ap_ufixed<9,1>"))
    '<u2'
    """
    kind = "i" if fmt.signed else "u"
    nbytes = next(b for b in (1, 2, 4, 8) if fmt.width <= 8 * b)
    return f"<{kind}{nbytes}"


def expected_dtype(version: int, fmt) -> str:
    """The dtype a file of ``fmt`` must have in a set of ``version`` (1: always ``<i8``)."""
    return "<i8" if version == 1 else storage_dtype(fmt)


def read_array(path: Path, dtype: str, shape: tuple) -> np.ndarray:
    """A headerless little-endian file as an array of ``dtype`` (size already checked).

    Files of :data:`MMAP_BYTES` or more are memory-mapped read-only, so large sets can
    be streamed; smaller ones are read (native byte order).
    """
    if path.stat().st_size < MMAP_BYTES:
        return np.fromfile(path, dtype=dtype).astype(dtype[1:], copy=False).reshape(shape)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)


class Taps(Mapping):
    """Layer name -> expected raw outputs, widened to int64 on first access (cached).

    Narrow arrays stay on disk (memory-mapped) or in memory until a tap is asked for,
    so loading a large set is cheap and only the taps used are widened.  With
    ``widen=False`` the stored arrays are returned as they are (int16 for specklenn-snl
    in version 2), for streaming consumers that accept any integer dtype.
    Thread-safe: a tap is widened once even when several threads ask for it.
    """

    def __init__(self, stored: dict, widen: bool = True):
        self._stored = dict(stored)
        self._widen = bool(widen)
        self._cache: dict = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> np.ndarray:
        arr = self._stored[name]
        if not self._widen or arr.dtype == np.int64:
            return arr
        with self._lock:
            if name not in self._cache:
                self._cache[name] = np.asarray(arr).astype(np.int64)
            return self._cache[name]

    def __iter__(self):
        return iter(self._stored)

    def __len__(self) -> int:
        return len(self._stored)

    def stored(self, name: str) -> np.ndarray:
        """The tap as stored (no widening)."""
        return self._stored[name]

    def __repr__(self) -> str:
        return "Taps({" + ", ".join(f"{k!r}: {v.dtype}{tuple(v.shape)}"
                                    for k, v in self._stored.items()) + "})"


class HashedFile:
    """A file written in pieces from buffers, hashed (sha256) as it goes, without copies."""

    def __init__(self, path: Path):
        self.f = open(path, "wb")
        self.h = hashlib.sha256()

    def write(self, data) -> None:
        """Append ``data`` (bytes, or a C-contiguous array: its bytes as in memory)."""
        if isinstance(data, np.ndarray):
            data = memoryview(np.ascontiguousarray(data).reshape(-1).view(np.uint8))
        self.f.write(data)   # both release the GIL for large buffers
        self.h.update(data)

    def close(self) -> str:
        """Close the file; return its sha256 (hex)."""
        self.f.close()
        return self.h.hexdigest()


__all__ = ["storage_dtype", "expected_dtype", "read_array", "Taps", "HashedFile", "MMAP_BYTES"]
