"""fixsim's sigmoid, tanh and softmax against hls4ml 1.3.0's own compiled C simulation.

Seeded networks ``flatten -> dense -> sigmoid|tanh -> dense -> softmax`` on a (1, L) input, built
from PyTorch by hls4ml with every format, table size and table format given per layer,
and traced: every layer equal bit for bit (0 differing values).  The mapping:

- ``nn.Sigmoid`` / ``nn.Tanh``: hls4ml's ``Activation`` with ``TableSize`` and the
  ``table`` precision; fixsim ``{"type": "sigmoid"|"tanh", "table_size", "range": 8|4,
  "index": "trunc"}``.
- ``nn.Softmax(dim=1)``: hls4ml's ``Softmax`` (``Implementation`` stable or latency,
  ``TableSize``, ``exp_table``/``inv_table``/``accum``/``inv_inp`` precisions); both of
  its table sizes are ``TableSize`` (the template's default) and ``inp_norm_t`` is its
  default ``ap_ufixed<W-s, I-s>``, which are fixsim's ``exp_table_size`` =
  ``inv_table_size`` and its default ``inp_norm``.  Table formats are layer attributes in
  hls4ml's config (``table_t``, ``exp_table_t``, ``inv_table_t``, ``inv_inp_t``), not
  ``Precision`` entries (which hls4ml ignores for them).  The declared types and table sizes
  of the generated project are checked after it is written.

Not compared: a softmax over the channels of a (C, H, W) map.  hls4ml's PyTorch front end
turns ``nn.Softmax(dim=1)`` after a conv into one softmax over all H*W*C values
(``n_outer = n_inner = 1``, io_parallel), not one per position; fixsim's per-position
softmax is checked against the rtl/ twin and hls4ml's own ``softmax_multidim`` compiled
with g++ (tests/rtl/test_lut_activations.py).

The formats are narrow (tables and accumulators that round and saturate, sums that leave
the inverse table's range) and the inputs saturate; table sizes are powers of two at most
2^(W - 1) of the layer's input, so that hls4ml's ``FixSoftmaxTableSize`` keeps them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from fixsim.fixed import FixedType
from fixsim.network import load_spec

import h4_harness as H

#: (seed, io_type): the CI share.
CI_CASES = [(3, "io_parallel"), (4, "io_stream")]
SLOW_CASES = [(s, io) for s in range(200, 208) for io in ("io_parallel", "io_stream")]


LutCase = H.FamilyCase



def _dense(rng, name, out, bias=True, kind="dense", **extra):
    layer = {"name": name, "type": kind, "bias": bias, "activation": "linear",
             "options": {"product": "to_accum", "sum_order": "kh_kw_ci",
                         "activation_on": "result"},
             "formats": {"weight": str(H.family_format(rng, 4, 8, 0, 2, ovf=("AP_SAT",))),
                         "bias": str(H.family_format(rng, 4, 8, 0, 3, ovf=("AP_SAT",))),
                         "accum": "ap_fixed<32,12>",
                         "result": str(H.family_format(rng, 8, 11, 3, 5, ovf=("AP_SAT", "AP_SAT_SYM")))},
             **extra}
    if kind == "dense":
        layer["out_features"] = out
    else:
        layer["out_channels"] = out
    return layer


def _table_size(rng, in_fmt: FixedType) -> int:
    return int(2 ** rng.integers(3, min(in_fmt.width - 1, 10) + 1))


def _softmax(rng, name, in_fmt: FixedType, implementation: str) -> dict:
    size = _table_size(rng, in_fmt)
    return {"name": name, "type": "softmax", "implementation": implementation,
            "exp_table_size": size, "inv_table_size": size,
            "formats": {"exp_table": str(H.family_format(rng, 10, 18, 2, 8, ovf=("AP_SAT",))),
                        "inv_table": str(H.family_format(rng, 10, 18, 2, 8, ovf=("AP_SAT",))),
                        "accum": str(H.family_format(rng, 10, 18, 3, 8)),
                        "inv_inp": str(H.family_format(rng, 10, 18, 3, 8, ovf=("AP_SAT",))),
                        "result": str(H.family_format(rng, 8, 16, 1, 3, ovf=("AP_SAT", "AP_WRAP")))}}


def draw_case(seed: int, io_type: str) -> LutCase:
    rng = np.random.default_rng(seed)
    in_fmt = H.family_format(rng, 8, 12, 3, 5, ovf=("AP_SAT",))
    fc1 = _dense(rng, "fc1", int(rng.integers(4, 12)))
    act = {"name": "act", "type": ("sigmoid", "tanh")[rng.integers(2)],
           "table_size": _table_size(rng, FixedType.parse(fc1["formats"]["result"])),
           "index": "trunc",
           "formats": {"table": str(H.family_format(rng, 8, 18, 1, 8, ovf=("AP_SAT", "AP_WRAP"))),
                       "result": str(H.family_format(rng, 8, 12, 1, 3))}}
    fc2 = _dense(rng, "fc2", int(rng.integers(3, 9)))
    impl = ("stable", "latency")[rng.integers(2)]
    layers = [fc1, act, fc2,
              _softmax(rng, "soft", FixedType.parse(fc2["formats"]["result"]), impl)]
    shape = [1, int(rng.integers(6, 16))]  # a 1-channel waveform, flattened first
    layers.insert(0, {"name": "flat", "type": "flatten", "order": "chw"})
    spec = load_spec({"name": "h4lut", "input": {"shape": shape, "format": str(in_fmt)},
                      "layers": layers})
    weights = {t.name: rng.integers(t.format.raw_min, t.format.raw_max + 1, t.shape)
               for t in spec.tensors()}
    x = rng.standard_normal((48, *shape)) * 2.0 ** in_fmt.int_bits
    return LutCase("lut", seed, io_type, spec, weights, x)


def torch_module(case: LutCase):
    import torch
    from torch import nn

    mods = []
    for l in case.spec.layers:
        if l.type in ("dense", "conv2d"):
            if l.type == "dense":
                m = nn.Linear(l.in_shape[0], l.out_features)
            else:
                m = nn.Conv2d(l.in_shape[0], l.out_channels, tuple(l.kernel))
            for role in ("weight", "bias"):
                f = l.formats.weight if role == "weight" else l.formats.bias
                v = np.ldexp(np.asarray(case.weights[f"{l.name}.{role}"], np.float64), -f.frac_bits)
                with torch.no_grad():
                    getattr(m, role).copy_(torch.from_numpy(v.astype(np.float32)))
        elif l.type == "flatten":
            m = nn.Flatten()
        elif l.type == "softmax":
            m = nn.Softmax(dim=-1)  # flat: the features (io_stream requires -1)
        else:
            m = nn.Sigmoid() if l.type == "sigmoid" else nn.Tanh()
        mods.append((l.name, m))
    return H.sequential_module(mods)


def hls_config(case: LutCase) -> dict:
    spec = case.spec
    names = {"x": {"Trace": True, "Precision": {"result": H.hls_type(spec.input_format)}},
             "transpose_input_for_x": {"Trace": True}}
    for l in spec.layers:
        per = {"Trace": True, "ReuseFactor": 1}
        if l.type in ("dense", "conv2d"):
            f = l.formats
            per["Precision"] = {"weight": H.hls_type(f.weight), "bias": H.hls_type(f.bias),
                                "accum": H.hls_type(f.accum), "result": H.hls_type(f.result)}
        elif l.type == "flatten":
            per["Precision"] = {"result": H.hls_type(l.in_format)}
            names[f"transpose_input_for_{l.name}"] = {"Trace": True}
        elif l.type == "softmax":
            c = l
            per["Implementation"] = c.implementation
            per["TableSize"] = c.inv_table_size
            # the table types are layer attributes ("<name>_t" keys), not Precision entries
            per.update(exp_table_t=H.hls_type(c.exp_table), inv_table_t=H.hls_type(c.inv_table),
                       inv_inp_t=H.hls_type(c.inv_inp))
            per["Precision"] = {"accum": H.hls_type(c.accum), "result": H.hls_type(c.result)}
        else:
            c = l
            per["TableSize"] = c.table_size
            per["table_t"] = H.hls_type(c.table)
            per["Precision"] = {"result": H.hls_type(c.result)}
        names[l.name] = per
    return {"Model": {"Precision": {"default": "ap_fixed<16,6>"}, "ReuseFactor": 1,
                      "Strategy": "Latency", "ChannelsLastConversion": "full",
                      "TransposeOutputs": False, "BramFactor": 1_000_000_000},
            "LayerName": names, "InputShape": tuple(spec.input_shape)}


def _declared(out_dir, case: LutCase) -> None:
    """The generated ``parameters.h`` declares fixsim's table sizes, implementation and
    ``inp_norm_t`` (hls4ml computes them in its templates, after the config)."""
    text = (out_dir / "firmware" / "parameters.h").read_text()
    for l in case.spec.layers:
        c = l
        if l.type == "softmax":
            block = re.search(r"struct softmax_config\d+ : nnet::activ_config \{(.*?)\};",
                              text[text.index(f"// {l.name}"):], re.S).group(1)
            assert f"exp_table_size = {c.exp_table_size};" in block, (l.name, block)
            assert f"inv_table_size = {c.inv_table_size};" in block, (l.name, block)
            assert f"softmax_implementation::{c.implementation};" in block, (l.name, block)
            if c.implementation == "stable":
                norm = re.search(r"typedef (.*?) inp_norm_t;", block).group(1).replace(" ", "")
                assert FixedType.parse(norm) == c.inp_norm, (l.name, norm, str(c.inp_norm))
        elif l.type in ("sigmoid", "tanh"):
            assert f"table_size = {c.table_size};" in text, (l.name, c.table_size)
    defines = (out_dir / "firmware" / "defines.h").read_text()
    for l in case.spec.layers:
        roles = {"softmax": ("exp_table", "inv_table", "inv_inp", "accum"),
                 "sigmoid": ("table",), "tanh": ("table",)}.get(l.type, ())
        for role in roles:
            got = re.search(rf"typedef (.*?) {l.name}_{role}_t;", defines).group(1)
            assert FixedType.parse(got.replace(" ", "")) == getattr(l, role), (l.name, role, got)


@pytest.fixture(scope="module")
def need_hls4ml():
    reason = H.unavailable_reason()
    if reason:
        pytest.skip(reason)


def _check(case: LutCase, record_property=None) -> None:
    built = H.build_module("h4lut", case.spec, case.weights, lambda: torch_module(case),
                           hls_config(case), case.io_type, __file__)
    _declared(built.directory, case)
    H.check_family(case, built, record_property)


@pytest.mark.parametrize("seed, io_type", CI_CASES, ids=[f"{s}-{io}" for s, io in CI_CASES])
def test_equal_to_hls4ml_csim(need_hls4ml, seed, io_type, record_property):
    _check(draw_case(seed, io_type), record_property)


@pytest.mark.slow
@pytest.mark.parametrize("seed, io_type", SLOW_CASES)
def test_more_seeds(need_hls4ml, seed, io_type):
    _check(draw_case(seed, io_type))
