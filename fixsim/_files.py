"""File helpers shared by every part of fixsim: atomic writes, sha256, clean-up.

Library code and the CLI both use these, so a half-written output or a stray temporary
file is impossible by construction rather than by each command's care.  Nothing here
imports the CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import InputError

#: Every temporary file or directory created through this module and not yet renamed
#: or removed.  The CLI's SIGTERM handler turns SIGTERM into KeyboardInterrupt, so the
#: ``except BaseException`` clauses below remove them; this registry is the last resort
#: for anything a signal interrupts between creation and the ``try``.
_LIVE: "set[Path]" = set()


def sha256_file(path: "str | os.PathLike", chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: "bytes | memoryview") -> str:
    """Hex sha256 of bytes in memory."""
    return hashlib.sha256(data).hexdigest()


def _umask_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: "str | os.PathLike", suffix: str = ""):
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    Nothing is left behind (and nothing existing is touched) if the body raises or is
    interrupted (Ctrl-C, or SIGTERM through the CLI's handler).
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output directory {str(parent)!r} does not exist")
    if path.is_dir():
        raise InputError(f"output {str(path)!r} is a directory, expected a file path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=parent)
    except OSError as e:
        raise InputError(f"cannot write in {str(parent)!r}: {e.strerror}") from None
    tmp = Path(tmp)
    _LIVE.add(tmp)
    try:
        os.close(fd)
        # mkstemp creates 0600; give the final file the usual umask-based permissions.
        os.chmod(tmp, _umask_mode())
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        _LIVE.discard(tmp)


@contextlib.contextmanager
def atomic_dir(path: "str | os.PathLike"):
    """Yield a temporary directory next to ``path``; rename it to ``path`` on success.

    An existing ``path`` is replaced only after the new one is complete (the caller
    decides whether replacing is allowed); on failure the temporary directory is removed
    and ``path`` is untouched.
    """
    path = check_dir_output(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        raise InputError(f"cannot write in {str(parent)!r}: {e.strerror}") from None
    _LIVE.add(tmp)
    try:
        os.chmod(tmp, 0o777 & ~(0o666 ^ _umask_mode()) | 0o700)
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            _LIVE.add(old)
            try:
                os.replace(path, old / "x")
                os.replace(tmp, path)
            except BaseException:
                # Interrupted between the two renames: put the previous output back.
                if not path.exists() and (old / "x").exists():
                    os.replace(old / "x", path)
                raise
            shutil.rmtree(old, ignore_errors=True)
            _LIVE.discard(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _LIVE.discard(tmp)


def check_dir_output(path: "str | os.PathLike") -> Path:
    """An output directory's path: its parent exists, and it is a directory if it exists."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output directory {str(parent)!r} does not exist")
    if path.exists() and not path.is_dir():
        raise InputError(f"output {str(path)!r} exists and is not a directory")
    return path


def remove_live_temporaries() -> None:
    """Remove every temporary this module created and has not yet settled."""
    for p in list(_LIVE):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
        _LIVE.discard(p)


def write_text_atomic(path: "str | os.PathLike", text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes_atomic(path: "str | os.PathLike", data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def check_writable_output(path: "str | os.PathLike", force: bool, what: str = "output") -> Path:
    """The one overwrite policy: an existing output is replaced only with ``--force``."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{what} {str(path)!r} exists; pass --force to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output directory {str(parent)!r} does not exist")
    return path


def require(module: str, extra: str):
    """Import an optional dependency or raise a one-line install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"this command needs {module!r}: pip install 'fixsim[{extra}]'"
        ) from None


def _unsafe_advice(text: str) -> bool:
    return any(s in text for s in ("allow_pickle", "pickle", "weights_only"))


def _check_input_file(path: Path, what: str) -> None:
    if not path.exists():
        raise InputError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"{what} {str(path)!r} is a directory, expected a file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"cannot read {what} {str(path)!r}: {e.strerror}") from None
    if size == 0:
        raise InputError(f"{what} {str(path)!r} is empty")


def _unreadable(path: Path, what: str, kind: str, exc: BaseException) -> InputError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if _unsafe_advice(str(exc)):
        # Never pass on numpy's or torch's advice to load a file unsafely.
        text = ("it holds objects other than tensors, which fixsim never unpickles"
                if kind == "PyTorch" else
                "it is neither .npy nor .npz; numpy could read it only as a pickle, which fixsim never loads")
    return InputError(f"{what} {str(path)!r} is not a readable {kind} file ({text})")


def read_array_file(path: "str | os.PathLike", what: str = "input", *, mmap: bool = False):
    """Read a ``.npy`` array or an ``.npz`` archive (as a dict of arrays) safely.

    Never unpickles; every failure (missing, empty, truncated, garbage, pickled objects)
    is one :class:`InputError` naming ``what`` and the path.  Archives are read eagerly
    so a truncated member fails here, not later.
    """
    import zipfile
    import zlib

    import numpy as np

    path = Path(path)
    _check_input_file(path, what)
    errors = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)
    try:
        obj = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except errors as exc:
        raise _unreadable(path, what, ".npy/.npz", exc) from None
    if isinstance(obj, np.ndarray):
        return obj
    try:
        with obj:
            return {k: obj[k] for k in obj.files}
    except errors as exc:
        raise _unreadable(path, what, ".npz", exc) from None


def read_npy(path: "str | os.PathLike", what: str = "input", *, mmap: bool = False):
    """A ``.npy`` array (see :func:`read_array_file`); an ``.npz`` archive is an error."""
    obj = read_array_file(path, what, mmap=mmap)
    if isinstance(obj, dict):
        raise InputError(f"{what} {str(path)!r} must be a .npy array, got an .npz archive")
    return obj


def read_npz(path: "str | os.PathLike", what: str = "input") -> dict:
    """An ``.npz`` archive as name -> array (see :func:`read_array_file`)."""
    obj = read_array_file(path, what)
    if not isinstance(obj, dict):
        raise InputError(f"{what} {str(path)!r} must be an .npz archive of named arrays, "
                         "got a single array")
    return obj


def read_text(path: "str | os.PathLike", what: str = "input") -> str:
    """A UTF-8 text file; missing, directory, unreadable or non-UTF-8 -> InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"{what} {str(path)!r} is a directory, expected a file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None


def torch_load(path: "str | os.PathLike", what: str = "checkpoint"):
    """``torch.load(weights_only=True)`` with one-line errors and no unsafe-loading advice."""
    torch = require("torch", "model")
    path = Path(path)
    _check_input_file(path, what)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many unrelated types for a bad file
        raise _unreadable(path, what, "PyTorch", exc) from None
