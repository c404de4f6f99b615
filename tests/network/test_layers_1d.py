"""The 1-D layer types (conv1d, maxpool1d, flatten and dense on (C, L) maps) and the
zero-padding layers (zeropad1d/2d): spec schema and hostile values, the exact kernels
against the naive chain of fixsim.fixed ops and the sequential contract path, the prepared
model's narrow and fused kernels, and the float twin against PyTorch.

Bits against the compiled ap_types headers: tests/rtl/test_layers_1d_csim.py.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fixsim.errors import FormatError, InputError
from fixsim.fixed import FixsimWarning
from fixsim.network import load_spec, prepare, run, run_float
from fixsim.network.kinds import mac_config
from fixsim.network.weights import random_float_weights, random_weights
from helpers import assert_bits_equal

from .layer_strategies import _case, fmt, mac_fields
from .naive_layers import _start, _step, naive_result

F32 = "ap_fixed<12,5,AP_RND,AP_SAT>"
MAC = {"formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                   "accum": "ap_fixed<24,10>", "result": F32}}

#: A 1-D network with every new layer type (and a 2-D one with zeropad2d).
NET_1D = {
    "name": "net-1d",
    "input": {"shape": [2, 13], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "zp", "type": "zeropad1d", "padding": [2, 1]},
        {"name": "c", "type": "conv1d", "out_channels": 3, "kernel": 4, "stride": 2,
         "padding": [0, 1], "activation": "relu", **MAC},
        {"name": "p", "type": "maxpool1d", "kernel": 2, "ceil_mode": True},
        {"name": "dm", "type": "dense", "out_features": 2, **MAC},
        {"name": "f", "type": "flatten", "order": "hwc"},
        {"name": "d", "type": "dense", "out_features": 3, **MAC},
    ],
}
NET_2D = {
    "name": "net-2d",
    "input": {"shape": [2, 5, 4], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "zp", "type": "zeropad2d", "padding": [[1, 0], [2, 1]]},
        {"name": "c", "type": "conv2d", "out_channels": 2, "kernel": 3, **MAC},
        {"name": "zq", "type": "zeropad2d", "padding": 1},
        {"name": "f", "type": "flatten"},
    ],
}


def _quiet_run(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        return run(*args, **kw)


# ------------------------------------------------------------------ spec
def test_shapes_canonical_json_and_round_trip():
    spec = load_spec(NET_1D)
    assert [l.out_shape for l in spec.layers] == [(2, 16), (3, 7), (3, 4), (2, 4), (8,), (3,)]
    assert spec.weight_shapes() == {"c.weight": (3, 2, 4), "c.bias": (3,), "dm.weight": (2, 3),
                                    "dm.bias": (2,), "d.weight": (3, 8), "d.bias": (3,)}
    d = spec.to_dict()
    assert d["layers"][0] == {"name": "zp", "type": "zeropad1d", "padding": [2, 1]}
    assert {k: d["layers"][1][k] for k in ("kernel", "stride", "padding")} == {
        "kernel": 4, "stride": 2, "padding": [0, 1]}
    assert d["layers"][2] == {"name": "p", "type": "maxpool1d", "kernel": 2, "stride": 2,
                              "ceil_mode": True}
    for resolved in (False, True):
        again = load_spec(spec.to_json(resolved=resolved))
        assert again.spec_hash() == spec.spec_hash() and again == spec
    # the dense after an hwc flatten of a (C, L) map permutes its columns as (C, 1, L)
    assert spec.layer("d").input_permutation == (2, 1, 4)
    two = load_spec(NET_2D)
    assert [l.out_shape for l in two.layers] == [(2, 6, 7), (2, 4, 5), (2, 6, 7), (84,)]
    assert two.to_dict()["layers"][2]["padding"] == [[1, 1], [1, 1]]
    assert load_spec(two.to_json(resolved=True)).spec_hash() == two.spec_hash()


@pytest.mark.parametrize("pad, expect", [("valid", (0, 0)), ("same", (2, 2)), (1, (1, 1)),
                                         ([0, 3], (0, 3))])
def test_conv1d_padding_forms(pad, expect):
    d = {"name": "t", "input": {"shape": [1, 9], "format": F32},
         "layers": [{"name": "c", "type": "conv1d", "out_channels": 1, "kernel": 5,
                     "padding": pad, **MAC}]}
    layer = load_spec(d).layers[0]
    assert layer.padding == expect and layer.out_shape == (1, 9 + sum(expect) - 4)


def _edit_1d(path_value):
    def edit(d):
        layer, key, value = path_value
        if key is None:
            d["layers"][layer] = value
        else:
            d["layers"][layer][key] = value
    return edit


# (layer index, key, value) on NET_1D, the error type, text the one-line message holds
HOSTILE_1D = [
    ((1, "kernel", 0), InputError, "layer 1 ('c'): kernel must be"),
    ((1, "kernel", [4]), InputError, "layer 1 ('c'): kernel"),
    ((1, "kernel", 40), InputError, "kernel 40 is larger than the padded input 17"),
    ((1, "stride", 0), InputError, "layer 1 ('c'): stride"),
    ((1, "stride", 1.5), InputError, "layer 1 ('c'): stride"),
    ((1, "padding", "sane"), InputError, "did you mean 'same'"),
    ((1, "padding", "same"), InputError, "needs an odd kernel"),
    ((1, "padding", [-1, 0]), InputError, "layer 1 ('c'): padding"),
    ((1, "padding", [1, 2, 3]), InputError, "[left, right]"),
    ((1, "out_channels", 0), InputError, "out_channels"),
    ((1, "kernal", 3), InputError, "did you mean 'kernel'"),
    ((1, "sum_order", "ci_kw"), InputError, "sum_order"),
    ((1, "type", "conv1"), InputError, "did you mean 'conv1d'"),
    ((1, "type", "conv2d"), InputError, "conv2d needs a (C, H, W) input, got shape (2, 16) (a 1-D"),
    ((2, "kernel", 9), InputError, "layer 2 ('p'): pool kernel 9 is larger than the input length 7"),
    ((2, "stride", -2), InputError, "layer 2 ('p'): stride"),
    ((2, "ceil_mode", 1), InputError, "ceil_mode must be true or false"),
    ((2, "type", "maxpool2d"), InputError, "maxpool2d needs a (C, H, W) input"),
    ((0, "padding", [1, -1]), InputError, "layer 0 ('zp'): padding"),
    ((0, "padding", "same"), InputError, "layer 0 ('zp'): padding must be"),
    ((0, "type", "zeropad2d"), InputError, "zeropad2d needs a (C, H, W) input"),
    ((0, None, {"name": "zp", "type": "zeropad1d"}), InputError, "missing required key 'padding'"),
    ((3, "out_features", 0), InputError, "out_features"),
]


@pytest.mark.parametrize("edit, err, text", HOSTILE_1D, ids=lambda v: repr(v)[:40])
def test_hostile_1d_values_are_one_line_errors(edit, err, text):
    d = copy.deepcopy(NET_1D)
    _edit_1d(edit)(d)
    with pytest.raises(err) as info:
        load_spec(d)
    msg = str(info.value)
    assert text in msg and "\n" not in msg, msg


@pytest.mark.parametrize("layers, text", [
    ([{"name": "zp", "type": "zeropad2d", "padding": [[1], [1, 1]]}], "padding [top, bottom]"),
    ([{"name": "zp", "type": "zeropad2d", "padding": [1, 2, 3]}], "padding must be p, [ph, pw]"),
    ([{"name": "zp", "type": "zeropad2d", "padding": True}], "padding must be p"),
    ([{"name": "zp", "type": "zeropad1d", "padding": 1}], "zeropad1d needs a (C, L) input"),
    ([{"name": "f", "type": "flatten"}, {"name": "c", "type": "conv1d", "out_channels": 1,
                                         "kernel": 1, **MAC}], "conv1d needs a (C, L) input"),
    ([{"name": "d", "type": "dense", "out_features": 2, **MAC}], "dense needs a flat input"),
    ([{"name": "f", "type": "flatten"}, {"name": "zp", "type": "zeropad2d", "padding": 1}],
     "a flatten or dense layer came before it"),
])
def test_hostile_2d_values_are_one_line_errors(layers, text):
    with pytest.raises(InputError) as info:
        load_spec({**NET_2D, "layers": layers})
    assert text in str(info.value) and "\n" not in str(info.value)


def test_conv1d_formats_are_checked_like_conv2d():
    d = copy.deepcopy(NET_1D)
    d["layers"][1]["options"] = {"product": "exact"}
    d["layers"][1]["formats"]["accum"] = "ap_fixed<12,8>"
    with pytest.raises(FormatError, match=r"layer 1 \('c'\): accumulator .* cannot hold a product"):
        load_spec(d)


def test_bad_input_shapes_and_batches():
    with pytest.raises(InputError, match=r"input.shape must be \[C, H, W\] or \[C, L\]"):
        load_spec({**NET_1D, "input": {"shape": [2, 3, 4, 5], "format": F32}})
    with pytest.raises(InputError, match="input.shape entries"):
        load_spec({**NET_1D, "input": {"shape": [2, 0], "format": F32}})
    spec = load_spec(NET_1D)
    with pytest.raises(InputError, match=r"must have shape \(N, 2, 13\)"):
        run(spec, random_weights(spec), np.zeros((1, 2, 1, 13)))
    one = _quiet_run(spec, random_weights(spec), np.zeros((2, 13)))
    assert one["d"].shape == (1, 3)


# ------------------------------------------------------------------ exact kernels
def naive_conv1d(x, w, bias, cfg, stride, padding):
    """Contract of docs/datapath.md (Conv1D), term by term with every zero-padding tap."""
    n, c, length = x.shape
    cout, _, k = w.shape
    pl, pr = padding
    xp = np.pad(np.asarray(x, np.int64), ((0, 0), (0, 0), (pl, pr)))
    ol = (length + pl + pr - k) // stride + 1
    acc = _start(cfg, bias, cout, (n, cout, ol))
    terms = ([(ci, j) for ci in range(c) for j in range(k)] if cfg.sum_order == "ci_kh_kw"
             else [(ci, j) for j in range(k) for ci in range(c)])
    if cfg.sum_order == "resource":  # hls4ml's index j*C + ci, in the order ir + R*t
        r = cfg.reuse_factor
        terms = [terms[i] for ir in range(r) for i in range(ir, len(terms), r)]
    for ci, j in terms:
        xs = np.broadcast_to(xp[:, ci, j:j + stride * (ol - 1) + 1:stride][:, None], acc.shape)
        ws = np.broadcast_to(np.asarray(w, np.int64)[:, ci, j][None, :, None], acc.shape)
        acc = _step(acc, cfg, xs, ws)
    return naive_result(acc, cfg)


def naive_dense_map(x, w, bias, cfg):
    """Dense at every position of (N, C, L): terms c = 0..C-1 (resource: ir + R*t)."""
    n, c, length = x.shape
    acc = _start(cfg, bias, len(w), (n, len(w), length))
    r = cfg.reuse_factor if cfg.sum_order == "resource" else 1
    for ci in [i for ir in range(r) for i in range(ir, c, r)]:
        xs = np.broadcast_to(np.asarray(x, np.int64)[:, ci][:, None], acc.shape)
        ws = np.broadcast_to(np.asarray(w, np.int64)[:, ci][None, :, None], acc.shape)
        acc = _step(acc, cfg, xs, ws)
    return naive_result(acc, cfg)


@st.composite
def conv1d_case(draw):
    c, length, k = draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 4))
    pad = [draw(st.integers(0, 2)), draw(st.integers(0, 2))]
    assume(length + sum(pad) >= k)
    in_fmt = draw(fmt(wmax=16))
    layer = {"name": "conv", "type": "conv1d", "out_channels": draw(st.integers(1, 3)),
             "kernel": k, "stride": draw(st.integers(1, 3)), "padding": pad,
             **draw(mac_fields(in_fmt))}
    return _case(draw, in_fmt, [c, length], layer, draw(st.integers(1, 3)))


@st.composite
def dense_map_case(draw):
    c, length = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    in_fmt = draw(fmt(wmax=16))
    layer = {"name": "fc", "type": "dense", "out_features": draw(st.integers(1, 4)),
             **draw(mac_fields(in_fmt))}
    return _case(draw, in_fmt, [c, length], layer, draw(st.integers(1, 3)))


def _weights(lay, w, b):
    out = {f"{lay.name}.weight": w}
    if b is not None:
        out[f"{lay.name}.bias"] = b
    return out


@settings(max_examples=min(30, settings().max_examples))  # per-mode compiles: CI time
@given(case=conv1d_case(), method=st.sampled_from(["auto", "sequential"]))
def test_conv1d_equals_the_naive_contract(case, method):
    spec, lay, x, w, b = case
    want = naive_conv1d(x, w, b, mac_config(lay), lay.stride, lay.padding)
    got = _quiet_run(spec, _weights(lay, w, b), x, method=method)[lay.name]
    assert_bits_equal(want, got, context=f"{method} {lay.formats} {lay.options}")


@settings(max_examples=min(30, settings().max_examples))
@given(case=dense_map_case(), method=st.sampled_from(["auto", "sequential"]))
def test_dense_on_a_map_equals_the_naive_contract(case, method):
    spec, lay, x, w, b = case
    want = naive_dense_map(x, w, b, mac_config(lay))
    got = _quiet_run(spec, _weights(lay, w, b), x, method=method)[lay.name]
    assert_bits_equal(want, got, context=f"{method} {lay.formats} {lay.options}")


@pytest.mark.parametrize("kind", ["conv1d", "dense"])
@pytest.mark.parametrize("reuse", [2, 3, 5])
def test_resource_order_equals_the_naive_contract(kind, reuse):
    """hls4ml's Resource order (sum_order "resource"): conv1d over k*C + ci, dense on a
    map over c, with a saturating, rounding accumulator that acts on the data."""
    d = copy.deepcopy(NET_1D)
    layer = d["layers"][1] if kind == "conv1d" else d["layers"][3]
    layer["options"] = {"sum_order": "resource", "reuse_factor": reuse}
    layer["formats"]["accum"] = "ap_fixed<10,5,AP_RND_CONV,AP_SAT>"
    d["layers"][1].update(kernel=3, out_channels=7)  # conv1d: 6 terms; dense: 7 terms
    d["layers"][3]["out_features"] = 5
    d["layers"][2]["kernel"] = 1
    spec = load_spec(d)
    lay = spec.layers[1] if kind == "conv1d" else spec.layers[3]
    w, x = _loud_data(spec)
    taps = _quiet_run(spec, w, x)
    b = w.get(f"{lay.name}.bias")
    if kind == "conv1d":
        want = naive_conv1d(taps["zp"], w["c.weight"], b, mac_config(lay), lay.stride, lay.padding)
    else:
        want = naive_dense_map(taps["p"], w["dm.weight"], b, mac_config(lay))
    assert_bits_equal(want, taps[lay.name], context=f"{kind} R={reuse}")
    natural = load_spec({**d, "layers": [{**l, "options": {"sum_order": "kh_kw_ci"}}
                                         if l["name"] == lay.name else l for l in d["layers"]]})
    assert not np.array_equal(_quiet_run(natural, w, x)[lay.name], taps[lay.name]), \
        "the order does not act on these data"


@given(c=st.integers(1, 3), length=st.integers(1, 12), k=st.integers(1, 4),
       s=st.integers(1, 4), ceil=st.booleans(), pad=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       seed=st.integers(0, 2 ** 32 - 1))
def test_maxpool1d_and_zeropad1d_equal_numpy(c, length, k, s, ceil, pad, seed):
    assume(length + sum(pad) >= k)
    spec = load_spec({"name": "t", "input": {"shape": [c, length], "format": "ap_fixed<9,9>"},
                      "layers": [{"name": "zp", "type": "zeropad1d", "padding": list(pad)},
                                 {"name": "p", "type": "maxpool1d", "kernel": k, "stride": s,
                                  "ceil_mode": ceil}]})
    x = np.random.default_rng(seed).integers(-256, 256, (2, c, length))
    taps = run(spec, {}, x)
    xp = np.pad(x, ((0, 0), (0, 0), pad))
    assert_bits_equal(xp, taps["zp"])
    ol = spec.layers[1].out_shape[1]
    want = np.stack([xp[:, :, i * s:i * s + k].max(axis=2) for i in range(ol)], axis=2)
    assert_bits_equal(want, taps["p"])


def test_zeropad2d_copies_and_pads_with_raw_zero():
    spec = load_spec({"name": "t", "input": {"shape": [2, 3, 2], "format": "ap_ufixed<6,2>"},
                      "layers": [{"name": "zp", "type": "zeropad2d",
                                  "padding": [[0, 2], [1, 0]]}]})
    x = np.random.default_rng(0).integers(0, 64, (3, 2, 3, 2))
    got = run(spec, {}, x)["zp"]
    assert_bits_equal(np.pad(x, ((0, 0), (0, 0), (0, 2), (1, 0))), got)


# ------------------------------------------------------------------ the prepared model
def _loud_data(spec):
    """Random weights with a third at the format's extremes, inputs over the input range
    (frame 0 saturates the input format)."""
    rng = np.random.default_rng(5)
    w = random_weights(spec, seed=5)
    for t in spec.tensors():
        ext = rng.choice(np.array([t.format.raw_min, t.format.raw_max]), size=t.shape)
        w[t.name] = np.where(rng.random(t.shape) < 0.3, ext, w[t.name])
    x = rng.uniform(-9, 9, (11, *spec.input_shape))
    x[0] = 7.99
    return w, x


@pytest.mark.parametrize("accum", ["ap_fixed<24,10>", "ap_fixed<9,5,AP_RND_CONV,AP_SAT_SYM>",
                                   "ap_fixed<10,3,AP_TRN,AP_WRAP>"])
@pytest.mark.parametrize("stride, pad, ceil", [(1, [1, 1], True), (2, [0, 2], False),
                                               (1, [0, 0], False)])
def test_prepared_model_paths_equal_sequential(accum, stride, pad, ceil):
    """Narrow kernels (int32 sums, fused conv1d + maxpool1d, asymmetric padding, the
    widened int32 rows of stride 1) and the layer functions, against the contract order."""
    d = copy.deepcopy(NET_1D)
    conv = d["layers"][1]
    conv.update(stride=stride, padding=pad)
    conv["formats"]["accum"] = accum
    d["layers"][2]["ceil_mode"] = ceil
    d["layers"][3]["formats"]["accum"] = accum
    spec = load_spec(d)
    w, x = _loud_data(spec)
    ref = _quiet_run(spec, w, x, method="sequential")
    for keep in (True, False):
        got = prepare(spec, w).run(x, taps=keep, threads=2, chunk=3)
        for name in got:
            assert_bits_equal(ref[name], got[name], context=f"{accum} {name} taps={keep}")
    if accum == "ap_fixed<24,10>":  # order-free, int32 sums: the narrow and fused kernels
        taps, used = prepare(spec, w).run(x, return_methods=True)
        assert used["c"] == used["dm"] == "direct"


def test_conv1d_saturates_in_the_tested_data():
    """The narrow accumulator of the parametrized test really saturates: with a wrapping
    one the conv1d output differs."""
    d = copy.deepcopy(NET_1D)
    d["layers"][1]["formats"]["accum"] = "ap_fixed<9,5,AP_RND_CONV,AP_SAT_SYM>"
    sat = load_spec(d)
    d["layers"][1]["formats"]["accum"] = "ap_fixed<9,5,AP_RND_CONV,AP_WRAP>"
    wrap = load_spec(d)
    w, x = _loud_data(sat)
    assert not np.array_equal(_quiet_run(sat, w, x)["c"], _quiet_run(wrap, w, x)["c"])


# ------------------------------------------------------------------ float twin
@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch not installed: pip install 'fixsim[model]'")


def test_float_twin_equals_torch(torch):
    spec = load_spec(NET_1D)
    fw = random_float_weights(spec, seed=2)
    x = np.random.default_rng(3).normal(size=(4, *spec.input_shape)) * 3
    got = run_float(spec, fw, x)
    F = torch.nn.functional
    t = {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in fw.items()}
    h = F.pad(torch.from_numpy(x), (2, 1))
    np.testing.assert_array_equal(got["zp"], h.numpy())
    h = F.relu(F.conv1d(F.pad(h, (0, 1)), t["c.weight"], t["c.bias"], stride=2))
    np.testing.assert_allclose(got["c"], h.numpy(), rtol=0, atol=1e-12)
    h = F.max_pool1d(h, 2, ceil_mode=True)
    np.testing.assert_allclose(got["p"], h.numpy(), rtol=0, atol=1e-12)
    h = F.linear(h.transpose(1, 2), t["dm.weight"], t["dm.bias"]).transpose(1, 2)  # per position
    np.testing.assert_allclose(got["dm"], h.numpy(), rtol=0, atol=1e-12)
    h = torch.flatten(h.transpose(1, 2), 1)  # hwc: position-major, as Keras flattens (L, C)
    np.testing.assert_allclose(got["f"], h.numpy(), rtol=0, atol=1e-12)
    h = F.linear(h, t["d.weight"][:, torch.from_numpy(
        np.arange(8).reshape(2, 1, 4).transpose(1, 2, 0).reshape(-1))], t["d.bias"])
    np.testing.assert_allclose(got["d"], h.numpy(), rtol=0, atol=1e-12)


def test_float_twin_zeropad2d_equals_torch(torch):
    spec = load_spec(NET_2D)
    fw = random_float_weights(spec, seed=2)
    x = np.random.default_rng(4).normal(size=(3, *spec.input_shape))
    got = run_float(spec, fw, x)
    F = torch.nn.functional
    h = F.pad(torch.from_numpy(x), (2, 1, 1, 0))  # (left, right, top, bottom)
    np.testing.assert_array_equal(got["zp"], h.numpy())
    h = F.conv2d(h, torch.from_numpy(fw["c.weight"]), torch.from_numpy(fw["c.bias"]))
    np.testing.assert_allclose(got["zq"], F.pad(h, (1, 1, 1, 1)).numpy(), rtol=0, atol=1e-12)


# ------------------------------------------------------------------ latency model
def test_latency_model_1d_entries():
    """conv1d/maxpool1d are the 2-D schedules on a (1, L, C) map; dense on (L, C) is a
    kernel-1 conv1d; zero padding emits every input beat and its pad beats."""
    from fixsim.hls.latency_model import predict

    one = predict([{"kind": "zeropad1d", "in_shape": [20, 3], "padding": [2, 1]},
                   {"kind": "conv1d", "filters": 4, "kernel": 3, "stride": 2, "reuse": 3},
                   {"kind": "maxpool1d", "pool": 2},
                   {"kind": "dense", "units": 5},
                   {"kind": "flatten"}, {"kind": "dense", "units": 3}])
    assert [(e.in_shape, e.out_shape) for e in one.layers] == [
        ((20, 3), (23, 3)), ((23, 3), (11, 4)), ((11, 4), (5, 4)), ((5, 4), (5, 5)),
        ((5, 5), (25,)), ((25,), (3,))]
    assert [e.beats_out for e in one.layers][:4] == [23, 11, 5, 5]
    two = predict([{"kind": "conv2d", "in_shape": [1, 23, 3], "filters": 4, "kernel": [1, 3],
                    "stride": [1, 2], "reuse": 3}])
    c1, c2 = one.layers[1], two.layers[0]
    assert (c1.macs, c1.reuse, c1.depth, c1.busy_cycles) == (c2.macs, c2.reuse, c2.depth,
                                                             c2.busy_cycles)
    pad2 = predict([{"kind": "zeropad2d", "in_shape": [5, 6, 2], "padding": [[1, 2], [0, 3]]}])
    assert pad2.layers[0].out_shape == (8, 9, 2) and pad2.layers[0].beats_out == 72
    with pytest.raises(InputError, match="needs an \\(L, C\\) input"):
        predict([{"kind": "conv1d", "in_shape": [5, 6, 2], "filters": 1, "kernel": 1}])
    with pytest.raises(InputError, match="kernel 9 larger than input length 5"):
        predict([{"kind": "conv1d", "in_shape": [5, 2], "filters": 1, "kernel": 9}])
