"""Say what a slow first run is doing: Numba compilation and the g++ build of rtl/.

Library code stays silent: it calls :func:`notice`, which does nothing unless a handler
is installed.  The CLI installs one for the duration of a command
(:func:`first_run_notices`), so each compile step prints one line on stderr when stderr
is a terminal (as progress bars do; ``FIXSIM_NOTICES=1`` prints them anyway, ``0`` never),
e.g.::

    fixsim certify: compiling Numba kernel _conv_pool (first run only; cached on disk)
    fixsim certify: building the C simulation of rtl/ with g++ (first run only; cached in ...)

>>> seen = []
>>> with handler(seen.append):
...     notice("building")
>>> notice("nobody listens")
>>> seen
['building']
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Callable

from numba.core import event as numba_event

_handlers: list[Callable[[str], None]] = []
_lock = threading.Lock()


def notice(message: str) -> None:
    """Pass ``message`` (one line about a slow first-run step) to the installed handlers."""
    for h in list(_handlers):
        h(message)


@contextlib.contextmanager
def handler(fn: Callable[[str], None]):
    """Install ``fn`` as a notice handler inside the ``with`` block."""
    with _lock:
        _handlers.append(fn)
    try:
        yield fn
    finally:
        with _lock:
            _handlers.remove(fn)


class _NumbaCompiles(numba_event.Listener):
    """Numba event listener: one notice per fixsim kernel compiled (not served from cache).

    Nested compiles (a kernel calling another) are announced by the outermost only.
    """

    def __init__(self):
        self.depth = threading.local()

    @staticmethod
    def _name(ev) -> str | None:
        disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
        fn = getattr(disp, "py_func", None)
        if fn is None or not getattr(fn, "__module__", "").startswith("fixsim."):
            return None
        return fn.__name__

    def on_start(self, ev) -> None:
        name = self._name(ev)
        if name is None:
            return
        depth = getattr(self.depth, "n", 0)
        if depth == 0:
            notice(f"compiling Numba kernel {name} (first run only; cached on disk)")
        self.depth.n = depth + 1

    def on_end(self, ev) -> None:
        if self._name(ev) is not None:
            self.depth.n = max(getattr(self.depth, "n", 0) - 1, 0)


@contextlib.contextmanager
def first_run_notices(command: str, stream=None):
    """Print first-run notices as ``fixsim COMMAND: ...`` lines on ``stream``.

    Without ``stream``: on stderr when it is a terminal or ``FIXSIM_NOTICES=1``, never with
    ``FIXSIM_NOTICES=0`` (so that captured output of a command stays what it answered).
    """
    if stream is None:
        forced = os.environ.get("FIXSIM_NOTICES")
        if forced == "0" or (forced != "1" and not _isatty(sys.stderr)):
            yield
            return
    out = stream if stream is not None else sys.stderr

    def show(message: str) -> None:
        print(f"fixsim {command}: {message}", file=out, flush=True)

    listener = _NumbaCompiles()
    numba_event.register("numba:compile", listener)
    try:
        with handler(show):
            yield
    finally:
        numba_event.unregister("numba:compile", listener)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


__all__ = ["notice", "handler", "first_run_notices"]
