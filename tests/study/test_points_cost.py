"""Points on a spec (grids, overrides, validation) and the cost model's rules."""

from __future__ import annotations

import re

import pytest

from fixsim.errors import InputError
from fixsim.fixed import FixedType
from fixsim.network import load_spec
from fixsim.study.cost import CostModel, cost, dsp_per_multiplier, latency_layers
from fixsim.study.points import (apply, base_point, grid_points, parse_modes, parse_overrides,
                                 parse_values, tensor_names)

from .conftest import TINY


def test_grid_is_the_product_of_its_axes_and_keeps_int_bits():
    spec = load_spec(TINY)
    pts = grid_points(spec, widths=[6, 8], modes=[None, ("AP_TRN", "AP_WRAP")],
                      accum_widths=[None, 24])
    assert len(pts) == 8 and len({p.key for p in pts}) == 8
    p = pts[-1]  # width 8, TRN/WRAP, accumulators 24 bits
    assert p.labels() == {"width": 8, "modes": "TRN,WRAP", "accum": 24}
    assert FixedType.parse(p.format_of("fc1.weight")) == FixedType(8, 4, True, "AP_TRN", "AP_WRAP")
    assert FixedType.parse(p.format_of("conv1.accum")) == FixedType(24, 14, True)
    s = apply(spec, p)  # a valid spec with exactly those formats
    assert str(s.layer("fc1").formats.weight) == p.format_of("fc1.weight")
    assert str(s.input_format) == p.format_of("input")


def test_base_point_reproduces_the_spec_and_overrides_win():
    spec = load_spec(TINY)
    assert apply(spec, base_point(spec)).spec_hash() == spec.spec_hash()
    over = parse_overrides(spec, ["conv1.accum=ap_fixed<24,12>", "fc1.weight=8", "fc1.bias=10,5"])
    assert over == {"conv1.accum": "ap_fixed<24,12>", "fc1.weight": "ap_fixed<8,4,AP_RND,AP_SAT>",
                    "fc1.bias": "ap_fixed<10,5,AP_RND,AP_SAT>"}
    p = grid_points(spec, widths=[12], overrides=over)[0]
    assert p.format_of("conv1.accum") == "ap_fixed<24,12>"
    assert p.format_of("fc1.weight") == "ap_fixed<8,4,AP_RND,AP_SAT>"
    assert p.format_of("conv1.weight") == "ap_fixed<12,4,AP_RND,AP_SAT>"


@pytest.mark.parametrize("call, message", [
    (lambda s: parse_values("9:4", "--widths"), "is empty"),
    (lambda s: parse_values("60:70", "--widths"), "65 is outside 1..64"),
    (lambda s: parse_values("a:b", "--widths"), "expected A:B"),
    (lambda s: parse_overrides(s, ["conv9.accum=ap_fixed<20,8>"]), "no layer 'conv9' (did you "
                                                                   "mean 'conv1'?)"),
    (lambda s: parse_overrides(s, ["conv1.acum=20"]), "did you mean 'conv1.accum'"),
    (lambda s: parse_overrides(s, ["conv1.accum"]), "expected TENSOR=FORMAT"),
    (lambda s: parse_modes("RND"), "expected QUANTIZATION,OVERFLOW"),
    (lambda s: parse_modes("RNDX,SAT"), "unknown quantization mode"),
    (lambda s: grid_points(s, widths=[]), "no widths"),
])
def test_bad_points_are_one_clear_error(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(load_spec(TINY))


def test_tensor_names_follow_the_dataflow():
    assert tensor_names(TINY) == ["input", "conv1.weight", "conv1.bias", "conv1.accum",
                                  "conv1.result", "fc1.weight", "fc1.bias", "fc1.accum",
                                  "fc1.result"]


@pytest.mark.parametrize("wa, wb, lut_bits, want", [
    (16, 16, 10, 1), (27, 18, 10, 1), (18, 27, 10, 1), (28, 18, 10, 2), (27, 19, 10, 2),
    (32, 32, 10, 4), (35, 35, 10, 4), (44, 35, 10, 4), (10, 10, 10, 0), (10, 11, 10, 1),
    (8, 8, 0, 1), (64, 64, 10, 12),
])
def test_dsp48e2_rule(wa, wb, lut_bits, want):
    assert dsp_per_multiplier(wa, wb, lut_mult_bits=lut_bits) == want


def test_specklenn_cost_matches_the_latency_models_own_description():
    from fixsim.hls.latency_model import predict

    ref = predict()  # SPECKLENN_LAYERS: the published mapping
    c = cost("specklenn-snl")
    assert (c["cycles"], c["multipliers"]) == (ref.latency_cycles, ref.multipliers)
    assert c["dsp"] == ref.multipliers  # 16x16 products: one slice each
    layers, shape = latency_layers("specklenn-snl")
    assert shape == [65, 65, 1] and [l["kind"] for l in layers][:3] == ["conv2d", "relu",
                                                                       "maxpool2d"]
    narrow = cost(apply("specklenn-snl", grid_points("specklenn-snl", widths=[8])[0]))
    assert narrow["dsp"] == 0 and narrow["lut"] > c["lut"] - c["multipliers"] * 16
    assert narrow["weight_bits"] == c["weight_bits"] // 2
    wider = cost("specklenn-snl", CostModel(dense_reuse=40))
    assert wider["multipliers"] < c["multipliers"] and wider["cycles"] > c["cycles"]
    with pytest.raises(InputError, match="dense_reuse must be an integer >= 1"):
        CostModel(dense_reuse=0)


def test_int_bits_auto_holds_each_tensors_float_range(tiny):
    import numpy as np

    from fixsim.study.evaluate import build_context, value_ranges
    from fixsim.study.points import int_bits_for, parse_int_bits

    z = np.load(tiny / "data.npz")
    w = dict(np.load(tiny / "model" / "weights.npz"))
    spec = load_spec(TINY)
    ctx = build_context(spec, w, z["frames"], z["labels"])
    ranges = value_ranges(ctx)
    assert ranges["fc1.weight"] == np.abs(w["fc1.weight"]).max()
    assert ranges["input"] == np.abs(z["frames"]).max()
    bits = parse_int_bits(spec, ["auto", "fc1.bias=3"], lambda: ranges)
    assert bits["fc1.bias"] == 3 and "conv1.accum" not in bits
    for t, i in bits.items():
        if t != "fc1.bias":
            assert 2.0 ** (i - 2) <= ranges[t] < 2.0 ** (i - 1), (t, i, ranges[t])
    p = grid_points(spec, widths=[6], int_bits=bits)[0]
    assert FixedType.parse(p.format_of("fc1.weight")).int_bits == int_bits_for(ranges["fc1.weight"])
    with pytest.raises(InputError, match="expected I, auto"):
        parse_int_bits(spec, ["fc1.weight=x"])
