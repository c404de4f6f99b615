"""Differential proof for avgpool2d/1d, global_avgpool2d/1d, global_maxpool2d/1d and batchnorm:
fixsim.network.run equals the C simulation of rtl/ (g++ on the ap_types headers) at
every layer, on seeded random networks drawing every switch of these layers
(netgen_pool), with seeded full-range data that saturates, and Hypothesis data."""

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

from .netgen_pool import coverage, random_pool1d_networks, random_pool_networks
from .strategies import inputs_for, weights_for
from .taps import assert_taps_equal

#: The CI set, (C, H, W) and (C, L) networks: every switch below is drawn (asserted by the
#: first test).
SEED, COUNT = 85, 6
SEED_1D, COUNT_1D = 109, 3
REQUIRED = {
    "layer=avgpool2d", "layer=global_avgpool2d", "layer=global_maxpool2d", "layer=batchnorm",
    "avgpool2d:term=exact", "avgpool2d:term=to_accum", "avgpool2d:scaling=divide",
    "avgpool2d:scaling=reciprocal", "global_avgpool2d:term=exact",
    "global_avgpool2d:term=to_accum", "global_avgpool2d:scaling=divide",
    "global_avgpool2d:scaling=reciprocal", "sum_order=tree", "sum_order=sequential",
    "count_pad=True", "count_pad=False", "avgpool2d:padding", "gmax:term=exact", "gmax:term=to_accum",
    "gmax:formats=True", "gmax:formats=False", "batchnorm:rank=3", "batchnorm:rank=1",
    "accum_o=AP_SAT", "accum_o=AP_WRAP", "accum_o=AP_SAT_SYM",
    "layer=avgpool1d", "layer=global_avgpool1d", "layer=global_maxpool1d",
    "avgpool1d:term=exact", "avgpool1d:term=to_accum", "avgpool1d:scaling=divide",
    "avgpool1d:scaling=reciprocal", "avgpool1d:padding", "global_avgpool1d:term=exact",
    "global_avgpool1d:term=to_accum", "batchnorm:rank=2"}


#: Assignments between identical types are copies in C++ (an AP_SAT_SYM minimum stays the
#: minimum), conversions between different ones apply the minimum rule: raw inputs at the
#: minimum reach the pools' accumulators and results through both.
SYM = "ap_fixed<6,2,AP_RND,AP_SAT_SYM>"
COPIES = {"name": "copies", "input": {"shape": [2, 4, 4], "format": SYM}, "layers": [
    {"name": "ap", "type": "avgpool2d", "kernel": 2, "stride": 1, "term": "to_accum",
     "sum_order": "tree", "formats": {"accum": SYM, "result": "ap_fixed<6,2,AP_TRN,AP_SAT_SYM>"}},
    {"name": "gm", "type": "global_maxpool2d", "term": "to_accum",
     "formats": {"accum": "ap_fixed<6,2,AP_TRN,AP_SAT_SYM>",
                 "result": "ap_fixed<6,2,AP_TRN,AP_SAT_SYM>"}}]}
COPIES_1D = {"name": "copies1d", "input": {"shape": [2, 5], "format": SYM}, "layers": [
    {"name": "gm", "type": "global_maxpool1d", "formats": {"accum": SYM, "result": SYM}}]}


@pytest.fixture(scope="module")
def networks():
    return (random_pool_networks(SEED, COUNT) + random_pool1d_networks(SEED_1D, COUNT_1D)
            + [load_spec(COPIES), load_spec(COPIES_1D)])


@pytest.fixture(scope="module")
def bench(need_gxx, networks):
    return twin.build(networks, opt="-O1", per_file=len(networks))


def _both(bench, spec, weights, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)  # out-of-range inputs are intended
        expected = fixsim_run(spec, weights, x)
    return expected, twin.run_testbench(bench, namespace_of(spec.name), weights, x)


def _seeded(spec, rng, scale=2.0):
    weights = {k: rng.integers(f.raw_min, f.raw_max + 1, size=spec.weight_shapes()[k])
               for k, f in spec.weight_formats().items()}
    x = rng.standard_normal((4,) + spec.input_shape) * scale ** spec.input_format.int_bits
    return weights, x


def test_the_set_covers_every_switch(networks):
    missing = REQUIRED - coverage(networks)
    assert not missing, f"netgen_pool seeds {SEED}, {SEED_1D} miss {sorted(missing)}"


def test_every_network_every_layer(bench, networks):
    """Seeded full-range weights and inputs about 2x beyond the input range: equal taps."""
    rng = np.random.default_rng(SEED)
    saturated = 0
    for spec in networks:
        weights, x = _seeded(spec, rng)
        f = spec.input_format
        saturated += int(np.count_nonzero((x > f.max) | (x < f.min)))
        expected, actual = _both(bench, spec, weights, x)
        assert_taps_equal(expected, actual, spec)
    assert saturated > 0, "no input saturates"


def test_same_type_assignments_are_copies(bench, networks):
    """Raw inputs at an AP_SAT_SYM minimum: equal taps, and the minimum reaches the outputs
    where C++ copies (a conversion would have raised it by one LSB)."""
    f = FixedType.parse(SYM)
    for spec in networks[-2:]:
        x = np.full((2,) + spec.input_shape, f.raw_min, np.int64)
        x[1, :, 0] = f.raw_min + 1
        expected, actual = _both(bench, spec, {}, x)
        assert_taps_equal(expected, actual, spec)
    assert expected["gm"].min() == f.raw_min  # copies1d: accum_t = result_t = input_t


@settings(max_examples=40)
@given(data=st.data())
def test_hypothesis_weights_and_inputs(bench, networks, data):
    spec = data.draw(st.sampled_from(networks), label="network")
    weights = data.draw(weights_for(spec), label="weights")
    x = data.draw(inputs_for(spec), label="inputs")
    expected, actual = _both(bench, spec, weights, x)
    assert_taps_equal(expected, actual, spec)


@pytest.mark.parametrize("field, swap", [("overflow", ("AP_WRAP", "AP_SAT")),
                                         ("quantization", ("AP_TRN", "AP_RND"))])
def test_the_accumulator_modes_act(networks, field, swap):
    """On the seeded data, the pool accumulators' modes change the taps (equality above is
    not a vacuous no-rounding, no-overflow case)."""
    rng = np.random.default_rng(SEED)
    changed = 0
    for spec in networks:
        weights, x = _seeded(spec, rng)
        d = spec.to_dict()
        for layer in d["layers"]:
            if layer["type"] in ("avgpool2d", "global_avgpool2d", "avgpool1d", "global_avgpool1d"):
                acc = FixedType.parse(layer["formats"]["accum"])
                new = swap[1] if getattr(acc, field).name == swap[0] else swap[0]
                kw = {field: new, **({"sat_bits": 0} if field == "overflow" else {})}
                layer["formats"]["accum"] = str(dataclasses.replace(acc, **kw))
        try:
            mutated = load_spec(d)
        except Exception:  # a conversion the headers leave undefined in the new mode
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FixsimWarning)
            a, b = fixsim_run(spec, weights, x), fixsim_run(mutated, weights, x)
        changed += any(not np.array_equal(a[k], b[k]) for k in a)
    assert changed >= 2, f"the accumulators' {field} never acts on the seeded data"
