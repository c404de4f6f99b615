"""hls4ml's datapath as a dialect against the rtl/ C simulation, bit for bit at every layer.

Networks of ``netgen`` (every option of the contract) are redrawn with what issue 11 adds:
result formats of their own on standalone activations, max pools and flattens (random
Q/O modes, so the second conversion rounds, saturates and wraps), the Resource summation
order with random reuse factors on conv2d and dense layers (saturating accumulators make
the order matter: asserted), and some in the ``"dialect": "hls4ml"`` preset with a
strategy and a reuse factor per layer.  One binary serves them all; seeded and Hypothesis
weights and inputs (beyond the input range: saturating) are compared at every tap.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixsim.csim import twin
from fixsim.csim.codegen import namespace_of
from fixsim.errors import FixsimError
from fixsim.fixed import FixsimWarning
from fixsim.network import load_spec
from fixsim.network import run as fixsim_run
from fixsim.network.dialect import valid_reuse_factors

from .netgen import rand_format, random_networks
from .strategies import inputs_for, weights_for
from .taps import assert_taps_equal

SEED, COUNT = 1243, 6
_OWN = ("relu", "linear", "leaky_relu", "maxpool2d", "flatten")


def _activation(rng, name: str) -> dict:
    kind = ("relu", "linear", "leaky_relu")[int(rng.integers(3))]
    obj = {"name": name, "type": kind}
    if kind == "leaky_relu":
        obj.update(alpha=float(np.round(rng.uniform(0.01, 0.6), 3)),
                   alpha_format=str(rand_format(rng, 4, 10, 0, 2, signed=True, ovf=["AP_SAT"])))
    return obj


def _results_and_orders(rng, d: dict, spec) -> dict:
    """Result formats on weightless layers (standalone activations added after MAC
    layers), the Resource order on MAC layers."""
    layers = []
    for layer, obj in zip(spec.layers, d["layers"], strict=True):
        layers.append(obj)
        if layer.type in ("conv2d", "dense"):
            if rng.random() < 0.8:
                obj["options"]["sum_order"] = "resource"
                obj["options"]["reuse_factor"] = int(rng.integers(2, layer.fan_in + 3))
            if rng.random() < 0.5:
                layers.append(_activation(rng, f"{layer.name}_act"))
    for obj in layers:
        if obj["type"] in _OWN and rng.random() < 0.75:
            obj["formats"] = {"result": str(rand_format(rng, 3, 14, -1, 6))}
    d["layers"] = layers
    return d


def _hls4ml(rng, d: dict, spec) -> dict:
    """The same network in the hls4ml dialect: options dropped (the preset sets them),
    a strategy and one of hls4ml's reuse factors per MAC layer."""
    io = "io_parallel" if rng.random() < 0.5 else "io_stream"
    d["dialect"] = {"name": "hls4ml", "io_type": io}
    d.pop("options", None)
    for layer, obj in zip(spec.layers, d["layers"], strict=True):
        if layer.type in ("conv2d", "dense"):
            obj.pop("options")
            valid = valid_reuse_factors(layer.fan_in, layer.weight_shape[0])
            if layer.type == "conv2d" and io == "io_parallel":
                valid = [r for r in valid if r <= layer.fan_in]
            obj["strategy"] = "Resource" if rng.random() < 0.75 else "Latency"
            obj["reuse_factor"] = int(valid[int(rng.integers(len(valid)))])
        if layer.type == "flatten" and rng.random() < 0.5:
            obj.pop("order")  # the dialect's default: hwc
        if layer.type in _OWN and layer.type != "flatten" and rng.random() < 0.6:
            obj["formats"] = {"result": str(rand_format(rng, 3, 14, -1, 6))}  # (hls4ml's
    return d  # flatten converts nothing: the dialect refuses a result format there)


def dialect_networks(seed: int, count: int, prefix: str = "dia") -> list:
    """``count`` valid specs: netgen networks redrawn with result formats and Resource
    orders, every third one in the hls4ml dialect (redrawn until the loader accepts)."""
    rng = np.random.default_rng(seed)
    out: list = []
    base = iter(random_networks(seed, 6 * count, prefix=prefix))
    while len(out) < count:
        spec = next(base)
        d = spec.to_dict()
        d = _hls4ml(rng, d, spec) if len(out) % 3 == 2 else _results_and_orders(rng, d, spec)
        try:
            out.append(load_spec(d))
        except FixsimError:  # e.g. a conversion the headers leave undefined
            continue
    return out


def coverage(specs) -> set:
    seen = set()
    for spec in specs:
        if spec.dialect is not None:
            seen.add(f"dialect={spec.dialect.io_type}")
        for layer in spec.layers:
            if getattr(layer, "result", None) is not None:
                seen.add(f"result={layer.type}")
            if layer.type in ("conv2d", "dense"):
                o = layer.options
                if o.sum_order == "resource" and 1 < o.reuse_factor < layer.fan_in:
                    seen.add(f"resource={layer.type}")
                    if layer.formats.accum.overflow.name.startswith("AP_SAT"):
                        seen.add(f"resource_saturating={layer.type}")
                if layer.strategy is not None:
                    seen.add(f"strategy={layer.strategy}")
    return seen


REQUIRED = {"result=relu", "result=linear", "result=leaky_relu", "result=maxpool2d",
            "result=flatten", "resource=conv2d", "resource=dense",
            "resource_saturating=conv2d", "resource_saturating=dense",
            "dialect=io_parallel", "dialect=io_stream", "strategy=Resource", "strategy=Latency"}


@pytest.fixture(scope="module")
def networks():
    return dialect_networks(SEED, COUNT)


@pytest.fixture(scope="module")
def bench(need_gxx, networks):
    return twin.build(networks, opt="-O1", per_file=3)


def _seeded(spec, rng):
    weights = {k: rng.integers(f.raw_min, f.raw_max + 1, size=spec.weight_shapes()[k])
               for k, f in spec.weight_formats().items()}
    x = rng.standard_normal((4,) + spec.input_shape) * 2.0 ** spec.input_format.int_bits
    return weights, x


def _python(spec, weights, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)  # saturating inputs are intended
        return fixsim_run(spec, weights, x)


def test_the_set_covers_every_case(networks):
    missing = REQUIRED - coverage(networks)
    assert not missing, f"dialect_networks({SEED}, {COUNT}) misses {sorted(missing)}"


def test_every_network_against_the_c_simulation(bench, networks):
    rng = np.random.default_rng(SEED)
    saturated = 0
    for spec in networks:
        weights, x = _seeded(spec, rng)
        saturated += int(np.count_nonzero(np.abs(x) >= spec.input_format.max))
        actual = twin.run_testbench(bench, namespace_of(spec.name), weights, x)
        assert_taps_equal(_python(spec, weights, x), actual, spec)
    assert saturated > 0


@settings(max_examples=40)
@given(data=st.data())
def test_hypothesis_weights_and_inputs(bench, networks, data):
    spec = data.draw(st.sampled_from(networks), label="network")
    weights = data.draw(weights_for(spec), label="weights")
    x = data.draw(inputs_for(spec), label="inputs")
    actual = twin.run_testbench(bench, namespace_of(spec.name), weights, x)
    assert_taps_equal(_python(spec, weights, x), actual, spec)


def _plain(spec) -> "object | None":
    """The spec without what issue 11 added (k in order / kh_kw_ci, no result formats)."""
    d = copy.deepcopy(spec.to_dict())
    d.pop("dialect", None)
    for obj in d["layers"]:
        if "options" in obj and obj["options"]["sum_order"] == "resource":
            obj["options"] = {**obj["options"], "sum_order": "kh_kw_ci"}
            obj["options"].pop("reuse_factor")
        obj.pop("strategy", None)
        obj.pop("reuse_factor", None)
        if obj["type"] in _OWN:
            obj.pop("formats", None)
    try:
        return load_spec(d)
    except FixsimError:
        return None


def test_the_new_options_act_on_the_seeded_data(networks):
    """Without the result formats and the Resource order the same data give other taps
    in most networks: equality above is not vacuous."""
    rng = np.random.default_rng(SEED)
    changed = 0
    for spec in networks:
        weights, x = _seeded(spec, rng)
        plain = _plain(spec)
        if plain is None:
            continue
        a, b = _python(spec, weights, x), _python(plain, weights, x)
        changed += any(not np.array_equal(a[k], b[k]) for k in a)
    assert changed >= len(networks) - 2
