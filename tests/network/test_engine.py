"""Whole-network twin: tap shapes (the cross-twin contract), paths, options, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fixsim.errors import FormatError, InputError
from fixsim.fixed import FixsimWarning, quantize
from fixsim.network import engine, load_spec, run
from fixsim.network.engine import mac_config
from fixsim.network.weights import (check_weights, dequantize_weights, quantize_weights,
                                    random_float_weights, random_weights)
from helpers import assert_bits_equal

from .naive_layers import naive_activation, naive_conv2d, naive_dense, naive_maxpool2d

SPEC = load_spec("specklenn-snl")


@pytest.fixture(scope="module")
def weights():
    return random_weights(SPEC, seed=5)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(7).standard_normal((3, 1, 65, 65)) * 2


def test_tap_shapes_follow_the_contract(weights, frames):
    taps = run(SPEC, weights, frames)
    assert {k: v.shape for k, v in taps.items()} == {
        "input": (3, 1, 65, 65), "conv1": (3, 7, 61, 61), "pool1": (3, 7, 31, 31),
        "conv2": (3, 3, 27, 27), "pool2": (3, 3, 14, 14), "flatten": (3, 588),
        "fc1": (3, 100), "fc2": (3, 50)}
    assert all(v.dtype == np.int64 and v.flags.c_contiguous for v in taps.values())
    assert_bits_equal(quantize(frames, SPEC.input_format), taps["input"])
    assert taps["conv1"].min() >= 0  # relu


def test_auto_paths_equal_sequential_and_gemm(weights, frames):
    auto, used = run(SPEC, weights, frames[:2], return_methods=True)
    # order-free everywhere: the prepared model's narrow kernels (the direct method)
    assert used == {"conv1": "direct", "conv2": "direct", "fc1": "direct", "fc2": "direct"}
    for method in ("sequential", "gemm", "direct"):
        other = run(SPEC, weights, frames[:2], method=method)
        for name in auto:
            assert_bits_equal(auto[name], other[name], context=f"{method} {name}")


def test_specklenn_equals_naive_layer_chain(weights, frames):
    taps = run(SPEC, weights, frames[:1])
    cur = taps["input"]
    for layer in SPEC.layers:
        w, b = weights.get(f"{layer.name}.weight"), weights.get(f"{layer.name}.bias")
        if layer.type == "conv2d":
            cur = naive_conv2d(cur, w, b, mac_config(layer), layer.stride, layer.padding)
        elif layer.type == "maxpool2d":
            cur = naive_maxpool2d(cur, layer.kernel, layer.stride, layer.ceil_mode)
        elif layer.type == "flatten":
            cur = cur.reshape(len(cur), -1)
        else:
            cur = naive_dense(cur, w, b, mac_config(layer))
        assert_bits_equal(cur, taps[layer.name], context=layer.name)


def test_raw_input_single_frame_and_chunks(weights, frames, monkeypatch):
    raw = quantize(frames, SPEC.input_format)
    full = run(SPEC, weights, frames)
    assert_bits_equal(full["fc2"], run(SPEC, weights, raw)["fc2"])
    assert_bits_equal(full["fc2"][:1], run(SPEC, weights, frames[0])["fc2"])
    monkeypatch.setattr(engine, "CHUNK", 2)
    out = run(SPEC, weights, raw, taps=False)
    assert list(out) == ["fc2"]
    assert_bits_equal(full["fc2"], out["fc2"])


def _hwc_spec():
    d = SPEC.to_dict()
    d["layers"][4]["order"] = "hwc"
    return load_spec(d)


def test_hwc_flatten_permutes_features_and_dense_columns(weights, frames):
    chw = run(SPEC, weights, frames)
    hwc = run(_hwc_spec(), weights, frames)
    assert_bits_equal(chw["pool2"].transpose(0, 2, 3, 1).reshape(3, -1), hwc["flatten"])
    # the accumulators are exact and order-free, so the permuted dense gives the same bits
    assert_bits_equal(chw["fc1"], hwc["fc1"])
    assert_bits_equal(chw["fc2"], hwc["fc2"])
    seq = run(_hwc_spec(), weights, frames[:1], method="sequential")
    assert_bits_equal(hwc["fc2"][:1], seq["fc2"])


def _small_spec(**acc):
    return load_spec({
        "name": "small", "input": {"shape": [2, 6, 5], "format": "ap_fixed<8,3,AP_RND,AP_SAT>"},
        "options": {"product": "to_accum", "sum_order": "kh_kw_ci", "activation_on": "accum"},
        "layers": [
            {"name": "c", "type": "conv2d", "out_channels": 3, "kernel": 3, "padding": "same",
             "stride": [1, 2], "activation": {"leaky_relu": 0.1, "alpha_format": "ap_fixed<8,1,AP_RND>"},
             "formats": {"weight": "ap_fixed<6,1,AP_RND,AP_SAT>", "bias": "ap_fixed<6,2>",
                         "accum": acc.get("accum", "ap_fixed<12,4,AP_RND_CONV,AP_SAT>"),
                         "result": "ap_fixed<8,3,AP_RND,AP_SAT_SYM>"}},
            {"name": "a", "type": "leaky_relu", "alpha": -0.5, "alpha_format": "ap_fixed<4,1>"},
            {"name": "p", "type": "maxpool2d", "kernel": 2, "ceil_mode": True},
            {"name": "f", "type": "flatten", "order": "hwc"},
            {"name": "r", "type": "relu"},
            {"name": "d", "type": "dense", "out_features": 4, "bias": False, "product": "exact",
             "activation": "relu",
             "formats": {"weight": "ap_fixed<6,1,AP_RND,AP_SAT>", "accum": "ap_fixed<20,8,AP_TRN,AP_SAT>",
                         "result": "ap_fixed<10,4,AP_TRN,AP_WRAP,1>"}},
        ]})


def test_every_layer_kind_against_naive_chain():
    spec = _small_spec()
    w = random_weights(spec, seed=1, scale=3.0)
    x = np.random.default_rng(2).uniform(-5, 5, (4, 2, 6, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps, used = run(spec, w, x, return_methods=True)
    assert used["c"] == "speculative"  # F_acc = 8 < F_prod = 10 into AP_SAT: range-checked sums
    cur = taps["input"]
    for layer in spec.layers:
        if layer.type == "conv2d":
            cur = naive_conv2d(cur, w["c.weight"], w["c.bias"], mac_config(layer), layer.stride,
                               layer.padding)
        elif layer.type in ("leaky_relu", "relu"):
            a = layer.activation
            cur = naive_activation(cur, layer.in_format, a.kind, a.alpha_raw, a.alpha_format)
        elif layer.type == "maxpool2d":
            cur = naive_maxpool2d(cur, layer.kernel, layer.stride, layer.ceil_mode)
        elif layer.type == "flatten":
            cur = cur.transpose(0, 2, 3, 1).reshape(len(cur), -1)
        else:
            perm = np.arange(cur.shape[1]).reshape(layer.input_permutation).transpose(1, 2, 0).reshape(-1)
            cur = naive_dense(cur, w["d.weight"][:, perm], None, mac_config(layer))
        assert_bits_equal(cur, taps[layer.name], context=layer.name)


def test_method_overrides_and_refusals(weights, frames):
    out = run(SPEC, weights, frames[:1], method={"conv2": "sequential", "fc1": "direct"})
    assert_bits_equal(run(SPEC, weights, frames[:1])["fc2"], out["fc2"])
    with pytest.raises(InputError, match="did you mean 'conv1'"):
        run(SPEC, weights, frames[:1], method={"conv_1": "gemm"})
    with pytest.raises(InputError, match="not a conv2d/dense"):
        run(SPEC, weights, frames[:1], method={"pool1": "gemm"})
    with pytest.raises(InputError, match="unknown method"):
        run(SPEC, weights, frames[:1], method="fastest")
    spec = _small_spec()
    with pytest.raises(FormatError, match="not provably exact"):
        run(spec, random_weights(spec), np.zeros((1, 2, 6, 5)), method="gemm")


def test_input_and_weight_errors(weights):
    with pytest.raises(InputError, match=r"shape \(N, 1, 65, 65\)"):
        run(SPEC, weights, np.zeros((2, 65, 65)))
    with pytest.raises(InputError, match="outside the raw range"):
        run(SPEC, weights, np.full((1, 1, 65, 65), 2 ** 20))
    with pytest.raises(InputError, match="floats or raw integers"):
        run(SPEC, weights, np.zeros((1, 1, 65, 65), complex))
    bad = dict(weights)
    bad["fc3.weight"] = bad.pop("fc2.weight")
    with pytest.raises(InputError, match="did you mean 'fc2.weight'"):
        run(SPEC, bad, np.zeros((1, 1, 65, 65)))
    bad = dict(weights, **{"fc1.bias": np.zeros(99, np.int64)})
    with pytest.raises(InputError, match=r"shape \(99,\)"):
        check_weights(SPEC, bad)
    bad = dict(weights, **{"conv1.bias": np.full(7, 1 << 20)})
    with pytest.raises(InputError, match="outside the raw range"):
        check_weights(SPEC, bad)


def test_weight_helpers_round_trip():
    floats = random_float_weights(SPEC, seed=3)
    raw = quantize_weights(SPEC, floats)
    back = dequantize_weights(SPEC, raw)
    for name, arr in floats.items():
        fmt = SPEC.weight_formats()[name]
        assert np.abs(back[name] - arr).max() <= fmt.lsb / 2
    assert sum(a.size for a in raw.values()) == SPEC.num_params
    with pytest.raises(InputError, match="missing tensor 'fc2.bias'"):
        quantize_weights(SPEC, {k: v for k, v in floats.items() if k != "fc2.bias"})


def test_bits_do_not_depend_on_threads(weights, frames, monkeypatch):
    one = run(SPEC, weights, frames, threads=1)
    monkeypatch.setattr(engine, "CHUNK", 1)
    many, used = run(SPEC, weights, frames, threads=3, return_methods=True)
    assert used["conv1"] == "direct"
    for name in one:
        assert_bits_equal(one[name], many[name], context=name)
    with pytest.raises(InputError, match="threads must be an integer >= 1, got 0"):
        run(SPEC, weights, frames, threads=0)
