"""Float path == PyTorch float64 (shapes, weight layouts, ceil pooling, flatten orders)."""

from __future__ import annotations

import numpy as np
import pytest

from fixsim.layers import conv2d_float, dense_float, flatten, maxpool2d_float
from fixsim.network import load_spec, run_float
from fixsim.network.weights import random_float_weights

torch = pytest.importorskip("torch", reason="torch not installed: pip install 'fixsim[model]'")
F = torch.nn.functional
SPEC = load_spec("specklenn-snl")
TOL = 1e-9


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a, np.float64))


@pytest.mark.parametrize("stride, padding", [((1, 1), (0, 0)), ((2, 1), (1, 2)), ((3, 2), (2, 0))])
def test_conv2d_float_equals_torch(stride, padding):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 11, 9)), rng.normal(size=(4, 3, 3, 5)), rng.normal(size=4)
    want = F.conv2d(_t(x), _t(w), _t(b), stride=stride, padding=padding).numpy()
    got = conv2d_float(x, w, b, stride=stride, padding=padding)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


@pytest.mark.parametrize("h, w, k, s", [(61, 61, 2, 2), (27, 27, 2, 2), (7, 8, 3, 2), (5, 9, 2, 3)])
@pytest.mark.parametrize("ceil_mode", [True, False])
def test_maxpool_float_equals_torch(h, w, k, s, ceil_mode):
    x = np.random.default_rng(1).normal(size=(2, 3, h, w))
    want = F.max_pool2d(_t(x), k, s, ceil_mode=ceil_mode).numpy()
    got = maxpool2d_float(x, (k, k), (s, s), ceil_mode)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_dense_and_flatten_float_equal_torch():
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(3, 2, 4, 5)), rng.normal(size=(6, 40)), rng.normal(size=6)
    flat = flatten(x, "chw")
    np.testing.assert_array_equal(flat, torch.flatten(_t(x), 1).numpy())
    np.testing.assert_array_equal(flatten(x, "hwc"), torch.flatten(_t(x).permute(0, 2, 3, 1), 1).numpy())
    np.testing.assert_allclose(dense_float(flat, w, b), F.linear(_t(flat), _t(w), _t(b)).numpy(),
                               rtol=0, atol=TOL)


def _torch_model(weights):
    from fixsim.model.specklenn import SpeckleNNInference

    model = SpeckleNNInference().double().eval()
    model.load_state_dict({k: _t(v) for k, v in weights.items()})
    return model


def test_run_float_equals_the_project_model_layer_by_layer():
    weights = random_float_weights(SPEC, seed=4, scale=2.0)
    x = np.random.default_rng(3).normal(size=(4, 1, 65, 65))
    taps = run_float(SPEC, weights, x)
    model = _torch_model(weights)
    with torch.no_grad():
        t = _t(x)
        c1 = F.relu(model.conv1(t))
        p1 = F.max_pool2d(c1, 2, 2, ceil_mode=True)
        c2 = F.relu(model.conv2(p1))
        p2 = F.max_pool2d(c2, 2, 2, ceil_mode=True)
        fl = torch.flatten(p2, 1)
        f1 = F.relu(model.fc1(fl))
        out = model(t)
    want = {"conv1": c1, "pool1": p1, "conv2": c2, "pool2": p2, "flatten": fl, "fc1": f1, "fc2": out}
    for name, ref in want.items():
        assert taps[name].shape == tuple(ref.shape), name
        np.testing.assert_allclose(taps[name], ref.numpy(), rtol=0, atol=TOL, err_msg=name)


def test_run_float_hwc_order_gives_the_same_embedding():
    d = SPEC.to_dict()
    d["layers"][4]["order"] = "hwc"
    weights = random_float_weights(SPEC, seed=5)
    x = np.random.default_rng(4).normal(size=(2, 1, 65, 65))
    chw, hwc = run_float(SPEC, weights, x), run_float(load_spec(d), weights, x)
    flat_chw_as_hwc = torch.flatten(_t(chw["pool2"]).permute(0, 2, 3, 1), 1).numpy()
    np.testing.assert_array_equal(hwc["flatten"], flat_chw_as_hwc)
    np.testing.assert_allclose(hwc["fc2"], chw["fc2"], rtol=0, atol=TOL)


def test_leaky_relu_and_same_padding_equal_torch():
    spec = load_spec({
        "name": "leaky", "input": {"shape": [2, 7, 7], "format": "ap_fixed<16,6>"},
        "layers": [{"name": "c", "type": "conv2d", "out_channels": 3, "kernel": 3, "padding": "same",
                    "activation": {"leaky_relu": 0.125, "alpha_format": "ap_fixed<8,1>"},
                    "formats": {"weight": "ap_fixed<16,4>", "bias": "ap_fixed<16,6>",
                                "accum": "ap_fixed<40,14>", "result": "ap_fixed<16,6>"}}]})
    weights = random_float_weights(spec, seed=6)
    x = np.random.default_rng(5).normal(size=(2, 2, 7, 7))
    with torch.no_grad():
        ref = F.leaky_relu(F.conv2d(_t(x), _t(weights["c.weight"]), _t(weights["c.bias"]), padding=1), 0.125)
    np.testing.assert_allclose(run_float(spec, weights, x)["c"], ref.numpy(), rtol=0, atol=TOL)
