"""Shared test configuration: hypothesis profiles and the ap_types oracle.

Profiles (``FIXSIM_HYPOTHESIS_PROFILE``): ``ci`` (default, 200 examples per test),
``dev`` (30, quick local loop) and ``long`` (5,000 examples, for campaigns).
"""

from __future__ import annotations

import os
import shutil
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
