"""Fixtures of the HIL tests: vector sets, device models, the compiled demo device."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fixsim.errors import ToolError

from hil_helpers import HERE, N_IN, DotModel, demo_reference, write_vector_set  # noqa: F401


@pytest.fixture
def dot_model():
    return DotModel()


@pytest.fixture
def demo_vectors():
    rng = np.random.default_rng(1234)
    x = rng.integers(-(1 << 15), 1 << 15, size=(64, N_IN), dtype=np.int64)
    return x, demo_reference(x)


@pytest.fixture(scope="session")
def demo_exe():
    """The C++ demo device, compiled with g++ against the ap_types headers (cached)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed: cannot build the C++ demo device")
    from fixsim.csim.build import compile_program
    try:
        return compile_program({"demo_device.cpp": (HERE / "demo_device.cpp").read_text()},
                               main="demo_device", tag="hil-demo")
    except ToolError as exc:
        pytest.skip(f"cannot build the C++ demo device: {exc}")


@pytest.fixture
def vector_dir(tmp_path, demo_vectors):
    x, y = demo_vectors
    return write_vector_set(tmp_path / "vs", x, y, word_bytes=2)


@pytest.fixture(scope="session")
def fixsim_set(tmp_path_factory):
    """A 4-frame specklenn-snl vector set of ``fixsim vectors gen`` (random weights, read-only)."""
    from fixsim.vectors import generate_vector_set

    out = tmp_path_factory.mktemp("hil-sets") / "snl"
    generate_vector_set(out, n=4, seed=3, weights="random")
    return out
