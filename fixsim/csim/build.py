"""Compile C++ against the ap_types headers, with a content-addressed cache.

A program is built once per content: the key hashes every source, every header of the
include directories, the flags, the compiler (path and ``--version``) and the headers'
directory.  Builds live in :func:`cache_dir` (``$FIXSIM_CACHE``, else
``$XDG_CACHE_HOME/fixsim``, else ``~/.cache/fixsim``) and are published by an atomic
rename, so concurrent processes never see half a build; threads of one process asking
for the same build wait for the first one.  A real build announces itself through
:func:`fixsim._firstrun.notice` (the CLI prints it on stderr).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

from .._firstrun import notice
from ..errors import ToolError
from .headers import find_ap_types

_key_locks: dict[str, threading.Lock] = {}
_key_locks_guard = threading.Lock()
_compiler_versions: dict[str, str] = {}
#: Running compiler processes, so that a background build can be stopped.
_live: set[subprocess.Popen] = set()
_live_guard = threading.Lock()
_stop = threading.Event()


def cache_dir() -> Path:
    """The build cache (created): ``$FIXSIM_CACHE`` or ``$XDG_CACHE_HOME/fixsim``."""
    root = os.environ.get("FIXSIM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "fixsim")
    p = Path(root)
    p.mkdir(parents=True, exist_ok=True)
    return p


def find_compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise ToolError("no C++ compiler found (g++); install it, e.g. apt-get install g++")
    return cxx


def compile_program(sources: dict[str, str], *, main: str, include_dirs: Sequence[Path] = (),
                    opt: str = "-O1", defines: Sequence[str] = (), tag: str = "prog") -> Path:
    """Compile ``sources`` (name -> text) into an executable; cached by content.

    All ``.cpp`` files are compiled (in parallel, one g++ per file) and linked.
    Returns the executable's path.
    """
    ap = find_ap_types()
    cxx = find_compiler()
    flags = ["-std=c++14", opt, "-w", f"-I{ap}"] + [f"-I{d}" for d in include_dirs] + list(defines)
    h = hashlib.sha256()
    h.update(repr((cxx, _compiler_version(cxx), flags, str(ap))).encode())
    for name in sorted(sources):
        h.update(name.encode() + b"\0" + sources[name].encode() + b"\0")
    for d in include_dirs:
        for f in sorted(Path(d).glob("*.h")):
            h.update(f.name.encode() + f.read_bytes())
    key = h.hexdigest()[:20]
    out_dir = cache_dir() / f"{tag}-{key}"
    exe = out_dir / main
    if exe.is_file():
        return exe
    with _key_locks_guard:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:  # another thread may be building the same program
        if exe.is_file():
            return exe
        return _build(sources, cxx, flags, main, tag, out_dir)


def _compiler_version(cxx: str) -> str:
    """First line of ``cxx --version`` (part of the cache key: an upgraded g++ rebuilds)."""
    if cxx not in _compiler_versions:
        try:
            r = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60)
            _compiler_versions[cxx] = (r.stdout.splitlines() or [""])[0]
        except (OSError, subprocess.SubprocessError):
            _compiler_versions[cxx] = ""
    return _compiler_versions[cxx]


def _build(sources: dict[str, str], cxx: str, flags: list, main: str, tag: str,
           out_dir: Path) -> Path:
    """Compile and link into a temporary directory, then publish it as ``out_dir``."""
    exe = out_dir / main
    cpps = [n for n in sources if n.endswith(".cpp")]
    what = "the C simulation of rtl/" if tag == "rtl-tb" else f"{tag!r}"
    notice(f"building {what} with g++ ({len(cpps)} files; first run only, cached in "
           f"{out_dir.parent})")
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=cache_dir()))
    try:
        for name, text in sources.items():
            (work / name).write_text(text)

        def one(n: str):
            return n, _compile([cxx, *flags, "-c", n, "-o", n[:-4] + ".o"], work)

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for n, r in pool.map(one, cpps):
                if r.returncode != 0:
                    first = (r.stderr.strip().splitlines() or [str(r.returncode)])[0]
                    raise ToolError(f"g++ failed on {n}: {first}")
        objs = [n[:-4] + ".o" for n in cpps]
        r = _compile([cxx, *objs, "-o", main], work)
        if r.returncode != 0:
            raise ToolError(f"link failed: {r.stderr.strip()[:500]}")
        # Publish atomically: another process may have built the same key meanwhile.
        try:
            os.replace(work, out_dir)
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
        notice(f"g++ build done in {time.perf_counter() - t0:.1f} s")
        return exe
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _compile(cmd: list, cwd: Path) -> subprocess.CompletedProcess:
    """Run one compiler command (registered in ``_live`` while it runs)."""
    if _stop.is_set():
        raise ToolError("build stopped")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    with _live_guard:
        _live.add(proc)
    try:
        out, err = proc.communicate()
    finally:
        with _live_guard:
            _live.discard(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@contextlib.contextmanager
def background_build(build: Callable[[], object]):
    """Run ``build`` (e.g. ``lambda: twin.build(spec)``) in a thread while the block runs.

    The block's own call of the same build waits for it (one build per content key), so
    the g++ build overlaps whatever the block does first (Numba compilation, data
    simulation).  A failure of the background build is not reported here: the block's own
    call repeats the build and raises.  Leaving the block early (an error, Ctrl-C,
    SIGTERM) stops the build's compilers and removes its temporary directory.
    """
    def target():
        try:
            build()
        except BaseException:  # the foreground call reports it
            pass

    thread = threading.Thread(target=target, name="fixsim-background-build", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        if thread.is_alive():
            _stop.set()
            with _live_guard:
                procs = list(_live)
            for proc in procs:
                proc.terminate()
            thread.join()
            _stop.clear()

