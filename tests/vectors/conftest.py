"""Fixtures of the vector/weight-image tests: small specs, images, generated sets."""

from __future__ import annotations

import pytest

from fixsim.network import load_spec
from fixsim.network.weights import random_weights

#: A small network with an hwc flatten (dense columns stored permuted), an unsigned and a
#: 20-bit weight format (32-bit image words), and a conv without bias.
SMALL = {
    "name": "small-hwc",
    "input": {"shape": [2, 5, 6], "format": "ap_fixed<8,3,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "c", "type": "conv2d", "out_channels": 3, "kernel": [3, 2], "bias": False,
         "activation": "relu",
         "formats": {"weight": "ap_ufixed<6,1>", "accum": "ap_fixed<24,10>",
                     "result": "ap_fixed<10,4,AP_RND,AP_SAT>"}},
        {"name": "p", "type": "maxpool2d", "kernel": [2, 2], "ceil_mode": True},
        {"name": "f", "type": "flatten", "order": "hwc"},
        {"name": "d", "type": "dense", "out_features": 4, "activation": "linear",
         "formats": {"weight": "ap_fixed<20,4,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2>",
                     "accum": "ap_fixed<40,16>", "result": "ap_fixed<12,6,AP_RND,AP_SAT>"}},
    ],
}


@pytest.fixture(scope="session")
def small_spec():
    return load_spec(SMALL)


@pytest.fixture(scope="session")
def snl_spec():
    return load_spec("specklenn-snl")


@pytest.fixture(scope="session")
def small_weights(small_spec):
    return random_weights(small_spec, seed=5)


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """A 3-frame simulated specklenn-snl set with random weights (session-wide, read-only)."""
    from fixsim.vectors import generate_vector_set

    out = tmp_path_factory.mktemp("sets") / "tiny"
    generate_vector_set(out, n=3, seed=7, weights="random")
    return out
