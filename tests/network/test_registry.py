"""The layer registries: every site knows exactly the same layer types (docs/extending.md).

A layer type is described once per twin: the Python kind (fixsim.network.kinds.REGISTRY:
spec schema and parser, exact runner, float twin), the C++ codegen entry
(fixsim.csim.codegen.CPP_LAYERS, with its rtl/ header) and the latency model entry
(fixsim.hls.latency_model.KINDS).  A type missing at one site fails here, naming the
type and the site, never later as an AttributeError or a g++ error.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from fixsim.csim import codegen
from fixsim.errors import InputError
from fixsim.hls import latency_model
from fixsim.network import load_spec, run, run_float
from fixsim.network.kinds import REGISTRY, LayerKind, kind_of
from fixsim.network.weights import random_float_weights, random_weights

RTL = Path(__file__).resolve().parents[2] / "rtl"

#: One spec with a layer of every type.
EVERY_TYPE = {
    "name": "every-type",
    "input": {"shape": [2, 7, 6], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "zp", "type": "zeropad2d", "padding": [[0, 1], [1, 0]]},
        {"name": "c", "type": "conv2d", "out_channels": 3, "kernel": 3, "padding": "same",
         "activation": "relu",
         "formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<24,10>", "result": "ap_fixed<12,5,AP_RND,AP_SAT>"}},
        {"name": "p", "type": "maxpool2d", "kernel": 2, "ceil_mode": True},
        {"name": "sm", "type": "softmax"},
        {"name": "lk", "type": "leaky_relu", "alpha": 0.25, "alpha_format": "ap_fixed<8,1>"},
        {"name": "f", "type": "flatten", "order": "hwc"},
        {"name": "r", "type": "relu"},
        {"name": "sg", "type": "sigmoid", "formats": {"result": "ap_fixed<10,2,AP_RND>"}},
        {"name": "th", "type": "tanh", "index": "floor"},
        {"name": "d", "type": "dense", "out_features": 4,
         "formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<26,12>", "result": "ap_fixed<12,6,AP_RND,AP_SAT>"}},
        {"name": "l", "type": "linear"},
    ],
}
#: The 1-D layer types ((C, L) maps: no chain leads from a 2-D map to a 1-D one).
EVERY_TYPE_1D = {
    "name": "every-type-1d",
    "input": {"shape": [2, 11], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "zp", "type": "zeropad1d", "padding": [2, 1]},
        {"name": "c", "type": "conv1d", "out_channels": 3, "kernel": 3, "stride": 2,
         "activation": "relu",
         "formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<24,10>", "result": "ap_fixed<12,5,AP_RND,AP_SAT>"}},
        {"name": "p", "type": "maxpool1d", "kernel": 2, "ceil_mode": True},
        {"name": "dm", "type": "dense", "out_features": 2,
         "formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<26,12>", "result": "ap_fixed<12,6,AP_RND,AP_SAT>"}},
        {"name": "f", "type": "flatten", "order": "hwc"},
        {"name": "d", "type": "dense", "out_features": 4,
         "formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<26,12>", "result": "ap_fixed<12,6,AP_RND,AP_SAT>"}},
    ],
}
#: Average/global pooling and batchnorm (a global pool ends the map: one per spec).
EVERY_TYPE_POOL = {
    "name": "every-type-pool",
    "input": {"shape": [2, 7, 6], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "bn", "type": "batchnorm",
         "formats": {"scale": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                     "result": "ap_fixed<12,5,AP_RND,AP_SAT>"}},
        {"name": "ap", "type": "avgpool2d", "kernel": 3, "stride": 2, "padding": 1,
         "term": "to_accum", "sum_order": "tree",
         "formats": {"accum": "ap_fixed<14,7,AP_RND,AP_SAT>", "result": "ap_fixed<10,4,AP_RND>"}},
        {"name": "g", "type": "global_avgpool2d", "scaling": "reciprocal",
         "formats": {"accum": "ap_fixed<16,7>", "result": "ap_fixed<12,6,AP_RND,AP_SAT>",
                     "reciprocal": "ap_ufixed<10,0,AP_RND>"}},
        {"name": "bf", "type": "batchnorm",
         "formats": {"scale": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                     "result": "ap_fixed<12,5,AP_RND,AP_SAT>"}},
    ],
}
EVERY_TYPE_GMAX = {
    "name": "every-type-gmax",
    "input": {"shape": [3, 4, 5], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [{"name": "gm", "type": "global_maxpool2d", "term": "to_accum",
                "formats": {"accum": "ap_fixed<8,3,AP_RND,AP_WRAP>", "result": "ap_fixed<8,4>"}}],
}
EVERY_TYPE_POOL1D = {
    "name": "every-type-pool1d",
    "input": {"shape": [2, 9], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "bn", "type": "batchnorm",
         "formats": {"scale": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                     "result": "ap_fixed<12,5,AP_RND,AP_SAT>"}},
        {"name": "ap", "type": "avgpool1d", "kernel": 3, "stride": 2, "padding": 1,
         "count_pad": True, "formats": {"accum": "ap_fixed<14,7>", "result": "ap_fixed<10,4,AP_RND>"}},
        {"name": "g", "type": "global_avgpool1d", "term": "to_accum",
         "formats": {"accum": "ap_fixed<12,6,AP_RND,AP_SAT>", "result": "ap_fixed<10,4>"}},
    ],
}
EVERY_TYPE_GMAX1D = {
    "name": "every-type-gmax1d",
    "input": {"shape": [3, 5], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [{"name": "gm", "type": "global_maxpool1d"}],
}
EVERY_SPECS = (EVERY_TYPE,
               EVERY_TYPE_1D,
               EVERY_TYPE_POOL,
               EVERY_TYPE_GMAX,
               EVERY_TYPE_POOL1D,
               EVERY_TYPE_GMAX1D)


def _overrides(method: str) -> set[str]:
    """Types whose kind implements ``method`` itself (not the base's NotImplementedError)."""
    return {name for name, kind in REGISTRY.items()
            if getattr(type(kind), method) is not getattr(LayerKind, method)}


def sites() -> dict[str, set[str]]:
    """Site -> the layer types it covers."""
    return {
        "spec registry (fixsim.network.kinds.REGISTRY)": set(REGISTRY),
        "spec parser (LayerKind.parse)": _overrides("parse"),
        "exact runner (LayerKind.run)": _overrides("run"),
        "float twin (LayerKind.run_float)": _overrides("run_float"),
        "C++ codegen (fixsim.csim.codegen.CPP_LAYERS)": set(codegen.CPP_LAYERS),
        "latency model (fixsim.hls.latency_model.KINDS)": set(latency_model.KINDS),
    }


def coverage_problems(table: dict[str, set[str]]) -> list[str]:
    """One line per (type, site) where a type known somewhere is missing."""
    every = set().union(*table.values())
    return [f"layer type {t!r} is missing from the {site}"
            for site, types in table.items() for t in sorted(every - types)]


def test_every_site_covers_the_same_layer_types():
    problems = coverage_problems(sites())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("site", list(sites()))
def test_the_check_names_a_missing_type_and_its_site(site):
    table = sites()
    table[site] = table[site] - {"flatten"}
    assert coverage_problems(table) == [f"layer type 'flatten' is missing from the {site}"]


def test_kinds_are_registered_under_their_names():
    for name, kind in REGISTRY.items():
        assert kind.name == name
        assert set(kind.required) <= set(kind.allowed), name
        for fused in kind.fuses_with:
            assert fused in REGISTRY, f"{name} fuses with unknown type {fused!r}"
    types = {l.type for d in EVERY_SPECS for l in load_spec(d).layers}
    assert types == set(REGISTRY), f"EVERY_TYPE(_1D) lacks {sorted(set(REGISTRY) - types)}"


def test_every_cpp_entry_has_its_rtl_header_included():
    included = set(re.findall(r'#include "([^"]+)"', (RTL / "fixsim_layers.h").read_text()))
    for name, entry in codegen.CPP_LAYERS.items():
        assert (RTL / entry.header).is_file(), f"{name}: rtl/{entry.header} does not exist"
        assert entry.header in included, f"{name}: rtl/fixsim_layers.h does not include {entry.header}"
        assert entry.header in codegen.RTL_FILES, name


def test_unknown_type_is_one_line_naming_the_layer_and_the_known_types():
    bad = {**EVERY_TYPE, "layers": [{"name": "x", "type": "conv3d"}]}
    with pytest.raises(InputError) as info:
        load_spec(bad)
    msg = str(info.value)
    assert "\n" not in msg and "layer 0 ('x')" in msg and "'conv3d'" in msg
    assert "did you mean 'conv2d'" in msg and all(t in msg for t in REGISTRY)
    with pytest.raises(InputError, match="unknown layer type 7"):
        kind_of(7)


def test_a_missing_codegen_entry_names_the_type(monkeypatch):
    monkeypatch.delitem(codegen.CPP_LAYERS, "flatten")
    with pytest.raises(InputError, match=r"layer 'f': type 'flatten' has no C\+\+ codegen entry"):
        codegen.generate_network(load_spec(EVERY_TYPE))


@pytest.mark.parametrize("every", EVERY_SPECS, ids=lambda d: d["name"])
def test_every_type_runs_in_both_twins(every):
    """Each kind's exact runner and float twin, chained, with its taps (bits vs the C
    simulation: tests/rtl)."""
    spec = load_spec(every)
    x = np.random.default_rng(0).uniform(-6, 6, (3, *spec.input_shape))
    exact = run(spec, random_weights(spec, seed=1), x)
    ref = run(spec, random_weights(spec, seed=1), x, method="sequential")
    flt = run_float(spec, random_float_weights(spec, seed=1), x)
    assert list(exact) == list(flt) == ["input"] + [l.name for l in spec.layers]
    for layer in spec.layers:
        assert exact[layer.name].shape == flt[layer.name].shape == (3, *layer.out_shape)
        np.testing.assert_array_equal(exact[layer.name], ref[layer.name], err_msg=layer.name)
