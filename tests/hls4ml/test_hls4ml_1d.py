"""fixsim's 1-D layers against hls4ml 1.3.0's own compiled C simulation, at every traced layer.

Seeded random 1-D networks: zero padding (PyTorch ``ConstantPad1d``, hls4ml's
ZeroPadding1D), conv1d (symmetric padding, stride 1, with/without bias), a standalone
relu in its input's format, maxpool1d (floor mode, stride = kernel: hls4ml's io_stream
pool needs it), a chw flatten and a dense layer.  The mapping, read from hls4ml's
templates (``nnet_conv1d_latency.h``, ``nnet_conv1d_resource.h``, ``nnet_padding.h``,
``nnet_pooling.h``) and confirmed here: conv1d terms in order (k, ci) with ci innermost
(fixsim ``sum_order="kh_kw_ci"``), each product stored in ``accum_t`` (``product=
"to_accum"``), Strategy Resource with reuse factor R > 1 in the order ``ir + R*j`` of that
index (``sum_order="resource"``); the pads are zeros in the input format; the pool's max
needs no conversion.  Accumulators are narrow and saturating, rounding or wrapping, and
the inputs saturate (both asserted); 0 differing values are required.

Not compared (hls4ml's PyTorch front end cannot express them): dense on a (C, L) map
(``Linear`` acts on PyTorch's last axis, the length; Keras' per-position Dense needs the
Keras front end, not installed), asymmetric conv padding other than through a pad layer,
ceil-mode pools.  The shared harness (``h4_harness``) runs and reads the traces; the
networks, the torch module and the hls4ml configuration are built here.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from fixsim.fixed import FixedType, FixsimWarning
from fixsim.network import load_spec, run

import h4_harness as H

PROJECT = H.PROJECT  # the symbol names H.run_traced calls
#: (seed, io_type, strategy, reuse factor): the CI share, two builds.
CI_CASES = [(3, "io_parallel", "Resource", 3), (8, "io_stream", "Latency", 1)]
SLOW_CASES = [(s, io, st, rf) for s in range(100, 108) for io, st, rf in
              (("io_parallel", "Latency", 1), ("io_stream", "Resource", 2))]


@dataclasses.dataclass(frozen=True)
class Case1D:
    seed: int
    io_type: str
    strategy: str
    reuse_factor: int
    spec: object
    weights: dict
    x: np.ndarray

    @property
    def label(self) -> str:
        return f"1d-{self.seed}-{self.io_type}-{self.strategy}-rf{self.reuse_factor}"



def draw_case(seed: int, io_type: str, strategy: str, reuse_factor: int) -> Case1D:
    rng = np.random.default_rng(seed)
    c, length, k = int(rng.integers(1, 4)), int(rng.integers(8, 17)), int(rng.integers(2, 5))
    cout, pool = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    in_fmt = H.family_format(rng, 8, 12, 3, 5, ovf=("AP_SAT",))
    resource = strategy == "Resource" and reuse_factor > 1
    opts = {"product": "to_accum", "sum_order": "resource" if resource else "kh_kw_ci",
            "activation_on": "result", **({"reuse_factor": reuse_factor} if resource else {})}
    conv_acc = H.family_format(rng, 9, 14, 4, 7)  # narrow: products rounded, partial sums leave it
    conv_res = H.family_format(rng, 8, 12, 3, 6)
    pad = [int(rng.integers(0, 3)), int(rng.integers(1, 3))]
    layers = [
        {"name": "zp", "type": "zeropad1d", "padding": pad},
        {"name": "c1", "type": "conv1d", "out_channels": cout, "kernel": k,
         "padding": int(rng.integers(0, (k + 1) // 2)), "bias": bool(rng.random() < 0.8),
         "options": opts,
         "formats": {"weight": str(H.family_format(rng, 5, 10, 1, 3, ovf=("AP_SAT",))),
                     "bias": str(H.family_format(rng, 5, 10, 1, 4, ovf=("AP_SAT",))),
                     "accum": str(conv_acc), "result": str(conv_res)}},
        {"name": "r1", "type": "relu"},
        {"name": "p1", "type": "maxpool1d", "kernel": pool},
        {"name": "f", "type": "flatten", "order": "chw"},
        {"name": "fc", "type": "dense", "out_features": int(rng.integers(2, 5)),
         "options": {"product": "to_accum", "activation_on": "result"},
         "formats": {"weight": str(H.family_format(rng, 5, 10, 1, 3, ovf=("AP_SAT",))),
                     "bias": str(H.family_format(rng, 5, 10, 1, 4, ovf=("AP_SAT",))),
                     "accum": "ap_fixed<32,14>", "result": str(H.family_format(rng, 10, 16, 5, 8))}},
    ]
    if not layers[1]["bias"]:
        del layers[1]["formats"]["bias"]
    spec = load_spec({"name": "h1d", "input": {"shape": [c, length], "format": str(in_fmt)},
                      "layers": layers})
    weights = {t.name: rng.integers(t.format.raw_min, t.format.raw_max + 1, t.shape)
               for t in spec.tensors()}
    x = rng.standard_normal((16, c, length)) * 2.0 ** (in_fmt.int_bits - 1) * 1.5
    return Case1D(seed, io_type, strategy, reuse_factor, spec, weights, x)


def torch_module(case: Case1D):
    import torch
    from torch import nn

    spec = case.spec
    mods = []
    for l in spec.layers:
        if l.type == "zeropad1d":
            m = nn.ConstantPad1d(tuple(l.padding), 0.0)
        elif l.type == "conv1d":
            m = nn.Conv1d(l.in_shape[0], l.out_channels, l.kernel, padding=l.padding[0], bias=l.bias)
        elif l.type == "relu":
            m = nn.ReLU()
        elif l.type == "maxpool1d":
            m = nn.MaxPool1d(l.kernel)
        elif l.type == "flatten":
            m = nn.Flatten()
        else:
            m = nn.Linear(l.in_shape[0], l.out_features)
        for t in l.tensors():  # raw * 2^-F: exact in float32 (<= 24 bits)
            assert t.format.width <= 24
            v = np.ldexp(np.asarray(case.weights[t.name], np.float64), -t.format.frac_bits)
            with torch.no_grad():
                getattr(m, t.role).copy_(torch.from_numpy(v.astype(np.float32)))
        mods.append((l.name, m))
    return H.sequential_module(mods)


def hls_config(case: Case1D) -> dict:
    spec, rf = case.spec, case.reuse_factor
    names = {"x": {"Trace": True, "Precision": {"result": H.hls_type(spec.input_format)}}}
    for l in spec.layers:
        per = {"Trace": True, "ReuseFactor": rf, "Strategy": case.strategy}
        fin = H.hls_type(l.in_format)
        if l.type in ("conv1d", "dense"):
            f = l.formats
            per["Precision"] = {"weight": H.hls_type(f.weight), "accum": H.hls_type(f.accum),
                                "result": H.hls_type(f.result),
                                "bias": H.hls_type(f.bias if f.bias is not None else f.weight)}
        else:
            per["Precision"] = {"result": fin, "accum": fin}
        if l.type == "conv1d" and case.io_type == "io_stream":
            per["ConvImplementation"] = "LineBuffer"
        names[l.name] = per
    return {"Model": {"Precision": {"default": "ap_fixed<16,6>"}, "ReuseFactor": rf,
                      "Strategy": case.strategy, "ChannelsLastConversion": "full",
                      "TransposeOutputs": False, "BramFactor": 1_000_000_000},
            "LayerName": names, "InputShape": tuple(spec.input_shape)}


def build(case: Case1D) -> H.Built:
    """hls4ml's compiled project of ``case``, cached by content hash."""
    return H.build_module("h1d", case.spec, case.weights, lambda: torch_module(case),
                          hls_config(case), case.io_type, __file__)


@pytest.fixture(scope="module")
def need_hls4ml():
    reason = H.unavailable_reason()
    if reason:
        pytest.skip(reason)


def _check(case: Case1D, record_property=None) -> None:
    H.check_family(case, build(case), record_property)


@pytest.mark.parametrize("seed, io_type, strategy, rf", CI_CASES,
                         ids=[f"{s}-{io}-{st}-rf{r}" for s, io, st, r in CI_CASES])
def test_equal_to_hls4ml_csim(need_hls4ml, seed, io_type, strategy, rf, record_property):
    _check(draw_case(seed, io_type, strategy, rf), record_property)


@pytest.mark.parametrize("field, replacement", [("overflow", "AP_WRAP"),
                                                ("quantization", "AP_TRN")])
def test_the_conv_accumulator_modes_act(field, replacement):
    """On the CI cases' data, replacing conv1d's accumulator Q or O mode changes fixsim's
    taps: the equality above is not a vacuous no-overflow, no-rounding case."""
    acted = 0
    for args in CI_CASES:
        case = draw_case(*args)
        d = case.spec.to_dict()
        acc = FixedType.parse(d["layers"][1]["formats"]["accum"])
        if getattr(acc, field).name == replacement:
            continue
        d["layers"][1]["formats"]["accum"] = str(dataclasses.replace(acc, **{field: replacement}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FixsimWarning)
            a = run(case.spec, case.weights, case.x)["c1"]
            b = run(load_spec(d), case.weights, case.x)["c1"]
        acted += not np.array_equal(a, b)
    assert acted, f"conv1d's accumulator {field} never acts on the CI data"


@pytest.mark.slow
@pytest.mark.parametrize("seed, io_type, strategy, rf", SLOW_CASES)
def test_more_seeds(need_hls4ml, seed, io_type, strategy, rf):
    _check(draw_case(seed, io_type, strategy, rf))
