"""``fixsim profile``: ranges, event counts (against a float64 recount), divergence, flips."""

from __future__ import annotations

import json

import numpy as np

from fixsim.cli.main import main
from fixsim.fixed import FixedType, to_float
from fixsim.network import load_spec, prepare
from fixsim.network.weights import quantize_weights
from fixsim.study.evaluate import build_context, evaluate_point
from fixsim.study.points import apply, grid_points, parse_overrides
from fixsim.study.profile import profile

from .conftest import TINY


def _data(tiny):
    z = np.load(tiny / "data.npz")
    w = dict(np.load(tiny / "model" / "weights.npz"))
    return w, z["frames"], z["labels"]


def test_event_counts_match_a_float_recount(tiny):
    w, x, y = _data(tiny)
    spec = load_spec(TINY)
    over = parse_overrides(spec, ["fc1.accum=ap_fixed<10,3>",
                                  "conv1.result=ap_fixed<8,2,AP_RND,AP_SAT>"])
    narrow = apply(spec, grid_points(spec, overrides=over)[0])
    ctx = build_context(narrow, w, x, y)
    prof = profile(ctx, lsb_threshold=1.0)
    by = {e["layer"]: e for e in prof["layers"]}
    # naive: the fc1 sums in float64 from the fixed flatten tap and quantized weights
    wq = quantize_weights(narrow, {k: np.asarray(v, float) for k, v in w.items()}, warn=False)
    taps = prepare(narrow, wq).run(x)
    fl = narrow.layer("fc1")
    xin = to_float(taps["flatten"], fl.in_format)
    s = xin @ to_float(wq["fc1.weight"], fl.formats.weight).T + to_float(wq["fc1.bias"],
                                                                         fl.formats.bias)
    acc = FixedType.parse("ap_fixed<10,3>")
    outside = int(((s < acc.min) | (s > acc.max)).sum())
    assert outside > 0
    assert by["fc1"]["tensors"]["accum"]["events"] == {
        "saturated": 0, "wrapped": outside,
        "rounded": int((np.ldexp(s, acc.frac_bits) % 1 != 0).sum())}
    c1 = narrow.layer("conv1")
    res = c1.formats.result
    conv_sat = by["conv1"]["tensors"]["result"]["events"]["saturated"]
    assert conv_sat > 0 and by["conv1"]["tensors"]["result"]["events"]["wrapped"] == 0
    assert by["conv1"]["tensors"]["result"]["max"] > res.max  # the float range shows why
    assert prof["first_divergent_layer"] == "conv1"
    # the flips are the disagreements the sweep reports for the same formats
    row = evaluate_point(ctx, grid_points(narrow)[0])
    assert len(prof["flipped_frames"]) == round((1 - row["agreement"]) * len(x)) > 0


def test_profile_cli_writes_json_table_png(tiny, tmp_path, capsys):
    rc = main(["profile", str(tiny / "model"), "--data", str(tiny / "frames.npy"), "--out",
               str(tmp_path / "p"), "--lsb", "4"])
    table = capsys.readouterr().out
    assert rc == 0 and "first layer more than 4 LSB from float" in table
    doc = json.loads((tmp_path / "p" / "profile.json").read_text())
    assert doc["frames"] == 40 and doc["inputs"]["data"]["labelled"] is False
    assert set(doc["files"]) == {"profile.txt", "profile.png"}
    assert [e["layer"] for e in doc["layers"]] == ["input", "conv1", "pool1", "flatten", "fc1"]
    fc1 = doc["layers"][-1]["tensors"]
    assert fc1["products"]["min"] <= fc1["products"]["percentiles"]["0.1"]
    assert (tmp_path / "p" / "profile.png").read_bytes()[:4] == b"\x89PNG"
    rc = main(["profile", str(tiny / "model"), "--data", str(tiny / "nothing.npz")])
    assert rc == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
