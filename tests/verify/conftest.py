"""Fixtures of the compare/certify tests: specklenn-snl taps in memory and a tiny vector set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
SLOW_REPORT = DATA / "hashi0203__Vitis_HLS_Gaussian__gaussian_csynth.xml"
FAST_REPORT = DATA / "SpAllen0726__HG-DREAM-Pulse-Detection-Project__myproject_csynth.xml"


@pytest.fixture(scope="session")
def spec():
    from fixsim.network import load_spec

    return load_spec("specklenn-snl")


@pytest.fixture(scope="session")
def weights(spec):
    from fixsim.network.weights import random_weights

    return random_weights(spec, seed=3)


@pytest.fixture(scope="session")
def frames():
    return np.random.default_rng(5).standard_normal((6, 1, 65, 65))


@pytest.fixture(scope="session")
def taps(spec, weights, frames):
    """Every tap of 6 frames through fixsim (read-only: copy before changing)."""
    from fixsim.network import run

    out = run(spec, weights, frames)
    for arr in out.values():
        arr.setflags(write=False)
    return out


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """A 4-frame specklenn-snl vector set (golden weights when present, else random)."""
    from fixsim.vectors import generate_vector_set
    from fixsim.verify.defaults import golden_dir

    out = tmp_path_factory.mktemp("vs") / "tiny"
    w = "golden" if (golden_dir() / "weights_folded.npz").is_file() else "random"
    generate_vector_set(out, model="specklenn-snl", n=4, source="simulated", seed=11, weights=w)
    return out


@pytest.fixture(scope="session")
def need_golden():
    from fixsim.verify.defaults import golden_dir

    g = golden_dir()
    for name in ("weights_folded.npz", "support.npz", "manifest.json", "model.json"):
        if not (g / name).is_file():
            pytest.skip(f"golden model incomplete: {g / name} missing")
