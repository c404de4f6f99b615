"""fixsim against hls4ml 1.3.0's own compiled C simulation, at every traced layer (issue 11).

Seeded random networks (``h4_netgen``) are converted from PyTorch by hls4ml (Vivado backend),
compiled by hls4ml's ``build_lib.sh`` (cached by content hash) and traced; every layer's
output must equal fixsim's tap of the same layer in every bit (0 differing values).

The CI share is a handful of networks chosen so that together they draw every layer type,
both io types, both strategies (Resource with reuse factor 1 and above 1, fixsim's
``sum_order="resource"``), every accumulator regime (wide, saturating, wrapping, products
rounded) and mode, activation and pool layers with result formats of their own, unsigned
maps, and inputs that saturate (asserted per network); ``pytest -m slow`` runs more seeds
and the costlier checks.

What hls4ml cannot express, or gets wrong, is not compared here (see
``test_hls4ml_contract.py``, which checks fixsim against its own contract instead):

- a flatten with a result format of its own (hls4ml's Reshape is an alias: no
  conversion), and a standalone linear layer with one (no PyTorch module carries it);
- ``activation_on="accum"`` and ``product="exact"``: hls4ml always stores each product in
  ``accum_t`` and converts to ``res_T`` before the activation layer;
- ceil-mode pooling (hls4ml's PyTorch front end ignores ``ceil_mode``) and padded pools
  (hls4ml pads an unsigned map with 2^(I-1), not with its smallest code);
- in io_stream, an activation right after a flatten (hls4ml reads the flattened stream
  with the wrong pack size; see ``h4_netgen``).

This directory has no ``__init__.py`` on purpose: tests/conftest.py puts ``tests/`` first
on ``sys.path``, so a package ``tests/hls4ml`` would be found by ``import hls4ml`` (and by
``fixsim.csim.headers``, which locates the ap_types headers through hls4ml) in place of
the real hls4ml.  pytest imports these modules by their file names instead.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from fixsim.fixed import FixedType, product_type
from fixsim.network import load_spec

import h4_harness as H
from h4_netgen import ACC_REGIMES, coverage, draw_case, variant

#: (seed, io_type, strategy, largest reuse factor): a small set covering REQUIRED (asserted).
CI_CASES = [
    (166, "io_stream", "Resource", 8),
    (203, "io_parallel", "Resource", 8),
    (215, "io_stream", "Resource", 1),
    (65, "io_stream", "Latency", 1),
    (27, "io_parallel", "Latency", 1),
]

REQUIRED = {
    "io=io_parallel", "io=io_stream", "strategy=Latency", "strategy=Resource",
    "channels_last=full", "channels_last=internal",
    "layer=conv2d", "layer=maxpool2d", "layer=flatten", "layer=dense", "layer=relu",
    "layer=leaky_relu", "layer=linear", "activation=relu", "activation=leaky_relu",
    "activation=linear", "bias=True", "bias=False", "padding=same", "pool_stride!=kernel",
    "flatten=hwc", "flatten=chw", "input=unsigned",
    "accum_regime=wide", "accum_regime=sat", "accum_regime=wrap", "accum_regime=round",
    "accum_o=AP_SAT", "accum_o=AP_SAT_SYM", "accum_o=AP_SAT_ZERO", "accum_o=AP_WRAP",
    "accum_o=AP_WRAP_N>0",
    "accum_q=AP_RND", "accum_q=AP_RND_CONV", "accum_q=AP_TRN", "accum_q=AP_TRN_ZERO",
    "accum_q=AP_RND_ZERO", "accum_q=AP_RND_INF", "accum_q=AP_RND_MIN_INF",
    "result_o=AP_SAT", "result_o=AP_SAT_SYM", "result_o=AP_SAT_ZERO", "result_o=AP_WRAP",
    "io_parallel+Latency", "io_parallel+Resource", "io_stream+Latency", "io_stream+Resource",
    "io_stream:conv2d", "io_stream:maxpool2d", "io_stream:dense", "io_parallel:conv2d",
    "io_parallel:maxpool2d", "Resource:conv2d", "Resource:dense", "conv2d_sum_order_matters",
    "own_result_format=relu", "own_result_format=leaky_relu", "own_result_format=maxpool2d",
    "Resource+RF=1", "Resource+RF>1", "resource_order:R>=K",
} | {f"{io}:resource_order:{kind}" for io in ("io_parallel", "io_stream")
     for kind in ("conv2d", "dense")
     } | {f"{kind}_regime={r}" for kind in ("conv2d", "dense") for r in ACC_REGIMES}

SLOW_SEEDS = range(1000, 1030)
_COMBOS = [("io_parallel", "Latency", 1), ("io_stream", "Latency", 1),
           ("io_parallel", "Resource", 1), ("io_stream", "Resource", 1),
           ("io_parallel", "Resource", 8), ("io_stream", "Resource", 8)]


@pytest.fixture(scope="module")
def need_hls4ml():
    """Skip (with the reason) where hls4ml, torch or g++ is missing."""
    reason = H.unavailable_reason()
    if reason:
        pytest.skip(reason)


def test_hls4ml_is_not_shadowed_by_this_directory(need_hls4ml):
    import importlib.util

    from fixsim.csim.headers import find_ap_types

    here = Path(__file__).resolve().parent
    assert here not in Path(importlib.util.find_spec("hls4ml").origin).resolve().parents
    assert here not in find_ap_types().resolve().parents


@pytest.fixture(scope="module")
def ci_cases():
    return [draw_case(*c) for c in CI_CASES]


@pytest.fixture(scope="module")
def ci_traces(need_hls4ml, ci_cases):
    """hls4ml's traces of every CI case (two g++ builds at a time when cold, else cached)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        builds = list(pool.map(H.build, ci_cases))
    return [H.run_traced(b, H.hls_input(c))[1] for c, b in zip(ci_cases, builds)]


def _assert_inputs_saturate(case) -> None:
    f = case.spec.input_format
    outside = int(np.count_nonzero((case.x < f.min) | (case.x > f.max)))
    assert outside > 0, f"{case.label}: no input beyond the range of {f}"


def test_ci_set_covers_everything(ci_cases):
    missing = REQUIRED - coverage(ci_cases)
    assert not missing, f"the CI cases {CI_CASES} miss {sorted(missing)}"


@pytest.mark.parametrize("index", range(len(CI_CASES)),
                         ids=[f"{s}-{io}-{st}-RF{rf}" for s, io, st, rf in CI_CASES])
def test_equal_to_hls4ml_csim(index, ci_cases, ci_traces, record_property):
    case = ci_cases[index]
    _assert_inputs_saturate(case)
    result = H.compare(case, H.run_fixsim(case), ci_traces[index])
    record_property("values_compared", result.compared)
    assert result.compared > 0
    assert result.differing == 0, result.report()


def _set_option(key: str, value: str, kinds=("conv2d", "dense")):
    def mutate(d):
        for layer in d["layers"]:
            if layer["type"] in kinds:
                layer["options"][key] = value
    return mutate


def _natural_order(d):
    for layer in d["layers"]:
        if layer["type"] in ("conv2d", "dense") and layer["options"]["sum_order"] == "resource":
            layer["options"]["sum_order"] = "kh_kw_ci"
            layer["options"].pop("reuse_factor")


#: fixsim's other choices for what hls4ml does (product="exact" is no alternative: where
#: fixsim accepts it the accumulator holds every product, so it equals "to_accum").
ORDERS = {
    "sum_order=ci_kh_kw": _set_option("sum_order", "ci_kh_kw", ("conv2d",)),
    "natural order instead of hls4ml's Resource order": _natural_order,
}
ACTIVATION_ON = {"activation_on=accum": _set_option("activation_on", "accum")}


def _differing(alternatives: dict, cases, traces) -> dict:
    counts = dict.fromkeys(alternatives, 0)
    for name, mutate in alternatives.items():
        for case, trace in zip(cases, traces):
            alt = variant(case, mutate)
            if alt is not None:
                counts[name] += H.compare(alt, H.run_fixsim(alt), trace).differing
    return counts


def test_the_other_sum_orders_differ_from_hls4ml(ci_cases, ci_traces):
    """The mapping is not vacuous: with fixsim's other conv order, or the natural order in
    place of the Resource order, the CI networks no longer equal hls4ml."""
    counts = _differing(ORDERS, ci_cases, ci_traces)
    assert all(n > 0 for n in counts.values()), f"values differing from hls4ml: {counts}"


@pytest.mark.slow
def test_activation_on_the_accumulator_differs_from_hls4ml(ci_cases, ci_traces):
    """hls4ml converts to ``res_T`` before its activation layer; fixsim's
    ``activation_on="accum"`` does not (slow: it compiles the other finishing kernels)."""
    counts = _differing(ACTIVATION_ON, ci_cases, ci_traces)
    assert all(n > 0 for n in counts.values()), f"values differing from hls4ml: {counts}"


def _dialect_form(case) -> dict:
    """The case's spec written with the ``"dialect": "hls4ml"`` preset: no options, each
    conv2d/dense layer with its strategy and reuse factor (flatten orders kept)."""
    d = copy.deepcopy(case.spec_dict)
    d.pop("options", None)
    d["dialect"] = {"name": "hls4ml", "io_type": case.io_type, "strategy": case.strategy,
                    "reuse_factor": 1}
    for layer in d["layers"]:
        if layer["type"] in ("conv2d", "dense"):
            layer["reuse_factor"] = layer.pop("options").get("reuse_factor", 1)
    return d


def test_the_hls4ml_dialect_preset_sets_these_options(ci_cases):
    """fixsim's ``"dialect": "hls4ml"`` preset resolves every conv2d/dense layer of the CI
    networks to the options that equal hls4ml here (product, sum order, Resource order and
    reuse factor, activation on the result)."""
    for case in ci_cases:
        preset = load_spec(_dialect_form(case))
        for mine, theirs in zip(case.spec.layers, preset.layers):
            if mine.type in ("conv2d", "dense"):
                assert theirs.options == mine.options, f"{case.label} {mine.name}"


def _widen(name: str, layer):
    """Give layer ``name`` an accumulator that holds every partial sum exactly."""
    pt = product_type(layer.in_format, layer.formats.weight)
    b = layer.formats.bias or pt
    frac = max(pt.frac_bits, b.frac_bits)
    ib = max(pt.int_bits, b.int_bits) + int(np.ceil(np.log2(layer.fan_in + 1))) + 1

    def mutate(d):
        for l in d["layers"]:
            if l["name"] == name:
                l["formats"]["accum"] = str(FixedType(min(ib + frac, 62), ib, True))
    return mutate if ib + frac <= 62 else None


def test_the_accumulator_modes_act(ci_cases):
    """The narrow accumulators of the CI set are not wide in disguise: replacing one by an
    accumulator that holds every partial sum changes that layer's outputs (saturation,
    wrapping and product rounding all act somewhere)."""
    acted = dict.fromkeys(("sat", "wrap", "round"), 0)
    for case in ci_cases:
        taps = H.run_fixsim(case)
        for name, regime in case.regimes.items():
            mutate = _widen(name, case.spec.layer(name))
            alt = None if regime == "wide" or mutate is None else variant(case, mutate)
            if alt is not None:
                acted[regime] += int(np.count_nonzero(H.run_fixsim(alt)[name] != taps[name]))
    assert all(n > 0 for n in acted.values()), f"outputs changed by a wide accumulator: {acted}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_equal_to_hls4ml_csim_more_seeds(seed, need_hls4ml):
    io_type, strategy, rf = _COMBOS[seed % len(_COMBOS)]
    case = draw_case(seed, io_type, strategy, rf)
    _assert_inputs_saturate(case)
    _, traces = H.run_traced(H.build(case), H.hls_input(case))
    result = H.compare(case, H.run_fixsim(case), traces)
    assert result.differing == 0, result.report()
