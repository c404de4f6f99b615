"""specklenn-snl: the rtl/ C simulation equals fixsim.network.run at every layer on 100
frames, with weights loaded at run time (golden folded weights when present, else random
weights quantized to the spec formats)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from fixsim.csim import twin
from fixsim.fixed import FixsimWarning, quantize
from fixsim.network import load_spec
from fixsim.network import run as fixsim_run
from fixsim.network.weights import quantize_weights, random_weights

from .taps import assert_taps_equal

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "weights_folded.npz"
NETWORK = "specklenn_snl"


def standardized_frames(n: int, seed: int) -> np.ndarray:
    """Speckle-like frames (Poisson counts on a random smooth intensity), standardized per image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-32:33, -32:33]
    r = np.hypot(yy, xx)[None]
    scale = rng.uniform(2.0, 8.0, (n, 1, 1))
    intensity = rng.uniform(1, 50, (n, 1, 1)) * (np.sinc(r / scale) ** 2 + 0.01)
    frames = rng.poisson(intensity).astype(np.float64)
    frames = (frames - frames.mean(axis=(1, 2), keepdims=True)) / (
        frames.std(axis=(1, 2), keepdims=True) + 1e-12)
    return frames[:, None]


def snl_weights(spec):
    if GOLDEN.is_file():
        with np.load(GOLDEN) as z:
            floats = {k: z[k] for k in z.files}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FixsimWarning)
            return quantize_weights(spec, floats), "golden"
    return random_weights(spec, seed=3), "random"


def _both(bench, spec, weights, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        expected = fixsim_run(spec, weights, x)
    return expected, twin.run_testbench(bench, NETWORK, weights, x)


def test_specklenn_100_frames_every_layer(snl_bench):
    spec = load_spec("specklenn-snl")
    weights, origin = snl_weights(spec)
    x = standardized_frames(100, seed=11)
    expected, actual = _both(snl_bench, spec, weights, x)
    assert actual["fc2"].shape == (100, 50)
    assert np.count_nonzero(actual["fc2"]) > 0, f"all-zero embeddings ({origin} weights)"
    assert_taps_equal(expected, actual, spec, context=f"({origin} weights)")


def test_one_binary_serves_new_weights(snl_bench):
    """Weights are run-time data: a second weight set, same executable, still equal."""
    spec = load_spec("specklenn-snl")
    x = standardized_frames(8, seed=12)
    outs = []
    for seed in (21, 22):
        weights = random_weights(spec, seed=seed, scale=2.0)
        expected, actual = _both(snl_bench, spec, weights, x)
        assert_taps_equal(expected, actual, spec, context=f"(random weights seed {seed})")
        outs.append(actual["fc2"])
    assert twin.build("specklenn-snl").exe == snl_bench.exe  # cached, not rebuilt
    assert not np.array_equal(outs[0], outs[1])


def test_float_and_raw_inputs_agree(snl_bench):
    """The C++ input layer quantizes floats as fixsim.quantize does (raw path = same taps)."""
    spec = load_spec("specklenn-snl")
    weights = random_weights(spec, seed=5)
    x = standardized_frames(4, seed=13) * 3.0  # some values beyond the input range
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        raw = quantize(x, spec.input_format)
    from_float = twin.run_testbench(snl_bench, NETWORK, weights, x)
    from_raw = twin.run_testbench(snl_bench, NETWORK, weights, raw)
    assert_taps_equal(from_float, from_raw, spec)
    np.testing.assert_array_equal(from_float["input"], raw)


def test_bad_data_is_an_input_error(snl_bench):
    from fixsim.errors import InputError

    spec = load_spec("specklenn-snl")
    weights = random_weights(spec, seed=5)
    with pytest.raises(InputError, match="shape"):
        twin.run_testbench(snl_bench, NETWORK, weights, np.zeros((2, 1, 64, 65)))
    bad = dict(weights)
    bad["fc1.weight"] = bad["fc1.weight"][:, :-1]
    with pytest.raises(InputError, match="fc1.weight"):
        twin.run_testbench(snl_bench, NETWORK, bad, np.zeros((1, 1, 65, 65)))
    bad = dict(weights)
    del bad["conv2.bias"]
    with pytest.raises(InputError, match="conv2.bias"):
        twin.run_testbench(snl_bench, NETWORK, bad, np.zeros((1, 1, 65, 65)))
    bad = dict(weights)
    bad["conv1.weight"] = bad["conv1.weight"] + (1 << 20)
    with pytest.raises(InputError, match="outside"):
        twin.run_testbench(snl_bench, NETWORK, bad, np.zeros((1, 1, 65, 65)))


def test_serves_the_hil_csim_protocol(snl_bench, tmp_path):
    """--serve: the test bench as a C-simulation device for fixsim.hil (raw frame in, fc2 out)."""
    from fixsim.errors import FixsimError
    from fixsim.hil.csim import CsimProcess

    spec = load_spec("specklenn-snl")
    weights = random_weights(spec, seed=8)
    x = standardized_frames(3, seed=14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        raw = quantize(x, spec.input_format)
        expected = fixsim_run(spec, weights, raw)["fc2"]
    proc = CsimProcess(snl_bench.exe, twin.serve_args(snl_bench, NETWORK, weights, tmp_path)).start()
    try:
        for k in range(3):
            out, _ = proc(raw[k].reshape(-1))
            np.testing.assert_array_equal(out, expected[k])
        with pytest.raises(FixsimError, match="4225"):
            proc(raw[0].reshape(-1)[:100])
        with pytest.raises(FixsimError, match="bad magic"):  # images: tests/vectors
            proc.load_weights(b"\0" * 16)
        out, _ = proc(raw[1].reshape(-1))  # still in sync after the errors
        np.testing.assert_array_equal(out, expected[1])
    finally:
        proc.stop()
