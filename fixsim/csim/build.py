"""Compile C++ against the ap_types headers, with a content-addressed cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from ..errors import ToolError
from .headers import find_ap_types


def cache_dir() -> Path:
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
    h.update(repr((cxx, flags, str(ap))).encode())
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
    work = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=cache_dir()))
    try:
        for name, text in sources.items():
            (work / name).write_text(text)
        cpps = [n for n in sources if n.endswith(".cpp")]

        def one(n: str):
            return n, subprocess.run([cxx, *flags, "-c", n, "-o", n[:-4] + ".o"], cwd=work,
                                     capture_output=True, text=True)

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for n, r in pool.map(one, cpps):
                if r.returncode != 0:
                    first = (r.stderr.strip().splitlines() or [str(r.returncode)])[0]
                    raise ToolError(f"g++ failed on {n}: {first}")
        objs = [n[:-4] + ".o" for n in cpps]
        r = subprocess.run([cxx, *objs, "-o", main], cwd=work, capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolError(f"link failed: {r.stderr.strip()[:500]}")
        # Publish atomically: another process may have built the same key meanwhile.
        try:
            os.replace(work, out_dir)
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
        return exe
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

