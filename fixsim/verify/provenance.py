"""What a certificate records about itself: tools, git commit, the design's top names and
the hash of the rtl/ sources the C simulation is built from.

Kept apart from :mod:`fixsim.verify.certify` (the checks) so that the provenance record
reads in one place.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..errors import FixsimError


def gxx_version() -> str | None:
    gxx = shutil.which("g++")
    if gxx is None:
        return None
    try:
        out = subprocess.run([gxx, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.splitlines() or [None])[0]


def tools_record() -> dict:
    import numba

    tools = {"python": platform.python_version(), "numpy": np.__version__,
             "numba": numba.__version__, "g++": gxx_version(), "platform": platform.platform()}
    try:
        import torch

        tools["torch"] = torch.__version__
    except ImportError:
        tools["torch"] = None
    return tools


def relative_path(path) -> str | None:
    """``path`` relative to the working directory where possible (else as given, absolute)."""
    if path is None:
        return None
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p.resolve()) if p.exists() else str(p)


def git_commit() -> dict | None:
    """The git commit of the fixsim source tree (None when not a checkout or no git)."""
    git = shutil.which("git")
    if git is None:
        return None
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run([git, "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run([git, "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(),
            "dirty": bool(dirty.stdout.strip()) if dirty.returncode == 0 else None}


def design_tops(spec) -> tuple[str, ...]:
    """The names a report may give the design's top function.

    The rtl codegen (:mod:`fixsim.csim.codegen`) writes ``void top(...)`` in namespace
    :func:`~fixsim.csim.codegen.namespace_of` of the spec name: the tool reports ``top``,
    or ``<ns>::top`` when ``set_top`` was given the qualified name.
    """
    from ..csim.codegen import namespace_of

    return ("top", f"{namespace_of(spec.name)}::top")


def rtl_sources_record(spec) -> dict | None:
    """sha256 of every rtl/ source the C simulation of ``spec`` is built from (and of all)."""
    from ..csim.codegen import generate_testbench

    try:
        sources = generate_testbench([spec])
    except FixsimError:
        return None
    total = hashlib.sha256()
    files = {}
    for name in sorted(sources):
        data = sources[name].encode()
        files[name] = hashlib.sha256(data).hexdigest()
        total.update(name.encode() + b"\0" + data + b"\0")
    return {"sha256": total.hexdigest(), "files": files,
            "rule": "sha256 over sorted (name NUL text NUL) of the generated test-bench sources"}
