"""Differential proof of the fast paths: whole random networks in each accumulator regime
(docs/datapath.md section 6) equal the rtl/ C simulation at every layer, and auto runs the
path of the regime ("direct" for products rounded into a wrapping accumulator, "speculative"
for saturating accumulators, "sequential" for WRAP with N > 0 / WRAP_SM).

Architectures come from netgen (seeded); each MAC layer's accumulator and product option
are then redrawn inside the regime, narrow enough that the data round and saturate (the
test asserts that replacing the modes changes the taps).  One binary serves all networks.
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
from fixsim.errors import FixsimError
from fixsim.fixed import FixedType, FixsimWarning, product_type
from fixsim.network import load_spec
from fixsim.network import run as fixsim_run

from .netgen import QUANT, random_networks
from .strategies import inputs_for, weights_for
from .taps import assert_taps_equal

REGIMES = ("wrap_rounded", "saturating", "wrap_n")
PATH = {"wrap_rounded": "direct", "saturating": "speculative", "wrap_n": "sequential"}


def _accum(rng, regime: str, in_fmt: FixedType, weight: FixedType):
    """(accum, product) for one MAC layer of ``regime``: products rounded into A (1-6 bits)."""
    pt = product_type(in_fmt, weight)
    frac = pt.frac_bits - int(rng.integers(1, 7))
    # integer bits at or below the product's: sums of a few products overflow
    width = min(max(pt.int_bits - int(rng.integers(0, 3)) + frac, 4), 40)
    q = QUANT[int(rng.integers(len(QUANT)))]
    if regime == "wrap_rounded":
        return FixedType(width, width - frac, True, q, "AP_WRAP"), "to_accum"
    if regime == "saturating":
        o = ["AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM"][int(rng.integers(3))]
        return FixedType(width, width - frac, True, q, o), "to_accum"
    o = ["AP_WRAP", "AP_WRAP_SM"][int(rng.integers(2))]
    return FixedType(width, width - frac, True, q, o, int(rng.integers(1, 3))), "to_accum"


def regime_networks(regime: str, seed: int, count: int) -> list:
    """``count`` netgen architectures with every MAC layer's accumulator in ``regime``."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in random_networks(seed, 4 * count, prefix=f"fp{regime[:4]}"):
        d = spec.to_dict()
        for layer, lay in zip(d["layers"], spec.layers):
            if layer["type"] in ("conv2d", "dense"):
                acc, product = _accum(rng, regime, lay.in_format, lay.formats.weight)
                layer["formats"]["accum"] = str(acc)
                layer.setdefault("options", {})["product"] = product
        try:
            new = load_spec(d)
        except FixsimError:
            continue
        if new.mac_layers:
            out.append(new)
        if len(out) == count:
            break
    return out


@pytest.fixture(scope="module")
def fp_networks():
    return {r: regime_networks(r, 50 + k, 2) for k, r in enumerate(REGIMES)}


@pytest.fixture(scope="module")
def fp_bench(need_gxx, fp_networks):
    specs = [s for r in REGIMES for s in fp_networks[r]]
    return twin.build(specs, opt="-O1", per_file=3)


def _both(bench, spec, weights, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        expected, used = fixsim_run(spec, weights, x, return_methods=True)
    actual = twin.run_testbench(bench, namespace_of(spec.name), weights, x)
    # the tap order is the engine's business (tests/rtl/test_random_networks.py checks it)
    assert set(expected) == set(actual), (sorted(expected), sorted(actual))
    return {k: expected[k] for k in actual}, used, actual


def _seeded(spec, rng):
    weights = {k: rng.integers(f.raw_min, f.raw_max + 1, size=spec.weight_shapes()[k])
               for k, f in spec.weight_formats().items()}
    return weights, rng.standard_normal((4,) + spec.input_shape) * 2.0 ** spec.input_format.int_bits


@pytest.mark.parametrize("regime", REGIMES)
def test_regime_networks_equal_csim_and_modes_act(fp_bench, fp_networks, regime):
    rng = np.random.default_rng(7)
    acted = {"overflow": 0, "quantization": 0}
    for spec in fp_networks[regime]:
        weights, x = _seeded(spec, rng)
        expected, used, actual = _both(fp_bench, spec, weights, x)
        assert_taps_equal(expected, actual, spec, context=regime)
        with warnings.catch_warnings():  # the ordered kernels, forced, in every regime
            warnings.simplefilter("ignore", FixsimWarning)
            ordered = fixsim_run(spec, weights, x, method="ordered")
        assert_taps_equal({k: ordered[k] for k in actual}, actual, spec, context="ordered")
        for name, path in used.items():  # "direct" where the data cannot overflow is exact too
            allowed = {PATH[regime], "direct", "gemm"} | ({"ordered"} if regime == "saturating" else set())
            assert set(path.split("+")) <= allowed, (name, path)
        assert PATH[regime] in "+".join(used.values())
        for field, value in (("overflow", "AP_WRAP"), ("quantization", "AP_TRN")):
            d = spec.to_dict()
            for layer in d["layers"]:
                if layer["type"] in ("conv2d", "dense"):
                    acc = FixedType.parse(layer["formats"]["accum"])
                    if field == "overflow" and regime == "wrap_rounded":
                        value = "AP_SAT"
                    if field == "quantization" and acc.quantization.name == "AP_TRN":
                        value = "AP_RND"
                    extra = {"sat_bits": 0} if field == "overflow" else {}
                    layer["formats"]["accum"] = str(dataclasses.replace(acc, **{field: value}, **extra))
            try:
                mutated = load_spec(d)
            except FixsimError:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FixsimWarning)
                alt = fixsim_run(mutated, weights, x)
            acted[field] += any(not np.array_equal(alt[k], expected[k]) for k in expected)
    assert acted["overflow"] >= 1 and acted["quantization"] >= 1, acted


@settings(max_examples=15)
@given(data=st.data())
def test_regime_networks_hypothesis_data(fp_bench, fp_networks, data):
    regime = data.draw(st.sampled_from(REGIMES), label="regime")
    spec = data.draw(st.sampled_from(fp_networks[regime]), label="network")
    weights = data.draw(weights_for(spec), label="weights")
    x = data.draw(inputs_for(spec), label="inputs")
    expected, _, actual = _both(fp_bench, spec, weights, x)
    assert_taps_equal(expected, actual, spec, context=regime)


@pytest.mark.slow
def test_regime_campaign(slow_enabled, need_gxx):
    """More architectures per regime (one binary) and 10 seeded data sets each."""
    specs = [s for k, r in enumerate(REGIMES) for s in regime_networks(r, 500 + k, 8)]
    bench = twin.build(specs, opt="-O1", per_file=5)
    rng = np.random.default_rng(500)
    for spec in specs:
        for trial in range(10):
            weights, x = _seeded(spec, rng)
            expected, _, actual = _both(bench, spec, weights, x)
            assert_taps_equal(expected, actual, spec, context=f"trial {trial}")
