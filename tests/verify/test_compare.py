"""fixsim.verify.compare on crafted taps: positions, hex, LSBs, histograms, alignment, threads."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.errors import InputError
from fixsim.verify import kernels
from fixsim.verify.compare import DIFFERENT, EQUAL, WITHIN, compare, hex_raw
from fixsim.verify.result import Result


def _res(spec, taps, fixed=True, name="x", **kw):
    return Result(name, "test", spec, {k: np.array(v) for k, v in taps.items()}, fixed, **kw)


def test_identical_is_equal(spec, taps):
    c = compare(_res(spec, taps), _res(spec, taps))
    assert c.status == EQUAL and c.exit_code == 0
    assert [l.layer for l in c.layers] == ["input", "conv1", "pool1", "conv2", "pool2",
                                           "flatten", "fc1", "fc2"]
    assert all(l.mismatches == 0 and l.first is None for l in c.layers)
    assert c.first_mismatch is None
    assert c.embedding["l2"]["max"] == 0.0


def test_single_flipped_bit_is_found_exactly(spec, taps):
    b = {k: v.copy() for k, v in taps.items()}
    idx = (4, 2, 13, 7)
    before = int(b["conv2"][idx])
    b["conv2"][idx] = before ^ (1 << 15)  # the sign bit of ap_fixed<16,6>
    c = compare(_res(spec, taps), _res(spec, b))
    assert c.status == DIFFERENT and c.exit_code == 1
    per = {l.layer: l for l in c.layers}
    assert per["conv2"].mismatches == 1 and per["conv2"].frames_with_mismatch == 1
    assert sum(l.mismatches for l in c.layers) == 1
    m = c.first_mismatch
    assert (m.frame, m.layer, tuple(m.multi_index)) == (4, "conv2", idx[1:])
    assert m.index == int(np.ravel_multi_index(idx[1:], (3, 27, 27)))
    after = int(b["conv2"][idx])
    assert (m.expected, m.actual) == (before, after)
    assert m.expected_hex == f"0x{before & 0xFFFF:04x}"
    assert m.actual_hex == f"0x{after & 0xFFFF:04x}"
    assert m.diff_lsb == after - before
    assert per["conv2"].max_diff_lsb == abs(after - before)


def test_first_mismatch_is_earliest_frame_then_earliest_layer(spec, taps):
    b = {k: v.copy() for k, v in taps.items()}
    b["fc2"][1, 3] += 1      # frame 1, last layer
    b["conv1"][2, 0, 0, 0] += 5  # frame 2, first layer
    b["fc1"][1, 99] -= 2     # frame 1, earlier layer than fc2
    c = compare(_res(spec, taps), _res(spec, b))
    assert (c.first_mismatch.frame, c.first_mismatch.layer, c.first_mismatch.index) == (1, "fc1", 99)
    per = {l.layer: l for l in c.layers}
    assert per["conv1"].first.frame == 2 and per["conv1"].max_diff_lsb == 5
    assert per["fc2"].first.diff_lsb == 1


def test_tolerance_in_lsb(spec, taps):
    b = {k: v.copy() for k, v in taps.items()}
    b["fc1"][0, 0] += 3
    assert compare(_res(spec, taps), _res(spec, b), tolerance_lsb=2).status == DIFFERENT
    assert compare(_res(spec, taps), _res(spec, b), tolerance_lsb=3).status == WITHIN
    with pytest.raises(InputError, match="tolerance"):
        compare(_res(spec, taps), _res(spec, b), tolerance_lsb=-1)


def test_hex_is_w_bit_twos_complement():
    assert hex_raw(-1, 16) == "0xffff"
    assert hex_raw(-32768, 16) == "0x8000"
    assert hex_raw(5, 16) == "0x0005"
    assert hex_raw(-1, 18) == "0x3ffff"
    assert hex_raw(2**40, 41) == "0x10000000000"


def test_chunks_and_threads_do_not_change_the_result(spec, taps, monkeypatch):
    b = {k: v.copy() for k, v in taps.items()}
    rng = np.random.default_rng(1)
    for name in ("conv1", "pool2", "fc2"):
        flat = b[name].reshape(-1)
        pos = rng.choice(flat.size, 7, replace=False)
        flat[pos] += rng.integers(-4, 5, 7) | 1
    ref = compare(_res(spec, taps), _res(spec, b), threads=1).to_dict()
    import importlib

    cm = importlib.import_module("fixsim.verify.compare")  # the package exports compare()

    monkeypatch.setattr(cm, "CHUNK_BYTES", 4096)  # many small work items
    assert compare(_res(spec, taps), _res(spec, b), threads=3).to_dict() == ref


def test_memmapped_narrow_storage_compares_like_int64(spec, taps, tmp_path):
    mm = {}
    for name, arr in taps.items():
        path = tmp_path / f"{name}.bin"
        arr.astype("<i2").tofile(path)
        mm[name] = np.memmap(path, dtype="<i2", mode="r", shape=arr.shape)
    a = Result("mm", "test", spec, mm, True)
    c = compare(a, _res(spec, taps))
    assert c.status == EQUAL


def _naive_errors(fixed_raw, floats, frac):
    e = fixed_raw.astype(np.float64) - floats * 2.0 ** frac
    ae = np.abs(e)
    hist = np.zeros(kernels.N_BINS, np.int64)
    for v in ae.ravel():
        k = next(i for i, edge in enumerate(kernels.HIST_EDGES) if v <= edge)
        hist[k] += 1
    return ae.max(), ae.mean(), math.sqrt((e * e).mean()), e.mean(), hist


def test_fixed_vs_float_errors_match_a_naive_reference(spec, taps):
    rng = np.random.default_rng(2)
    floats = {k: v * spec.input_format.lsb + rng.normal(0, 3, v.shape) * 2.0 ** -10
              for k, v in taps.items()}
    c = compare(_res(spec, taps), _res(spec, floats, fixed=False), tolerance_lsb=1000)
    assert c.mode == "fixed-float"
    for l in c.layers:
        mx, mean, rms, bias, hist = _naive_errors(taps[l.layer], floats[l.layer], 10)
        assert l.max_abs_lsb == pytest.approx(mx, rel=1e-12)
        assert l.mean_abs_lsb == pytest.approx(mean, rel=1e-9)
        assert l.rms_lsb == pytest.approx(rms, rel=1e-9)
        assert l.mean_lsb == pytest.approx(bias, rel=1e-6, abs=1e-12)
        assert l.hist == hist.tolist()
        fr, idx = l.max_at["frame"], tuple(l.max_at["multi_index"])
        e = abs(int(taps[l.layer][(fr,) + idx]) - floats[l.layer][(fr,) + idx] * 1024)
        assert e == pytest.approx(mx, rel=1e-12)
    # same errors with the float side first (the error is always fixed - float)
    c2 = compare(_res(spec, floats, fixed=False), _res(spec, taps), tolerance_lsb=1000)
    assert [l.mean_lsb for l in c2.layers] == [l.mean_lsb for l in c.layers]
    assert c.status == WITHIN
    assert compare(_res(spec, taps), _res(spec, floats, fixed=False), tolerance_lsb=1).status == DIFFERENT


@given(st.lists(st.floats(0, 5000, allow_nan=False), min_size=1, max_size=50))
def test_histogram_bins_follow_the_edges(values):
    a = np.array([values])
    hist = np.zeros(kernels.N_BINS, np.int64)
    kernels.error_stats(a, np.zeros_like(a), 1.0, 1.0, hist)
    want = np.zeros(kernels.N_BINS, np.int64)
    for v in values:
        want[next(i for i, e in enumerate(kernels.HIST_EDGES) if v <= e)] += 1
    assert hist.tolist() == want.tolist()


def test_nonfinite_float_values_are_counted_and_fail(spec, taps):
    floats = {k: v * 2.0 ** -10 for k, v in taps.items()}
    floats["fc2"] = floats["fc2"].copy()
    floats["fc2"][0, 0] = np.nan
    c = compare(_res(spec, taps), _res(spec, floats, fixed=False), layers=["fc2"],
                tolerance_lsb=100)
    assert c.layers[0].nonfinite == 1 and c.status == DIFFERENT


def test_frames_are_aligned_by_id_and_missing_frames_differ(spec, taps):
    ids = np.arange(6) + 100
    sub = {k: v[[5, 1, 3]] for k, v in taps.items()}
    a = _res(spec, taps, frame_ids=ids)
    b = _res(spec, sub, frame_ids=ids[[5, 1, 3]])
    c = compare(a, b)
    assert c.frames == 3 and c.only_a == [100, 102, 104] and c.only_b == []
    assert all(l.mismatches == 0 for l in c.layers)
    assert c.status == DIFFERENT
    sub["fc1"] = sub["fc1"].copy()
    sub["fc1"][0, 4] += 1  # frame id 105
    c = compare(a, _res(spec, sub, frame_ids=ids[[5, 1, 3]]))
    assert c.first_mismatch.frame == 105


def test_bad_comparisons_are_input_errors(spec, taps):
    from fixsim.network import load_spec

    a = _res(spec, taps)
    with pytest.raises(InputError, match="no layer in common"):
        compare(a, _res(spec, {}, name="empty"))
    with pytest.raises(InputError, match="not in A .*did you mean 'conv"):
        compare(a, a, layers=["conv"])
    other = load_spec(spec.to_dict())
    d = other.to_dict()
    d["layers"][-1]["formats"]["result"] = "ap_fixed<18,8,AP_RND,AP_SAT>"
    with pytest.raises(InputError, match="formats differ"):
        compare(a, _res(load_spec(d), {"fc2": taps["fc2"]}))
    with pytest.raises(InputError, match="must hold raw integers"):
        _res(spec, {"fc2": taps["fc2"] * 1.0})
    with pytest.raises(InputError, match="shape"):
        _res(spec, {"fc2": taps["fc1"]})
    with pytest.raises(InputError, match="different numbers of frames"):
        _res(spec, {"fc2": taps["fc2"], "fc1": taps["fc1"][:2]})


def test_classification_agreement_with_supports_and_centroids(spec, taps):
    from fixsim.verify.classify import SupportSet

    rng = np.random.default_rng(0)
    emb = taps["fc2"] * 2.0 ** -10
    sup = SupportSet(rng.standard_normal((8, 50)), np.repeat(np.arange(4), 2), ("a", "b", "c", "d"), "test")
    a = _res(spec, {"fc2": taps["fc2"]}, labels=np.array([0, 1, 2, 3, 0, 1]))
    c = compare(a, _res(spec, {"fc2": taps["fc2"]}), support=sup)
    k = c.classification
    assert k["method"] == "nearest-support" and k["agreement"] == 1.0 and k["n"] == 6
    c = compare(a, _res(spec, {"fc2": -taps["fc2"]}), support=None, tolerance_lsb=1e9)
    k = c.classification
    assert k["method"] == "class-centroids" and k["accuracy_a"] == 1.0
    assert 0 <= k["agreement"] < 1 and k["disagreements"] == len(k["disagreement_ids"])
    assert emb.shape == (6, 50)
    c = compare(_res(spec, {"fc2": taps["fc2"]}), _res(spec, {"fc2": taps["fc2"]}))
    assert c.classification["method"] is None
