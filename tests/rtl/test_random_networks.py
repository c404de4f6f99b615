"""Differential proof: fixsim.network.run equals the rtl/ C simulation, bit for bit, at
every layer, on random small networks that exercise every option of the datapath contract.

Architectures and formats are drawn up front from a seeded RNG (netgen) and compiled into
one binary; Hypothesis draws the weights and frames (run-time data, no rebuild).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.csim import twin
from fixsim.csim.codegen import namespace_of
from fixsim.fixed import FixedType, FixsimWarning
from fixsim.network import load_spec
from fixsim.network import run as fixsim_run

from .conftest import CI_COUNT, CI_SEED
from .netgen import coverage, random_networks
from .strategies import inputs_for, weights_for
from .taps import assert_taps_equal

#: Options the issue asks the proof to cover; the CI set must draw every one.
REQUIRED = {
    "product=exact", "product=to_accum", "sum_order=ci_kh_kw", "sum_order=kh_kw_ci",
    "activation_on=accum", "activation_on=result", "activation=leaky_relu",
    "activation=relu", "activation=linear", "layer=leaky_relu", "layer=relu",
    "padding=zero", "stride>1", "ceil_mode=True", "ceil_mode=False", "flatten=chw",
    "flatten=hwc", "bias=False", "bias=True", "accum_o=AP_SAT", "accum_o=AP_WRAP",
    "accum_sat_q=AP_RND_CONV", "accum_sat_q=AP_RND_INF", "accum_sat_q=AP_RND_ZERO",
    "accum_sat_q=AP_TRN_ZERO",
}


def _both(bench, spec, weights, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)  # out-of-range inputs are intended
        expected = fixsim_run(spec, weights, x)
    actual = twin.run_testbench(bench, namespace_of(spec.name), weights, x)
    return expected, actual


def _seeded_data(spec, rng):
    weights = {k: rng.integers(f.raw_min, f.raw_max + 1, size=spec.weight_shapes()[k])
               for k, f in spec.weight_formats().items()}
    x = rng.standard_normal((4,) + spec.input_shape) * 2.0 ** spec.input_format.int_bits
    return weights, x


def test_random_set_covers_every_option(ci_networks):
    missing = REQUIRED - coverage(ci_networks)
    assert not missing, f"netgen seed {CI_SEED} x {CI_COUNT} misses {sorted(missing)}"


def test_every_network_once(ci_bench, ci_networks):
    """Each compiled network, seeded full-range weights and inputs: equal at every layer."""
    rng = np.random.default_rng(CI_SEED)
    for spec in ci_networks:
        weights, x = _seeded_data(spec, rng)
        expected, actual = _both(ci_bench, spec, weights, x)
        assert_taps_equal(expected, actual, spec)


@given(data=st.data())
def test_hypothesis_weights_and_inputs(ci_bench, ci_networks, data):
    spec = data.draw(st.sampled_from(ci_networks), label="network")
    weights = data.draw(weights_for(spec), label="weights")
    x = data.draw(inputs_for(spec), label="inputs")
    expected, actual = _both(ci_bench, spec, weights, x)
    assert_taps_equal(expected, actual, spec)


def test_comparison_detects_a_changed_option(ci_bench, ci_networks):
    """The proof can fail: run Python with one option flipped and see the taps differ."""
    rng = np.random.default_rng(7)
    found = 0
    for spec in ci_networks:
        d = spec.to_dict()
        for layer in d["layers"]:
            if layer["type"] in ("conv2d", "dense"):
                layer["activation"] = "linear" if layer["activation"] == "relu" else "relu"
                acc = FixedType.parse(layer["formats"]["accum"])
                q = "AP_RND" if acc.quantization.name == "AP_TRN" else "AP_TRN"
                layer["formats"]["accum"] = str(dataclasses.replace(acc, quantization=q))
        try:
            mutated = load_spec(d)
        except Exception:  # a mutation the loader rejects: not a useful probe
            continue
        weights = {k: rng.integers(f.raw_min, f.raw_max + 1, size=spec.weight_shapes()[k])
                   for k, f in spec.weight_formats().items()}
        try:
            weights = twin.check_weights(mutated, weights)
        except Exception:
            continue
        x = rng.standard_normal((4,) + spec.input_shape) * 4
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FixsimWarning)
            expected = fixsim_run(mutated, weights, x)
        actual = twin.run_testbench(ci_bench, namespace_of(spec.name), weights, x)
        if any(not np.array_equal(expected[k], actual[k]) for k in actual):
            found += 1
    assert found >= len(ci_networks) // 2, "flipping datapath options went unnoticed: the comparison is blind"


@pytest.mark.parametrize("field, modes, replacement", [
    ("overflow", ("AP_SAT", "AP_SAT_SYM", "AP_SAT_ZERO"), "AP_WRAP"),
    ("quantization", ("AP_RND_CONV", "AP_RND_INF", "AP_RND_ZERO", "AP_TRN_ZERO"), "AP_TRN"),
])
def test_seeded_data_reach_saturation_and_rounding(ci_networks, field, modes, replacement):
    """The accumulators of test_every_network_once really saturate and round: replacing
    their modes changes the taps (so equality there is not a vacuous no-overflow case)."""
    rng = np.random.default_rng(CI_SEED)
    changed = []
    for spec in ci_networks:
        weights, x = _seeded_data(spec, rng)
        d = spec.to_dict()
        for layer in d["layers"]:
            if layer["type"] in ("conv2d", "dense"):
                acc = FixedType.parse(layer["formats"]["accum"])
                if getattr(acc, field).name in modes:
                    kw = {field: replacement, **({"sat_bits": 0} if field == "overflow" else {})}
                    layer["formats"]["accum"] = str(dataclasses.replace(acc, **kw))
        try:
            mutated = load_spec(d)
        except Exception:  # e.g. a conversion the headers leave undefined in the new mode
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FixsimWarning)
            a, b = fixsim_run(spec, weights, x), fixsim_run(mutated, weights, x)
        if any(not np.array_equal(a[k], b[k]) for k in a):
            changed.append(spec.name)
    assert len(changed) >= 3, f"{field} {modes} never acts on the seeded data: {changed}"


@pytest.mark.slow
def test_campaign_many_networks(slow_enabled, need_gxx):
    """A bigger campaign: 80 more architectures in one binary, 25 data sets each."""
    specs = random_networks(1001, 80, prefix="camp")
    bench = twin.build(specs, opt="-O1", per_file=5)
    rng = np.random.default_rng(1001)
    for spec in specs:
        for trial in range(25):
            shift = int(rng.integers(0, 4))
            weights = {k: rng.integers(f.raw_min >> shift, (f.raw_max >> shift) + 1,
                                       size=spec.weight_shapes()[k])
                       for k, f in spec.weight_formats().items()}
            x = rng.standard_normal((3,) + spec.input_shape) * 2.0 ** int(rng.integers(0, 5))
            expected, actual = _both(bench, spec, weights, x)
            assert_taps_equal(expected, actual, spec, context=f"trial {trial}")
