"""Spec loader/validator: shapes, canonical form, hash, and one-line errors."""

from __future__ import annotations

import copy
import json

import pytest

from fixsim.errors import FormatError, InputError
from fixsim.fixed import FixedType
from fixsim.network.spec import Conv2D, Dense, bundled_specs, load_spec, pool_out


@pytest.fixture(scope="module")
def base():
    return json.loads(load_spec("specklenn-snl").to_json())


def _load(d):
    return load_spec(copy.deepcopy(d))


def test_specklenn_shapes_and_params():
    spec = load_spec("specklenn-snl")
    assert "specklenn-snl" in bundled_specs()
    assert spec.num_params == 64660
    shapes = {l.name: l.out_shape for l in spec.layers}
    assert shapes == {"conv1": (7, 61, 61), "pool1": (7, 31, 31), "conv2": (3, 27, 27),
                      "pool2": (3, 14, 14), "flatten": (588,), "fc1": (100,), "fc2": (50,)}
    assert spec.weight_shapes()["fc1.weight"] == (100, 588)
    assert spec.input_format == FixedType.parse("ap_fixed<16,6,AP_RND,AP_SAT>")
    conv1 = spec.layer("conv1")
    assert isinstance(conv1, Conv2D) and conv1.options.product == "to_accum"
    assert conv1.product_format == FixedType.parse("ap_fixed<32,10>")


def test_round_trip_and_hash(base, tmp_path):
    spec = load_spec("specklenn-snl")
    assert load_spec(spec.to_json()) == spec
    assert load_spec(spec.to_json(resolved=True)) == spec
    p = tmp_path / "s.json"
    p.write_text(spec.to_json(resolved=True))
    assert load_spec(str(p)).spec_hash() == spec.spec_hash()
    # Defaults made explicit or left out give the same hash; any change gives another.
    d = copy.deepcopy(base)
    del d["options"]
    for l in d["layers"]:
        l.pop("options", None)
    assert _load(d).spec_hash() == spec.spec_hash()
    d["layers"][0]["formats"]["accum"] = "ap_fixed<37,15>"
    assert _load(d).spec_hash() != spec.spec_hash()


def test_pool_out_matches_pytorch_rule():
    assert pool_out(61, 2, 2, True) == 31 and pool_out(61, 2, 2, False) == 30
    assert pool_out(27, 2, 2, True) == 14
    # the last window must start inside the input: 5 with k=2, s=3 ceil -> 2 not 3
    assert pool_out(5, 2, 3, True) == 2
    assert pool_out(4, 3, 2, True) == 2


def test_per_layer_options_and_hwc_permutation(base):
    d = copy.deepcopy(base)
    d["layers"][4]["order"] = "hwc"
    d["layers"][5]["product"] = "exact"
    d["layers"][5].pop("options")
    d["layers"][5]["formats"]["accum"] = "ap_fixed<48,20>"
    spec = _load(d)
    fc1 = spec.layer("fc1")
    assert isinstance(fc1, Dense) and fc1.input_permutation == (3, 14, 14)
    assert fc1.options.product == "exact" and spec.layer("fc2").input_permutation is None


@pytest.mark.parametrize("edit, err, text", [
    (lambda d: d["layers"][0].update(type="conv"), InputError, "did you mean 'conv2d'"),
    (lambda d: d["layers"][0].update(kernal=[5, 5]), InputError, "did you mean 'kernel'"),
    (lambda d: d["layers"][0].update(kernel=[70, 5]), InputError, "larger than the padded input"),
    (lambda d: d["layers"].pop(4), InputError, "add a flatten layer"),
    (lambda d: d["layers"].insert(5, {"name": "c", "type": "conv2d", "out_channels": 1,
                                      "kernel": 1, "formats": {}}), InputError, "(C, H, W)"),
    (lambda d: d["layers"][1].update(name="conv1"), InputError, "used twice"),
    (lambda d: d["layers"][0]["formats"].update(weight="ap_fixd<16,4>"), FormatError, "cannot parse"),
    (lambda d: d["layers"][0]["formats"].update(weight="ap_fixed<50,4>"), FormatError, "needs W=66"),
    (lambda d: d["layers"][0].update(options={"product": "exact"}) or
     d["layers"][0]["formats"].update(accum="ap_fixed<36,20>"), FormatError, "cannot hold a product"),
    (lambda d: d["layers"][0]["options"].update(sum_order="kh_ci_kw"), InputError, "sum_order"),
    (lambda d: d["layers"][0]["formats"].pop("bias"), InputError, "missing required key 'bias'"),
    (lambda d: d["layers"][0].update(out_shape=[7, 60, 60]), InputError, "out_shape"),
    (lambda d: d["layers"][0].update(activation="relu6"), InputError, "did you mean 'relu'"),
    (lambda d: d["layers"][0].update(activation={"leaky_relu": 0.1}), InputError, "alpha_format"),
    (lambda d: d["layers"][0].update(activation={"leaky_relu": 3.0, "alpha_format": "ap_fixed<8,1>"}),
     FormatError, "outside the range"),
    (lambda d: d["layers"][0]["formats"].update(accum="ap_fixed<64,30>"), FormatError, "W <= 63"),
    (lambda d: d.update(params=5), InputError, "params"),
    (lambda d: d["input"].update(shape=[65]), InputError, "[C, H, W] or [C, L]"),
])
def test_errors_are_one_line(base, edit, err, text):
    d = copy.deepcopy(base)
    edit(d)
    with pytest.raises(err) as info:
        load_spec(d)
    msg = str(info.value)
    assert text in msg and "\n" not in msg


def test_unknown_names_and_files(tmp_path):
    with pytest.raises(InputError, match="did you mean 'specklenn-snl'"):
        load_spec("specklenn-sln")
    with pytest.raises(InputError, match="does not exist"):
        load_spec(str(tmp_path / "none.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{\"name\": ")
    with pytest.raises(InputError, match="malformed JSON"):
        load_spec(str(bad))
    with pytest.raises(InputError, match="no layer 'fc3'"):
        load_spec("specklenn-snl").layer("fc3")
