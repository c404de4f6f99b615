"""fixsim's avgpool2d and batchnorm against hls4ml 1.3.0's own compiled C simulation.

Seeded networks: BatchNorm2d -> AvgPool2d -> AvgPool2d (-> Flatten -> BatchNorm1d in
io_parallel), every traced layer compared bit for bit (0 differing values required).  The
mapping, read from hls4ml's templates and confirmed here:

- io_parallel ``pooling2d_cl`` Average: ``accum_t y = 0; y += x`` over the window in raster
  order (padding taps add 0), ``y /= n`` with ``n`` the window's taps inside the input
  (``count_include_pad=False``) or the window size, then ``res_T``: fixsim ``term "exact"``,
  ``sum_order "sequential"``, ``scaling "divide"``, ``count_pad`` = count_include_pad.
- io_stream (pool = stride, no padding): the window's elements converted to ``accum_t``,
  hls4ml's balanced ``reduce`` tree, ``/ N``: ``term "to_accum"``, ``sum_order "tree"``.
- ``nnet::normalize``: ``res_T(x * scale + bias)`` (exact product and sum): fixsim
  batchnorm.  The torch module has ``eps = 0``, running mean 0 and variance 1, so hls4ml's
  ``scale = gamma / sqrt(var + eps)`` and ``bias = beta - mean * scale`` are gamma and beta
  exactly (raw * 2^-F, printed with F decimals and read back exactly).  A BatchNorm1d on a
  flat vector normalizes per feature (hls4ml's ``n_filt = -1``).

Not compared: the global pools (hls4ml's PyTorch front end has no global pooling and the
Keras one is not installed; their mapping is in docs/datapath.md), padded io_stream pools
(hls4ml asserts no padding there), and a batchnorm after a flatten in io_stream (hls4ml's
flatten writes packs of the channel count).  Accumulators are narrow, saturating or
wrapping, with sign-dependent rounding; inputs saturate; both are asserted.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fixsim.fixed import FixedType, FixsimWarning
from fixsim.network import load_spec, run

import h4_harness as H

PROJECT = H.PROJECT  # the symbol names H.run_traced calls
#: (seed, io_type): the CI share, two builds.
CI_CASES = [(1, "io_parallel"), (1, "io_stream")]
SLOW_CASES = [(s, io) for s in range(100, 106) for io in ("io_parallel", "io_stream")]


PoolCase = H.FamilyCase



def _bn(rng, name):
    return {"name": name, "type": "batchnorm",
            "formats": {"scale": str(H.family_format(rng, 5, 9, 1, 3, ovf=("AP_SAT",))),
                        "bias": str(H.family_format(rng, 5, 9, 1, 4, ovf=("AP_SAT",))),
                        "result": str(H.family_format(rng, 9, 13, 3, 5))}}


def draw_case(seed: int, io_type: str) -> PoolCase:
    rng = np.random.default_rng(seed)
    stream = io_type == "io_stream"
    c = int(rng.integers(2, 5))
    h = w = int(rng.integers(6, 10)) if not stream else 12
    in_fmt = H.family_format(rng, 8, 12, 3, 5, ovf=("AP_SAT",))
    layers = [_bn(rng, "bn")]
    for k in range(2):
        kernel = int(rng.integers(2, 4))
        pool = {"name": f"ap{k}", "type": "avgpool2d", "kernel": kernel}
        if stream:
            pool.update(term="to_accum", sum_order="tree")  # stride = kernel, no padding
        else:
            pool.update(stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, kernel // 2 + 1)),
                        count_pad=bool(rng.random() < 0.5))
        # narrow accumulators: fewer fractional bits than the input (rounding), few integer
        # bits (the window sums saturate or wrap)
        pool["formats"] = {"accum": str(H.family_format(rng, 7, 10, 2, 4)),
                           "result": str(H.family_format(rng, 6, 9, 2, 4))}
        layers.append(pool)
    if not stream:
        layers += [{"name": "f", "type": "flatten", "order": "chw"}, _bn(rng, "bn_flat")]
    spec = load_spec({"name": "h4pool", "input": {"shape": [c, h, w], "format": str(in_fmt)},
                      "layers": layers})
    weights = {t.name: rng.integers(t.format.raw_min, t.format.raw_max + 1, t.shape)
               for t in spec.tensors()}
    x = rng.standard_normal((32, c, h, w)) * 2.0 ** in_fmt.int_bits
    return PoolCase("pool", seed, io_type, spec, weights, x)


def torch_module(case: PoolCase):
    import torch
    from torch import nn

    mods = []
    for l in case.spec.layers:
        if l.type == "batchnorm":
            m = (nn.BatchNorm2d if len(l.in_shape) == 3 else nn.BatchNorm1d)(l.in_shape[0], eps=0.0)
            with torch.no_grad():
                for role, param in (("scale", m.weight), ("bias", m.bias)):
                    f = l.cfg.scale if role == "scale" else l.cfg.bias
                    v = np.ldexp(np.asarray(case.weights[f"{l.name}.{role}"], np.float64), -f.frac_bits)
                    param.copy_(torch.from_numpy(v.astype(np.float32)))  # <= 24 bits: exact
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
        elif l.type == "avgpool2d":
            m = nn.AvgPool2d(l.kernel, stride=l.stride, padding=l.padding,
                             count_include_pad=l.cfg.count_pad)
        else:
            m = nn.Flatten()
        mods.append((l.name, m))

    return H.sequential_module(mods)


def hls_config(case: PoolCase) -> dict:
    spec = case.spec
    names = {"x": {"Trace": True, "Precision": {"result": H.hls_type(spec.input_format)}}}
    for l in spec.layers:
        per = {"Trace": True, "ReuseFactor": 1}
        if l.type == "batchnorm":
            per["Precision"] = {"scale": H.hls_type(l.cfg.scale), "bias": H.hls_type(l.cfg.bias),
                                "result": H.hls_type(l.cfg.result)}
        elif l.type == "avgpool2d":
            per["Precision"] = {"accum": H.hls_type(l.cfg.accum), "result": H.hls_type(l.cfg.result)}
            if case.io_type == "io_stream":
                per["ConvImplementation"] = "LineBuffer"
        else:
            per["Precision"] = {"result": H.hls_type(l.in_format)}
        names[l.name] = per
    return {"Model": {"Precision": {"default": "ap_fixed<16,6>"}, "ReuseFactor": 1,
                      "Strategy": "Latency", "ChannelsLastConversion": "full",
                      "TransposeOutputs": False, "BramFactor": 1_000_000_000},
            "LayerName": names, "InputShape": tuple(spec.input_shape)}


def _declared(model, case: PoolCase) -> None:
    """hls4ml declares fixsim's formats (accum_t of the pools, the result types)."""
    for layer in model.get_layers():
        if layer.name not in {l.name for l in case.spec.layers}:
            continue
        l = case.spec.layer(layer.name)
        want = {"result": l.out_format}
        if l.type == "avgpool2d":
            want["accum"] = l.cfg.accum
        for role, f in want.items():
            t = layer.get_output_variable().type if role == "result" else layer.get_attr("accum_t")
            got = FixedType.parse(t.precision.definition_cpp().replace(" ", ""))
            assert got == f, f"hls4ml {layer.name} {role} {got} != fixsim {f}"


def build(case: PoolCase) -> H.Built:
    """hls4ml's compiled project of ``case``, cached by content hash."""
    return H.build_module("h4pool", case.spec, case.weights, lambda: torch_module(case),
                          hls_config(case), case.io_type, __file__,
                          declared=lambda model: _declared(model, case))


@pytest.fixture(scope="module")
def need_hls4ml():
    reason = H.unavailable_reason()
    if reason:
        pytest.skip(reason)


def _check(case: PoolCase, record_property=None) -> None:
    H.check_family(case, build(case), record_property)


@pytest.mark.parametrize("seed, io_type", CI_CASES, ids=[f"{s}-{io}" for s, io in CI_CASES])
def test_equal_to_hls4ml_csim(need_hls4ml, seed, io_type, record_property):
    _check(draw_case(seed, io_type), record_property)


@pytest.mark.parametrize("seed, io_type", CI_CASES, ids=[f"{s}-{io}" for s, io in CI_CASES])
def test_the_other_pool_form_differs(seed, io_type):
    """On the CI data, hls4ml's other average form (io_stream's converted elements and tree
    in io_parallel, and the reverse) gives other pool outputs: the equality above tells
    the two forms apart, it is not a case where order and element rounding cannot act."""
    case = draw_case(seed, io_type)
    d = case.spec.to_dict()
    other = ({"term": "exact", "sum_order": "sequential"} if io_type == "io_stream"
             else {"term": "to_accum", "sum_order": "tree"})
    for layer in d["layers"]:
        if layer["type"] == "avgpool2d":
            layer.update(other)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        a = run(case.spec, case.weights, case.x)
        b = run(load_spec(d), case.weights, case.x)
    assert any(not np.array_equal(a[k], b[k]) for k in ("ap0", "ap1"))


@pytest.mark.slow
@pytest.mark.parametrize("seed, io_type", SLOW_CASES)
def test_more_seeds(need_hls4ml, seed, io_type):
    _check(draw_case(seed, io_type))
