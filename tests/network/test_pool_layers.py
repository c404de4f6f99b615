"""avgpool2d/1d, global_avgpool2d/1d, global_maxpool2d/1d and batchnorm: kernels == slow naive
references (every conversion through fixsim.fixed's ports of the headers), float twins ==
PyTorch, and hostile spec values refused with one-line errors.  Bits against the C
simulation of rtl/: tests/rtl/test_pool_csim.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from fixsim.errors import FixsimError, FormatError, InputError
from fixsim.fixed import FixedType, FixsimWarning
from fixsim.layers.avgpool import avgpool2d, global_avgpool, global_maxpool, tree_plan
from fixsim.layers.batchnorm import batchnorm
from fixsim.network import load_spec, run, run_float
from fixsim.network.weights import random_float_weights, random_weights
from helpers import assert_bits_equal

from .layer_strategies import fmt
from .naive_pool import (naive_avgpool2d, naive_batchnorm, naive_global_avgpool,
                         naive_global_maxpool)


def _spec(in_shape, in_fmt, layer) -> "object":
    """A one-layer spec (the real loader validates it); rejected draws are assumed away."""
    try:
        return load_spec({"name": "t", "input": {"shape": list(in_shape), "format": in_fmt},
                          "layers": [{"name": "p", **layer}]})
    except FixsimError as exc:
        note(f"rejected: {exc}")
        assume(False)


def _raw(draw, fmt_text, shape):
    f = FixedType.parse(fmt_text)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(f.raw_min, f.raw_max + 1, size=shape)
    edges = rng.random(shape) < 0.2  # extremes: the sums saturate or wrap
    return np.where(edges, np.where(rng.random(shape) < 0.5, f.raw_min, f.raw_max), x)


@st.composite
def avg_fields(draw, tree_allowed=True):
    scaling = draw(st.sampled_from(["divide", "reciprocal"]))
    order = draw(st.sampled_from(["sequential", "tree"])) if tree_allowed else "sequential"
    term = "to_accum" if order == "tree" else draw(st.sampled_from(["exact", "to_accum"]))
    formats = {"accum": draw(fmt(wmin=2, wmax=24)), "result": draw(fmt(wmax=16))}
    if scaling == "reciprocal":
        formats["reciprocal"] = draw(fmt(wmin=1, wmax=12))
    out = {"term": term, "scaling": scaling, "formats": formats}
    if tree_allowed:
        out["sum_order"] = order
    return out


@st.composite
def avgpool_case(draw):
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kh, kw = draw(st.integers(1, min(h, 4))), draw(st.integers(1, min(w, 4)))
    ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    layer = {"type": "avgpool2d", "kernel": [kh, kw],
             "stride": [draw(st.integers(1, 3)), draw(st.integers(1, 3))],
             "padding": [ph, pw], "count_pad": draw(st.booleans()), **draw(avg_fields())}
    in_fmt = draw(fmt(wmax=12))
    spec = _spec((c, h, w), in_fmt, layer)
    return spec, _raw(draw, in_fmt, (draw(st.integers(1, 3)), c, h, w))


@given(avgpool_case())
def test_avgpool2d_equals_naive(case):
    spec, x = case
    lay = spec.layers[0]
    note(spec.to_json(indent=None))
    got = avgpool2d(x, lay.cfg, lay.kernel, lay.stride, lay.padding)
    want = naive_avgpool2d(x, lay.cfg, lay.kernel, lay.stride, lay.padding)
    assert_bits_equal(want, got, context=f"avgpool2d {lay.cfg}")
    assert load_spec(spec.to_json()).spec_hash() == spec.spec_hash()
    assert load_spec(spec.to_json(resolved=True)) == spec


@st.composite
def avgpool1d_case(draw):
    c, length = draw(st.integers(1, 3)), draw(st.integers(1, 9))
    k = draw(st.integers(1, min(length, 5)))
    layer = {"type": "avgpool1d", "kernel": k, "stride": draw(st.integers(1, 3)),
             "padding": draw(st.integers(0, k - 1)), "count_pad": draw(st.booleans()),
             **draw(avg_fields())}
    in_fmt = draw(fmt(wmax=12))
    spec = _spec((c, length), in_fmt, layer)
    return spec, _raw(draw, in_fmt, (draw(st.integers(1, 3)), c, length))


@given(avgpool1d_case())
def test_avgpool1d_equals_naive(case):
    """The spec's avgpool1d (the 2-D kernel on (C, 1, L)) == the naive 2-D reference there."""
    spec, x = case
    lay = spec.layers[0]
    note(spec.to_json(indent=None))
    want = naive_avgpool2d(x[:, :, None, :], lay.cfg, (1, lay.kernel), (1, lay.stride),
                           (0, lay.padding))[:, :, 0, :]
    assert_bits_equal(want, run(spec, {}, x)["p"], context=f"avgpool1d {lay.cfg}")
    assert load_spec(spec.to_json(resolved=True)) == spec


@st.composite
def global_case(draw):
    shape = draw(st.sampled_from([(2, 3, 4), (1, 1, 6), (3, 5, 2), (2, 7), (1, 1), (3, 4)]))
    rank = "2d" if len(shape) == 3 else "1d"
    in_fmt = draw(fmt(wmax=12))
    if draw(st.booleans()):
        layer = {"type": f"global_avgpool{rank}", **draw(avg_fields(tree_allowed=False))}
    else:
        layer = {"type": f"global_maxpool{rank}", "term": draw(st.sampled_from(["exact", "to_accum"]))}
        if draw(st.booleans()):
            layer["formats"] = {"accum": draw(fmt(wmax=14)), "result": draw(fmt(wmax=14))}
    spec = _spec(shape, in_fmt, layer)
    return spec, _raw(draw, in_fmt, (draw(st.integers(1, 3)),) + shape)


@given(global_case())
def test_global_pooling_equals_naive(case):
    spec, x = case
    lay = spec.layers[0]
    note(spec.to_json(indent=None))
    got = run(spec, {}, x)["p"]
    if lay.type.startswith("global_avgpool"):
        want = naive_global_avgpool(x, lay.cfg)
        assert_bits_equal(want, global_avgpool(x, lay.cfg))
    else:
        acc = lay.accum or lay.in_format
        res = lay.result or lay.in_format
        want = naive_global_maxpool(x, lay.in_format, acc, res, lay.term)
        assert_bits_equal(want, global_maxpool(x, lay.in_format, acc, res, lay.term))
    assert_bits_equal(want, got, context=spec.to_json(indent=None))
    assert load_spec(spec.to_json(resolved=True)) == spec


@st.composite
def batchnorm_case(draw):
    shape = draw(st.sampled_from([(3, 4, 5), (2, 7), (6,)]))
    in_fmt = draw(fmt(wmax=14))
    formats = {"scale": draw(fmt(wmax=14)), "bias": draw(fmt(wmax=14)), "result": draw(fmt(wmax=16))}
    try:
        spec = load_spec({"name": "t", "input": {"shape": [1, 2, 3], "format": in_fmt},
                          "layers": [{"name": "p", "type": "batchnorm", "formats": formats}]})
    except FixsimError:
        assume(False)
    lay = spec.layers[0]
    n = draw(st.integers(1, 3))
    return (lay.cfg, _raw(draw, in_fmt, (n,) + shape), _raw(draw, formats["scale"], shape[:1]),
            _raw(draw, formats["bias"], shape[:1]))


@given(batchnorm_case())
def test_batchnorm_equals_naive(case):
    cfg, x, s, b = case
    note(repr(cfg))
    assert_bits_equal(naive_batchnorm(x, s, b, cfg), batchnorm(x, s, b, cfg), context=repr(cfg))


def test_tree_plan_is_hls4ml_reduce():
    """The tree's split is nnet::reduce's: left = 2^floor(log2(N - 1)) leaves, then the rest."""
    def shape(n, start=0):
        if n == 1:
            return start
        if n == 2:
            return (start, start + 1)
        left = 2 ** int(np.floor(np.log2(n - 1)))
        return (shape(left, start), shape(n - left, start + left))

    def from_plan(plan):
        def balanced(s, size):
            nodes = list(range(s, s + size))
            while len(nodes) > 1:
                nodes = [(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)]
            return nodes[0]
        *blocks, (s, m) = plan.tolist()
        r = s if m == 1 else (s, s + 1)
        for b0, size in reversed(blocks):
            r = (balanced(b0, size), r)
        return r

    for n in range(1, 70):
        assert from_plan(tree_plan(n)) == shape(n), n


# ------------------------------------------------------------------ float twins vs PyTorch
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kernel, stride, padding, count_pad", [
    ((2, 2), (2, 2), (0, 0), False), ((3, 3), (2, 1), (1, 1), False),
    ((3, 2), (1, 2), (1, 1), True), ((1, 3), (1, 1), (0, 1), True)])
def test_avgpool2d_float_twin_is_torch(kernel, stride, padding, count_pad):
    spec = load_spec({"name": "t", "input": {"shape": [2, 7, 6], "format": "ap_fixed<16,6>"},
                      "layers": [{"name": "p", "type": "avgpool2d", "kernel": list(kernel),
                                  "stride": list(stride), "padding": list(padding),
                                  "count_pad": count_pad,
                                  "formats": {"accum": "ap_fixed<24,10>", "result": "ap_fixed<16,6>"}}]})
    x = np.random.default_rng(1).normal(size=(3, 2, 7, 6))
    want = torch.nn.functional.avg_pool2d(torch.from_numpy(x), kernel, stride, padding,
                                          count_include_pad=count_pad).numpy()
    np.testing.assert_allclose(run_float(spec, {}, x)["p"], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel, stride, padding, count_pad", [
    (2, 2, 0, False), (3, 2, 1, False), (3, 1, 1, True), (1, 3, 0, True)])
def test_1d_float_twins_are_torch(kernel, stride, padding, count_pad):
    fm = {"accum": "ap_fixed<24,10>", "result": "ap_fixed<16,6>"}
    spec = load_spec({"name": "t", "input": {"shape": [2, 9], "format": "ap_fixed<16,6>"},
                      "layers": [{"name": "p", "type": "avgpool1d", "kernel": kernel,
                                  "stride": stride, "padding": padding,
                                  "count_pad": count_pad, "formats": fm},
                                 {"name": "g", "type": "global_avgpool1d", "formats": fm}]})
    x = np.random.default_rng(4).normal(size=(3, 2, 9))
    p = torch.nn.functional.avg_pool1d(torch.from_numpy(x), kernel, stride, padding,
                                       count_include_pad=count_pad)
    out = run_float(spec, {}, x)
    np.testing.assert_allclose(out["p"], p.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["g"], p.mean(dim=2).numpy(), rtol=1e-12, atol=1e-12)
    gmax = load_spec({**spec.to_dict(), "layers": [{"name": "g", "type": "global_maxpool1d"}]})
    np.testing.assert_allclose(run_float(gmax, {}, x)["g"],
                               torch.from_numpy(x).amax(dim=2).numpy(), rtol=0, atol=0)


def test_global_pool_and_batchnorm_float_twins_are_torch():
    d = {"name": "t", "input": {"shape": [3, 5, 4], "format": "ap_fixed<16,6>"},
         "layers": [{"name": "bn", "type": "batchnorm",
                     "formats": {"scale": "ap_fixed<16,4>", "bias": "ap_fixed<16,4>",
                                 "result": "ap_fixed<16,6>"}}]}
    gavg = {"name": "g", "type": "global_avgpool2d",
            "formats": {"accum": "ap_fixed<24,10>", "result": "ap_fixed<16,6>"}}
    x = np.random.default_rng(2).normal(size=(4, 3, 5, 4))
    bn = torch.nn.BatchNorm2d(3).double().eval()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1, 1)
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2.0)
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
    weights = {"bn.scale": scale, "bn.bias": (bn.bias.detach().numpy()
                                              - bn.running_mean.numpy() * scale)}
    xt = torch.from_numpy(x)
    with torch.no_grad():
        ref_bn = bn(xt)
    for glob, ref in ((gavg, torch.nn.AdaptiveAvgPool2d(1)(ref_bn).flatten(1)),
                      ({"name": "g", "type": "global_maxpool2d"},
                       torch.nn.AdaptiveMaxPool2d(1)(ref_bn).flatten(1))):
        spec = load_spec({**d, "layers": d["layers"] + [glob]})
        out = run_float(spec, weights, x)
        np.testing.assert_allclose(out["bn"], ref_bn.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out["g"], ref.numpy(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ the spec
GOOD_AVG = {"type": "avgpool2d", "kernel": 2,
            "formats": {"accum": "ap_fixed<16,8>", "result": "ap_fixed<12,6>"}}


def _load_layer(layer, shape=(2, 6, 6), in_fmt="ap_fixed<10,4>", before=()):
    return load_spec({"name": "t", "input": {"shape": list(shape), "format": in_fmt},
                      "layers": [*before, {"name": "p", **layer}]})


def test_canonical_form_writes_every_default():
    spec = _load_layer(GOOD_AVG)
    assert spec.to_dict()["layers"][0] == {
        "name": "p", "type": "avgpool2d", "kernel": [2, 2], "stride": [2, 2], "padding": [0, 0],
        "count_pad": False, "term": "exact", "sum_order": "sequential", "scaling": "divide",
        "formats": {"accum": "ap_fixed<16,8>", "result": "ap_fixed<12,6>"}}
    gm = _load_layer({"type": "global_maxpool2d"})
    assert gm.to_dict()["layers"][0] == {"name": "p", "type": "global_maxpool2d", "term": "exact"}
    assert gm.layers[0].out_format == gm.input_format and gm.output_shape == (2,)
    bn = _load_layer({"type": "batchnorm", "formats": {"scale": "ap_fixed<8,2>",
                                                       "bias": "ap_fixed<8,3>",
                                                       "result": "ap_fixed<10,4>"}})
    assert bn.weight_shapes() == {"p.scale": (2,), "p.bias": (2,)}
    assert load_spec(bn.to_json(resolved=True)) == bn


@pytest.mark.parametrize("layer, match", [
    ({**GOOD_AVG, "kernel": 0}, r"kernel must be an integer >= 1, got 0"),
    ({**GOOD_AVG, "kernel": 7}, r"larger than the padded input \[6, 6\]"),
    ({**GOOD_AVG, "stride": [1, 0]}, r"stride must be an integer >= 1, got 0"),
    ({**GOOD_AVG, "padding": 2}, r"padding \[2, 2\] must be smaller than the kernel"),
    ({**GOOD_AVG, "padding": "sme"}, r"did you mean 'same'"),
    ({**GOOD_AVG, "term": "exat"}, r"term 'exat' is not one of exact, to_accum.*did you mean 'exact'"),
    ({**GOOD_AVG, "sum_order": "tre"}, r"did you mean 'tree'"),
    ({**GOOD_AVG, "sum_order": "tree"}, r"sum_order 'tree' .* needs term 'to_accum'"),
    ({**GOOD_AVG, "scaling": "reciprocl"}, r"did you mean 'reciprocal'"),
    ({**GOOD_AVG, "scaling": "reciprocal"}, r"formats: missing required key 'reciprocal'"),
    ({**GOOD_AVG, "formats": {**GOOD_AVG["formats"], "reciprocal": "ap_ufixed<8,0>"}},
     r"formats.reciprocal is given but scaling is 'divide'"),
    ({**GOOD_AVG, "formats": {"accum": "ap_fixed<16,8>"}}, r"missing required key 'result'"),
    ({**GOOD_AVG, "formats": {**GOOD_AVG["formats"], "acum": "x"}}, r"did you mean 'accum'"),
    ({k: v for k, v in GOOD_AVG.items() if k != "formats"}, r"missing required key 'formats'"),
    ({**GOOD_AVG, "count_pad": 1}, r"count_pad must be true or false"),
    ({**GOOD_AVG, "kernal": 2}, r"unknown key 'kernal'.*did you mean 'kernel'"),
    ({"type": "global_avgpool2d", "kernel": 2, "formats": GOOD_AVG["formats"]},
     r"unknown key 'kernel'"),
    ({"type": "global_avgpool2d", "sum_order": "tree", "formats": GOOD_AVG["formats"]},
     r"unknown key 'sum_order'"),
    ({"type": "global_maxpol2d"}, r"did you mean 'global_maxpool2d'"),
    ({"type": "global_maxpool2d", "formats": {"accum": "ap_fixed<8,4>"}},
     r"missing required key 'result'"),
    ({"type": "batchnorm"}, r"missing required key 'formats'"),
    ({"type": "batchnorm", "formats": {"scale": "ap_fixed<8,2>", "bias": "ap_fixed<8,2>"}},
     r"missing required key 'result'"),
])
def test_hostile_layers_are_one_line_errors(layer, match):
    with pytest.raises(InputError, match=match) as info:
        _load_layer(layer)
    assert "\n" not in str(info.value) and "layer 0 ('p')" in str(info.value)


@pytest.mark.parametrize("layer, match", [
    ({**GOOD_AVG, "formats": {"accum": "ap_fixed<64,30>", "result": "ap_fixed<12,6>"}},
     r"accumulator ap_fixed<64,30> is 64 bits"),
    ({**GOOD_AVG, "formats": {"accum": "ap_fixed<60,30>", "result": "ap_fixed<12,6>"},
      "scaling": "reciprocal"}, r"formats: missing required key 'reciprocal'"),
    ({**GOOD_AVG, "formats": {"accum": "ap_fixed<60,30>", "result": "ap_fixed<12,6>",
                              "reciprocal": "ap_ufixed<8,0>"}, "scaling": "reciprocal"},
     r"accumulator x reciprocal"),
    ({**GOOD_AVG, "formats": {"accum": "ap_ufixed<64,8>", "result": "ap_fixed<12,6>"}},
     r"64-bit unsigned format"),
    ({**GOOD_AVG, "formats": {"accum": "ap_fixed<16,8,AP_TRN,AP_QQ>", "result": "ap_fixed<12,6>"}},
     r"formats.accum"),
    ({"type": "batchnorm", "formats": {"scale": "ap_fixed<40,2>", "bias": "ap_fixed<8,2>",
                                       "result": "ap_fixed<8,2>"}}, r"product input .* x scale"),
])
def test_hostile_formats_are_one_line_errors(layer, match):
    with pytest.raises((InputError, FormatError), match=match) as info:
        _load_layer(layer, in_fmt="ap_fixed<30,4>")
    assert "\n" not in str(info.value)


GOOD_AVG1D = {**GOOD_AVG, "type": "avgpool1d", "kernel": 3}


@pytest.mark.parametrize("layer, match", [
    ({**GOOD_AVG1D, "kernel": [3, 3]}, r"kernel must be an integer >= 1, got \[3, 3\]"),
    ({**GOOD_AVG1D, "kernel": 10}, r"pool kernel \[10\] is larger than the padded input \[7\]"),
    ({**GOOD_AVG1D, "padding": 3}, r"padding \[3\] must be smaller than the kernel \[3\]"),
    ({**GOOD_AVG1D, "padding": -1}, r"padding must be an integer >= 0, got -1"),
    ({**GOOD_AVG1D, "kernel": 2, "padding": "same"}, r"padding 'same' needs an odd kernel"),
    ({**GOOD_AVG1D, "padding": "vald"}, r"did you mean 'valid'"),
    ({**GOOD_AVG1D, "stride": 0}, r"stride must be an integer >= 1, got 0"),
    ({"type": "global_avgpool1d", "formats": GOOD_AVG["formats"], "scaling": "x"},
     r"scaling 'x' is not one of divide, reciprocal"),
])
def test_hostile_1d_layers_are_one_line_errors(layer, match):
    with pytest.raises(InputError, match=match) as info:
        _load_layer(layer, shape=(2, 7))
    assert "\n" not in str(info.value) and "layer 0 ('p')" in str(info.value)


def test_shapes_the_layers_refuse():
    flat = [{"name": "f", "type": "flatten"}]
    for layer in (GOOD_AVG, {"type": "global_avgpool2d", "formats": GOOD_AVG["formats"]},
                  {"type": "global_maxpool2d"}):
        with pytest.raises(InputError, match=r"needs a \(C, H, W\) input, got shape \(72,\)"):
            _load_layer(layer, before=flat)
        with pytest.raises(InputError, match=r"needs a \(C, H, W\) input, got shape \(2, 7\)"):
            _load_layer(layer, shape=(2, 7))
    for layer in (GOOD_AVG1D, {"type": "global_avgpool1d", "formats": GOOD_AVG["formats"]},
                  {"type": "global_maxpool1d"}):
        with pytest.raises(InputError, match=r"needs a \(C, L\) input, got shape \(2, 6, 6\)"):
            _load_layer(layer)
    bn = {"type": "batchnorm", "formats": {"scale": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                                           "result": "ap_fixed<10,4>"}}
    assert _load_layer(bn, before=flat).weight_shapes() == {"p.scale": (72,), "p.bias": (72,)}
    with pytest.raises(InputError, match="batchnorm on the features of an hwc flatten"):
        _load_layer(bn, before=[{"name": "f", "type": "flatten", "order": "hwc"}])


def test_spec_runs_and_taps_equal_the_sequential_reference():
    d = {"name": "t", "input": {"shape": [2, 6, 5], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
         "layers": [{"name": "bn", "type": "batchnorm",
                     "formats": {"scale": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                                 "result": "ap_fixed<10,4,AP_RND,AP_SAT>"}},
                    {"name": "ap", **GOOD_AVG, "padding": 1, "term": "to_accum",
                     "sum_order": "tree"},
                    {"name": "g", "type": "global_avgpool2d", "scaling": "reciprocal",
                     "formats": {"accum": "ap_fixed<14,8>", "result": "ap_fixed<10,4>",
                                 "reciprocal": "ap_ufixed<10,0,AP_RND>"}}]}
    spec = load_spec(d)
    w = random_weights(spec, seed=3)
    x = np.random.default_rng(3).uniform(-9, 9, (5, 2, 6, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps = run(spec, w, x)
    bn = spec.layers[0]
    assert_bits_equal(naive_batchnorm(taps["input"], w["bn.scale"], w["bn.bias"], bn.cfg), taps["bn"])
    ap = spec.layers[1]
    assert_bits_equal(naive_avgpool2d(taps["bn"], ap.cfg, ap.kernel, ap.stride, ap.padding), taps["ap"])
    assert_bits_equal(naive_global_avgpool(taps["ap"], spec.layers[2].cfg), taps["g"])
    flt = run_float(spec, random_float_weights(spec, seed=3), x)
    assert {k: v.shape for k, v in flt.items()} == {k: v.shape for k, v in taps.items()}
    empty = run(spec, w, x[:0])  # an empty batch: every tap (0, *out_shape)
    assert {k: v.shape for k, v in empty.items()} == {k: (0,) + v.shape[1:] for k, v in taps.items()}
    gmax = load_spec({**d, "layers": d["layers"][:2] + [{"name": "g", "type": "global_maxpool2d"}]})
    assert run(gmax, w, x[:0])["g"].shape == (0, 2)
