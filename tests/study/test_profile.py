"""``fixsim profile``: ranges, event counts (the run's, against the reference), divergence,
flips."""

from __future__ import annotations

import json

import numpy as np

from fixsim.cli.main import main
from fixsim.fixed import FixedType, to_float
from fixsim.network import load_spec, prepare
from fixsim.network.engine import mac_config
from fixsim.network.weights import quantize_weights
from fixsim.study.evaluate import build_context, evaluate_point
from fixsim.study.points import apply, grid_points, parse_overrides
from fixsim.study.profile import profile

from ..network.test_counting import counted_conv2d, counted_dense
from .conftest import TINY


def _data(tiny):
    z = np.load(tiny / "data.npz")
    w = dict(np.load(tiny / "model" / "weights.npz"))
    return w, z["frames"], z["labels"]


def test_event_counts_are_the_runs_counts(tiny):
    """The profile's events are counted by its bit-exact run: per step (partial sums that
    wrap and come back are seen, unlike a count from final sums), equal to the reference
    of tests/network/test_counting on the run's own taps."""
    w, x, y = _data(tiny)
    spec = load_spec(TINY)
    over = parse_overrides(spec, ["fc1.accum=ap_fixed<10,3>",
                                  "conv1.result=ap_fixed<8,2,AP_RND,AP_SAT>"])
    narrow = apply(spec, grid_points(spec, overrides=over)[0])
    ctx = build_context(narrow, w, x, y)
    prof = profile(ctx, lsb_threshold=1.0)
    assert prof["events_source"].startswith("counted by the bit-exact run")
    by = {e["layer"]: e for e in prof["layers"]}
    wq = quantize_weights(narrow, {k: np.asarray(v, float) for k, v in w.items()}, warn=False)
    taps = prepare(narrow, wq).run(x)
    fl, c1 = narrow.layer("fc1"), narrow.layer("conv1")
    _, want = counted_dense(taps["flatten"], wq["fc1.weight"], wq["fc1.bias"], mac_config(fl))
    fc1 = by["fc1"]["tensors"]
    assert fc1["products"]["events"] == want["products"]
    assert fc1["result"]["events"] == want["result"]
    assert fc1["accum"]["events"] == {k: want["accum"][k] + want["bias"][k]
                                      for k in want["accum"]}
    # the same sums checked only at the end (the old recount) see fewer wraps
    xin = to_float(taps["flatten"], fl.in_format)
    s = xin @ to_float(wq["fc1.weight"], fl.formats.weight).T + to_float(wq["fc1.bias"],
                                                                         fl.formats.bias)
    acc = FixedType.parse("ap_fixed<10,3>")
    final = int(((s < acc.min) | (s > acc.max)).sum())
    assert 0 < final < fc1["accum"]["events"]["wrapped"]
    _, want_c = counted_conv2d(taps["input"], wq["conv1.weight"], wq["conv1.bias"],
                               mac_config(c1), c1.stride, c1.padding)
    res = by["conv1"]["tensors"]["result"]
    assert res["events"] == want_c["result"] and res["events"]["saturated"] > 0
    assert res["max"] > c1.formats.result.max  # the float range shows why
    assert by["input"]["tensors"]["input"]["events"]["n"] == x.size
    pool = by["pool1"]["tensors"]["result"]
    assert pool["events"] == {"n": 0, "rounded": 0, "saturated": 0, "wrapped": 0}
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
