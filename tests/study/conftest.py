"""A tiny network (conv 3x3 -> pool -> dense 4, top-1 classifier) with labelled frames.

The labels are the float model's own decisions on noisy frames, so the float accuracy is
100% and narrow formats lose accuracy in a way the tests can see.
"""

from __future__ import annotations

import numpy as np
import pytest

FMT = {"weight": "ap_fixed<16,4,AP_RND,AP_SAT>", "bias": "ap_fixed<16,6,AP_RND,AP_SAT>",
       "accum": "ap_fixed<36,14>", "result": "ap_fixed<16,6,AP_RND,AP_SAT>"}
TINY = {"name": "tiny", "input": {"shape": [1, 8, 8], "format": "ap_fixed<16,6,AP_RND,AP_SAT>"},
        "layers": [
            {"name": "conv1", "type": "conv2d", "out_channels": 3, "kernel": [3, 3],
             "activation": "relu", "formats": FMT},
            {"name": "pool1", "type": "maxpool2d", "kernel": [2, 2]},
            {"name": "flatten", "type": "flatten"},
            {"name": "fc1", "type": "dense", "out_features": 4, "activation": "linear",
             "formats": FMT}]}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Directory with model/ (weights.npz, spec.json), data.npz (labelled), frames.npy."""
    from fixsim.network import load_spec, run_float

    root = tmp_path_factory.mktemp("study")
    spec = load_spec(TINY)
    rng = np.random.default_rng(0)
    w = {k: rng.normal(0, 0.5, v) for k, v in spec.weight_shapes().items()}
    x = rng.normal(0, 1, (40, 1, 8, 8))
    y = run_float(spec, w, x, taps=False)["fc1"].argmax(1)
    (root / "model").mkdir()
    np.savez(root / "model" / "weights.npz", **w)
    (root / "model" / "spec.json").write_text(spec.to_json())
    np.savez(root / "data.npz", frames=x, labels=y)
    np.save(root / "frames.npy", x)
    return root
