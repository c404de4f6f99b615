"""Shared CLI helpers: atomic writes and optional-dependency hints."""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from pathlib import Path

from ..errors import InputError


@contextlib.contextmanager
def atomic_path(path: "str | os.PathLike", suffix: str = ""):
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    Nothing is left behind (and nothing existing is touched) if the body raises.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output directory {str(parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=parent)
    os.close(fd)
    # mkstemp creates 0600; give the final file the usual umask-based permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: "str | os.PathLike", text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes_atomic(path: "str | os.PathLike", data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def require(module: str, extra: str):
    """Import an optional dependency or raise a one-line install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"this command needs {module!r}: pip install 'fixsim[{extra}]'"
        ) from None
