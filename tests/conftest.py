"""Shared test configuration: hypothesis profiles and the ap_types oracle.

Profiles (``FIXSIM_HYPOTHESIS_PROFILE``): ``ci`` (default, 200 examples per test),
``dev`` (30, quick local loop) and ``long`` (5,000 examples, for campaigns).
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=200, **_common)
settings.register_profile("dev", max_examples=30, **_common)
settings.register_profile("long", max_examples=5000, **_common)
settings.load_profile(os.environ.get("FIXSIM_HYPOTHESIS_PROFILE", "ci"))


def pytest_report_header(config) -> list[str]:
    """What produced this run: numpy, numba, g++ and the ap_types headers (with digests)."""
    return _run_environment()


def pytest_sessionstart(session) -> None:
    """``-q`` (the README's command) hides the report header: print the same lines anyway."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.config.get_verbosity() < 0:
        for line in _run_environment():
            reporter.write_line(line)


@functools.lru_cache(maxsize=None)
def _run_environment() -> list[str]:
    import numba
    import numpy

    from fixsim import __version__
    from fixsim._files import sha256_file
    from fixsim.csim.headers import find_ap_types, header_source

    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if cxx:
        try:
            out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30)
            gxx = f"{cxx}: {(out.stdout.splitlines() or ['(no version output)'])[0]}"
        except (OSError, subprocess.SubprocessError) as e:
            gxx = f"{cxx}: --version failed ({e})"
    else:
        gxx = "none on PATH (C simulation and oracle tests skip)"
    lines = [f"fixsim {__version__}, python {platform.python_version()}, numpy {numpy.__version__}, "
             f"numba {numba.__version__}, hypothesis profile "
             f"{os.environ.get('FIXSIM_HYPOTHESIS_PROFILE', 'ci')}",
             f"g++: {gxx}"]
    d = find_ap_types(required=False)
    if d is None:
        lines.append("ap_types: not found (pip install 'fixsim[csim]' or set XILINX_HLS)")
    else:
        # One digest over every header (name and bytes) and the one the arithmetic lives in.
        h = hashlib.sha256()
        headers = sorted(p for p in d.rglob("*.h") if p.is_file())
        for p in headers:
            h.update(p.relative_to(d).as_posix().encode() + b"\0" + bytes.fromhex(sha256_file(p)))
        base = d / "ap_fixed_base.h"
        base_sha = sha256_file(base) if base.is_file() else "missing"
        lines += [f"ap_types ({header_source()}): {d}",
                  f"ap_types sha256: ap_fixed_base.h {base_sha}; "
                  f"all {len(headers)} headers {h.hexdigest()}"]
    return lines


def oracle_unavailable_reason() -> str | None:
    from fixsim.csim.headers import find_ap_types

    if find_ap_types(required=False) is None:
        return "ap_types headers not found: pip install 'fixsim[csim]' or set XILINX_HLS"
    if not (shutil.which("g++") or os.environ.get("CXX")):
        return "no g++ on PATH to compile the ap_types oracle"
    return None


@pytest.fixture(scope="session")
def need_oracle():
    reason = oracle_unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def need_gxx(need_oracle):
    """g++ and the ap_types headers (the C simulation needs what the oracle needs)."""
