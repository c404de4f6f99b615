"""Differential proof for the 1-D layer types and the zero-padding layers: fixsim.network.run
equals the rtl/ C simulation (g++ on the Xilinx ap_types headers) bit for bit at every
layer, on seeded random networks (tests/rtl/netgen1d.py) with random formats (rounding,
saturating and wrapping accumulators), hls4ml's Resource summation order, and inputs
that saturate.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixsim.csim import twin
from fixsim.csim.codegen import namespace_of
from fixsim.fixed import FixedType, FixsimWarning
from fixsim.network import load_spec
from fixsim.network import run as fixsim_run

from .netgen1d import coverage_1d, random_networks_1d
from .strategies import inputs_for, weights_for
from .taps import assert_taps_equal

SEED, COUNT = 36, 6
#: What the CI set must draw (asserted).
REQUIRED = {
    "input_rank=2", "input_rank=3", "layer=conv1d", "layer=maxpool1d", "layer=zeropad1d",
    "layer=zeropad2d", "dense_on_map", "flatten1d=chw", "flatten1d=hwc",
    "conv1d_sum_order=ci_kh_kw", "conv1d_sum_order=kh_kw_ci", "conv1d_product=exact",
    "conv1d_product=to_accum", "conv1d_stride>1", "conv1d_padding=asymmetric",
    "conv1d_padding=symmetric", "conv1d_accum_o=AP_SAT", "conv1d_accum_o=AP_SAT_SYM",
    "conv1d_accum_o=AP_WRAP", "maxpool1d_ceil=True", "maxpool1d_ceil=False",
    "zeropad2d=asymmetric", "dense_map_accum_o=AP_SAT", "conv1d_sum_order=resource",
    "dense_map_sum_order=resource",
}


@pytest.fixture(scope="module")
def networks():
    return random_networks_1d(SEED, COUNT)


@pytest.fixture(scope="module")
def bench(need_gxx, networks):
    return twin.build(networks, opt="-O1", per_file=4)


def _seeded_data(spec, rng):
    """Full-range weights (a third at the extremes) and inputs beyond the input range."""
    weights = {}
    for t in spec.tensors():
        w = rng.integers(t.format.raw_min, t.format.raw_max + 1, size=t.shape)
        ext = rng.choice(np.array([t.format.raw_min, t.format.raw_max]), size=t.shape)
        weights[t.name] = np.where(rng.random(t.shape) < 0.3, ext, w)
    x = rng.standard_normal((4,) + spec.input_shape) * 2.0 ** spec.input_format.int_bits
    return weights, x


def _both(bench, spec, weights, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)  # saturating inputs are intended
        expected = fixsim_run(spec, weights, x)
    return expected, twin.run_testbench(bench, namespace_of(spec.name), weights, x)


def test_the_set_covers_every_option(networks):
    missing = REQUIRED - coverage_1d(networks)
    assert not missing, f"netgen1d seed {SEED} x {COUNT} misses {sorted(missing)}"


def test_every_network_at_every_layer(bench, networks):
    rng = np.random.default_rng(SEED)
    saturated = 0
    for spec in networks:
        weights, x = _seeded_data(spec, rng)
        f = spec.input_format
        saturated += int(((x < f.min) | (x > f.max)).sum())
        expected, actual = _both(bench, spec, weights, x)
        assert_taps_equal(expected, actual, spec)
    assert saturated > 0, "no input saturates the input format"


@settings(max_examples=min(40, settings().max_examples))  # one g++ run per example
@given(data=st.data())
def test_hypothesis_weights_and_inputs(bench, networks, data):
    spec = data.draw(st.sampled_from(networks), label="network")
    weights = data.draw(weights_for(spec), label="weights")
    x = data.draw(inputs_for(spec), label="inputs")
    expected, actual = _both(bench, spec, weights, x)
    assert_taps_equal(expected, actual, spec)


@pytest.mark.parametrize("field, modes, replacement", [
    ("overflow", ("AP_SAT", "AP_SAT_SYM", "AP_SAT_ZERO"), "AP_WRAP"),
    ("quantization", ("AP_RND_CONV", "AP_RND_INF", "AP_RND_ZERO", "AP_TRN_ZERO", "AP_RND"),
     "AP_TRN"),
])
def test_the_data_make_the_accumulator_modes_act(networks, field, modes, replacement):
    """Replacing the conv1d/dense accumulators' modes changes the taps on the data of
    test_every_network_at_every_layer: the equality there is not a vacuous no-overflow,
    no-rounding case."""
    rng = np.random.default_rng(SEED)
    changed = []
    for spec in networks:
        weights, x = _seeded_data(spec, rng)
        d = spec.to_dict()
        for layer in d["layers"]:
            if layer["type"] in ("conv1d", "dense"):
                acc = FixedType.parse(layer["formats"]["accum"])
                if getattr(acc, field).name in modes:
                    kw = {field: replacement, **({"sat_bits": 0} if field == "overflow" else {})}
                    layer["formats"]["accum"] = str(dataclasses.replace(acc, **kw))
        try:
            mutated = load_spec(d)
        except Exception:  # a conversion the headers leave undefined in the new mode
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FixsimWarning)
            a, b = fixsim_run(spec, weights, x), fixsim_run(mutated, weights, x)
        if any(not np.array_equal(a[k], b[k]) for k in a):
            changed.append(spec.name)
    assert len(changed) >= 2, f"{field} {modes} never acts on the seeded data: {changed}"


@pytest.mark.slow
def test_campaign_many_networks(slow_enabled, need_gxx):
    """More architectures (40) in one binary, 10 data sets each."""
    specs = random_networks_1d(2024, 40, prefix="seqc")
    bench = twin.build(specs, opt="-O1", per_file=5)
    rng = np.random.default_rng(2024)
    for spec in specs:
        for trial in range(10):
            weights, x = _seeded_data(spec, rng)
            expected, actual = _both(bench, spec, weights, x)
            assert_taps_equal(expected, actual, spec, context=f"trial {trial}")
