"""Fixtures for the data tests: one small simulated set shared by the class-feature tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def raw_set():
    """80 default-config frames before standardization (binned photon means)."""
    from fixsim.data import simulate

    return simulate(80, 2024, standardized=False)


@pytest.fixture(scope="session")
def std_set():
    """The same 80 frames, standardized."""
    from fixsim.data import simulate

    return simulate(80, 2024)
