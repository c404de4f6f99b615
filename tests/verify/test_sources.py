"""Result sources: KIND:PATH parsing, and every kind loading back what was written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.errors import InputError
from fixsim.verify.capture import hw_latency, read_cosim_log, read_tap_dir
from fixsim.verify.compare import EQUAL, compare
from fixsim.verify.sources import SOURCES, SourceOptions, load_source, parse_source


def test_parse_source(tmp_path):
    assert parse_source("csim:some/dir") == ("csim", "some/dir")
    assert parse_source(str(tmp_path)) == ("vectors", str(tmp_path))
    with pytest.raises(InputError, match="unknown source kind 'cmis'.*did you mean 'csim'"):
        parse_source("cmis:x")
    with pytest.raises(InputError, match="no path"):
        parse_source("hw:")
    with pytest.raises(InputError, match="neither KIND:PATH"):
        parse_source(str(tmp_path / "missing"))
    odd = tmp_path / "a:b"
    odd.mkdir()
    assert parse_source(str(odd)) == ("vectors", str(odd))  # an existing path wins
    assert set(SOURCES) == {"vectors", "fixsim", "float", "torch", "csim", "cosim", "taps", "hw"}


def test_vector_set_expected_equals_fixsim(tiny_set):
    opts = SourceOptions()
    a = load_source(f"vectors:{tiny_set}", opts)
    b = load_source(f"fixsim:{tiny_set}", opts)
    assert a.n == 4 and a.labels is not None and a.class_names
    c = compare(a, b)
    assert c.status == EQUAL and len(c.layers) == 8


def test_csim_source_equals_the_vector_set(tiny_set, need_gxx, monkeypatch):
    import importlib

    monkeypatch.setattr(importlib.import_module("fixsim.verify.sources"), "RUN_CHUNK", 3)
    opts = SourceOptions()
    fx, cs = load_source(f"fixsim:{tiny_set}", opts), load_source(f"csim:{tiny_set}", opts)
    assert {a.dtype for a in fx.taps.values()} == {np.dtype(np.int16)}  # 16-bit formats
    c = compare(load_source(str(tiny_set), opts), cs)
    assert c.status == EQUAL and len(c.layers) == 8
    assert compare(fx, cs).status == EQUAL


def test_float_sources(tiny_set, need_golden):
    opts = SourceOptions()
    fx = load_source(f"vectors:{tiny_set}", opts)
    fl = load_source(f"float:{tiny_set}", opts)
    th = load_source(f"torch:{tiny_set}", opts)
    assert not fl.fixed and not th.fixed and fl.n == th.n == 4
    c = compare(fx, fl, tolerance_lsb=64)
    assert c.mode == "fixed-float"
    assert c.layers[0].max_abs_lsb <= 0.5  # input: one rounding of the float frames
    assert c.status == "within_tolerance"
    # float: the set's (quantized) weights; torch: the unquantized golden weights
    c = compare(fl, th, tolerance_lsb=64)
    assert c.mode == "float-float" and c.status == "within_tolerance"
    assert c.layers[0].max_abs_lsb == 0.0  # same float frames


def _write_taps(d, taps, meta=None):
    d.mkdir()
    for name, arr in taps.items():
        arr.astype("<i8").tofile(d / f"tap_{name}.bin")
    if meta is not None:
        (d / "meta.json").write_text(json.dumps(meta))


def test_tap_directory_round_trip(tmp_path, spec, taps):
    d = tmp_path / "run"
    _write_taps(d, taps, {"spec": spec.name, "spec_sha256": spec.spec_hash(), "n": 6})
    r = read_tap_dir(d, "cosim", f"cosim:{d}")
    assert isinstance(r.taps["conv1"], np.memmap)
    assert compare(r, load_source(f"taps:{d}")).status == EQUAL
    for name, arr in taps.items():
        np.testing.assert_array_equal(r.taps[name], arr)


def test_tap_directory_errors(tmp_path, spec, taps):
    d = tmp_path / "bad"
    _write_taps(d, {"fc2": taps["fc2"]})
    with pytest.raises(InputError, match="give --model"):
        read_tap_dir(d, "taps", "x")
    assert read_tap_dir(d, "taps", "x", spec).n == 6
    (d / "tap_fc2.bin").write_bytes((d / "tap_fc2.bin").read_bytes()[:-8])
    with pytest.raises(InputError, match="not a whole number"):
        read_tap_dir(d, "taps", "x", spec)
    e = tmp_path / "unknown"
    _write_taps(e, {"fc3": taps["fc2"]})
    with pytest.raises(InputError, match="not a layer.*did you mean"):
        read_tap_dir(e, "taps", "x", spec)
    f = tmp_path / "hash"
    _write_taps(f, {"fc2": taps["fc2"]}, {"spec": spec.name, "spec_sha256": "0" * 64})
    with pytest.raises(InputError, match="sha256"):
        read_tap_dir(f, "taps", "x")
    g = tmp_path / "empty"
    g.mkdir()
    with pytest.raises(InputError, match="no tap_"):
        read_tap_dir(g, "taps", "x", spec)


def _log(spec, taps, frames=range(6), layers=("fc1", "fc2")):
    lines = ["INFO: [COSIM 212-47] Using XSIM for RTL simulation.",
             f"FIXSIM_COSIM 1 spec={spec.name} spec_sha256={spec.spec_hash()}"]
    for f in frames:
        for name in layers:
            vals = " ".join(str(int(v)) for v in taps[name][f].ravel())
            lines.append(f"FIXSIM_TAP {name} {f} {vals}")
        lines.append("$finish called at time : 1234 ns")
    return "\n".join(lines) + "\n"


def test_cosim_log_round_trip(tmp_path, spec, taps):
    p = tmp_path / "cosim.log"
    p.write_text(_log(spec, taps, frames=[3, 0, 5, 1, 2, 4]))
    r = load_source(f"cosim:{p}")
    assert r.kind == "cosim" and r.ids.tolist() == list(range(6))
    for name in ("fc1", "fc2"):
        np.testing.assert_array_equal(r.taps[name], taps[name])
    ref = load_source.__globals__["Result"]("ref", "t", spec, dict(taps), True)
    assert compare(ref, r).status == EQUAL


@pytest.mark.parametrize("mutate,match", [
    (lambda t: t.replace("FIXSIM_TAP fc2 1 ", "FIXSIM_TAP fc2 1 7 "), "has 51 values"),
    (lambda t: t + t.splitlines()[2] + "\n", "appears twice"),
    (lambda t: t.replace("FIXSIM_TAP fc2 2 ", "FIXSIM_TAP fc2 2 x"), "decimal integers"),
    (lambda t: t.replace("FIXSIM_COSIM 1", "FIXSIM_COSIM 2"), "version"),
    (lambda t: t.replace("FIXSIM_TAP", "INFO"), "no FIXSIM_TAP lines"),
    (lambda t: t.replace("FIXSIM_TAP fc1 4 ", "FIXSIM_TAP fcl 4 "), "not a layer"),
    (lambda t: "\n".join(l for l in t.splitlines() if not l.startswith("FIXSIM_TAP fc1 3 ")),
     "other frame ids"),
])
def test_cosim_log_errors(tmp_path, spec, taps, mutate, match):
    p = tmp_path / "bad.log"
    p.write_text(mutate(_log(spec, taps)))
    with pytest.raises(InputError, match=match):
        read_cosim_log(p, "x")


def test_hardware_capture_npz(tmp_path, tiny_set):
    vs = load_source(f"vectors:{tiny_set}")
    order = np.array([2, 0, 3, 1])
    p = tmp_path / "cap.npz"
    np.savez(p, outputs=vs.taps["fc2"][order], frame_ids=order,
             cycles=np.array([8100, 8050, 8200, 8000]), spec="specklenn-snl")
    assert load_source(f"hw:{p}").cycle_source == "unknown"  # no label: never "firmware"
    np.savez(p, outputs=vs.taps["fc2"][order], frame_ids=order,
             cycles=np.array([8100, 8050, 8200, 8000]), spec="specklenn-snl", cycle_source="firmware")
    hw = load_source(f"hw:{p}")
    assert hw.layer_names == ["fc2"] and hw.cycle_source == "firmware"
    c = compare(vs, hw)
    assert c.status == EQUAL and c.frames == 4 and [l.layer for l in c.layers] == ["fc2"]
    lat = hw_latency(p)
    assert (lat["p99"], lat["max"], lat["n"]) == (8200, 8200, 4)
    bad = np.array(vs.taps["fc2"][order])
    bad[1, 7] += 1
    np.savez(p, outputs=bad, frame_ids=order)
    with pytest.raises(InputError, match="give --model"):
        load_source(f"hw:{p}")
    c = compare(vs, load_source(f"hw:{p}", SourceOptions(model="specklenn-snl")))
    assert c.first_mismatch.frame == 0 and c.first_mismatch.index == 7
    np.savez(p, outputs=bad, cycles=np.array([1, 2, 3, 4]), cycle_source="model")
    with pytest.raises(InputError, match="not measured by firmware"):
        hw_latency(p)
    np.savez(p, nothing=np.zeros(3))
    with pytest.raises(InputError, match="neither 'outputs'"):
        load_source(f"hw:{p}", SourceOptions(model="specklenn-snl"))


def test_hil_report_json(tmp_path):
    rep = {"verdict": "pass", "n_frames": 16, "n_ok": 16, "failures": [], "cycle_source": "firmware",
           "clock_mhz": 200.0, "firmware_latency_cycles": {"p50": 8000.0, "p99": 8300.0,
                                                             "max": 8400.0, "n": 16}}
    p = tmp_path / "hil.json"
    p.write_text(json.dumps(rep))
    r = load_source(f"hw:{p}")
    assert r.taps == {} and r.info["hil"]["verdict"] == "pass"
    lat = hw_latency(p)
    assert (lat["p99"], lat["max"], lat["clock_mhz"]) == (8300, 8400, 200.0)
    with pytest.raises(InputError, match="without per-frame outputs .*16/16"):
        compare(load_source(f"hw:{p}"), r)
    p.write_text("{}")
    with pytest.raises(InputError, match="not a fixsim hil report"):
        load_source(f"hw:{p}")


_LINES = st.sampled_from(["FIXSIM_TAP fc2 0 ", "FIXSIM_TAP fc1 1 ", "FIXSIM_COSIM 1 spec=specklenn-snl",
                          "FIXSIM_COSIM 9", "FIXSIM_TAP", "INFO: x", "FIXSIM_TAP input 0 1 2"])


@given(st.lists(st.tuples(_LINES, st.text(alphabet="0123456789- x\t", max_size=60)), max_size=8))
def test_cosim_log_reader_fuzz_only_input_errors(tmp_path_factory, lines):
    p = tmp_path_factory.mktemp("fuzz") / "log"
    p.write_text("\n".join(a + b for a, b in lines))
    try:
        r = read_cosim_log(p, "x", "specklenn-snl")
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert r.n >= 1 and all(a.dtype == np.int64 for a in r.taps.values())


@given(cut=st.integers(1, 50 * 8 * 3 - 1))
def test_truncated_tap_files_are_input_errors(tmp_path_factory, spec, taps, cut):
    d = tmp_path_factory.mktemp("trunc")
    full = np.asarray(taps["fc2"][:3], dtype="<i8").tobytes()
    (d / "tap_fc2.bin").write_bytes(full[:cut])
    if cut % (50 * 8) == 0:
        assert read_tap_dir(d, "taps", "x", spec).n == cut // 400
    else:
        with pytest.raises(InputError, match="not a whole number"):
            read_tap_dir(d, "taps", "x", spec)
