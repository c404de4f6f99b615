"""Forged or foreign evidence never certifies the design (issue 9).

Each case gives ``certify`` evidence that is not the certified design's - another top,
clock or part, a software model's cycles, other weights, another vector set, a flipped
output bit, cycles without outputs - and asserts a FAIL whose check names the mismatch.
The legitimate cases (a report of the design's top at the budget's part and clock, a
firmware run or capture of the certified vector set) still PASS.

Most cases judge the evidence with :func:`load_evidence` and :func:`latency_and_resources`
(the part of ``certify`` that decides it, milliseconds each); two run the whole
``fixsim certify`` command end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.errors import InputError
from fixsim.hls import Budget
from fixsim.verify.certify import (FAIL, PASS, CertifyConfig, latency_and_resources,
                                   load_design, load_evidence, verdict_of)

from .conftest import FAST_REPORT

HLS_DATA = FAST_REPORT.parents[2] / "hls" / "data"
HLS4ML = HLS_DATA / "fastmachinelearning__hls4ml__myproject_csynth.xml"
COSIM = HLS_DATA / "mzrghorbani__lr_hls_dev__LR_top_cosim.rpt"  # passed, 130 cycles
#: FAST_REPORT's part and clock (200 MHz); its latency (695 cycles) is within budget.
PART = "xczu49dr-ffvf1760-2-e"
TINY = ["--n-eval", "8", "--min-accuracy", "0", "--max-gap-pp", "100", "--min-agreement", "0"]


# --------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def spec():
    from fixsim.network import load_spec

    return load_spec("specklenn-snl")


@pytest.fixture(scope="module")
def other_frames_set(tmp_path_factory, need_golden):
    """The certified design's weights, but other frames (another vector set)."""
    from fixsim.vectors import generate_vector_set

    out = tmp_path_factory.mktemp("forged") / "other_frames"
    generate_vector_set(out, model="specklenn-snl", n=4, source="simulated", seed=12,
                        weights="golden")
    return out


@pytest.fixture(scope="module")
def other_weights_image(tmp_path_factory):
    """A weight image of other (random) weights for the same spec."""
    from fixsim.network import load_spec
    from fixsim.network.weights import random_weights
    from fixsim.vectors import build_image

    spec = load_spec("specklenn-snl")
    return build_image(spec, random_weights(spec, seed=99))


def judge(tiny_set, *, part=None, clock_mhz=200.0, **evidence):
    """(verdict, checks by name, latency record) of the given evidence alone."""
    from fixsim.network import load_spec

    spec = load_spec("specklenn-snl")
    cfg = CertifyConfig(vectors=tiny_set, budget=Budget.from_time(45.0, clock_mhz=clock_mhz,
                                                                  part=part), **evidence)
    design = load_design(cfg, spec)
    record, checks = latency_and_resources(cfg, load_evidence(cfg, spec, design), design)
    return verdict_of(checks)[0], {c.name: c for c in checks}, record


def design_report(tmp_path, top="top", name="top_csynth.xml"):
    """FAST_REPORT with its top function renamed (the design's own synthesis report)."""
    p = tmp_path / name
    p.write_text(FAST_REPORT.read_text().replace("<TopModelName>myproject</TopModelName>",
                                                 f"<TopModelName>{top}</TopModelName>"))
    return p


class Flip:
    """A device model that flips bit 0 of output word ``index`` of frame ``frame``."""

    def __init__(self, model, frame: int, index: int = 3):
        self.model, self.frame, self.index, self.calls = model, frame, index, 0

    def __call__(self, words):
        out, cycles = self.model(words)
        if self.calls == self.frame:
            out = np.array(out, copy=True)
            out[self.index] ^= 1
        self.calls += 1
        return out, cycles

    def load_weights(self, image):
        getattr(self.model, "load_weights", lambda _: None)(image)


def hil_report(path, vectors, *, cycle_source="firmware", device="replay", weights=None,
               flip=None, declare=None, cycles=8000):
    """Run ``vectors`` over TCP against a served device and write the report as
    ``fixsim hil run --out`` does.  The server declares ``cycle_source`` in its hello."""
    from fixsim.hil.device import ConstantLatency, ReplayModel
    from fixsim.hil.run import report_document, run_vectors
    from fixsim.hil.server import DeviceServer
    from fixsim.hil.tcp import TcpBackend
    from fixsim.hil.vectors import read_vector_set
    from fixsim.vectors.device import NetworkDevice

    vs = read_vector_set(vectors)
    lat = ConstantLatency(cycles, 0, 0)
    model = (ReplayModel(vs.inputs, vs.expected, lat) if device == "replay"
             else NetworkDevice(vs.spec, cycles=lat))
    if flip is not None:
        model = Flip(model, flip)
    with DeviceServer(model, cycle_source=cycle_source) as srv:
        rep = run_vectors(TcpBackend(port=srv.address[1]), vs.inputs, vs.expected,
                          word_bytes=vs.word_bytes, weights=vs.weights if weights is None
                          else weights, cycle_source=declare, timeout=10.0)
    path.write_text(json.dumps(report_document(rep, vs, vectors), indent=2))
    return path


def capture(path, tiny_set, **arrays):
    np.savez(path, **arrays)
    return path


def expected_outputs(tiny_set):
    from fixsim.vectors import load_vector_set

    return np.asarray(load_vector_set(tiny_set).outputs)


def failed(checks) -> dict:
    return {n: c.detail for n, c in checks.items() if c.status == FAIL}


# --------------------------------------------------------------------------- synthesis, cosim

def test_a_foreign_hls4ml_report_with_part_none_fails_end_to_end(tmp_path, tiny_set, need_gxx,
                                                                  need_golden, capsys):
    """Issue 9, case 1: an unrelated hls4ml csynth.xml passed with --part none."""
    out = tmp_path / "cert"
    code = main(["certify", "--vectors", str(tiny_set), "--out", str(out), "--quiet", *TINY,
                 "--report", str(HLS4ML), "--part", "none"])
    cert = json.loads((out / "certificate.json").read_text())
    checks = {c["name"]: c for c in cert["checks"]}
    assert code == 1 and cert["verdict"] == "FAIL"
    assert checks["synth_top"]["status"] == FAIL
    assert "'myproject' is not the design's top 'top'" in checks["synth_top"]["detail"]
    assert checks["latency"]["status"] != PASS  # the foreign 10 cycles certify nothing
    ev = cert["evidence"][0]
    assert (ev["kind"], ev["top"], ev["part"], ev["clock_mhz"]) == (
        "csynth.xml", "myproject", "xc7z020-clg400-1", 200.0)
    import hashlib
    assert ev["sha256"] == hashlib.sha256(HLS4ML.read_bytes()).hexdigest()
    # the certificate says what was certified
    d = cert["design"]
    assert d["top"] == {"names": ["top", "specklenn_snl::top"], "from": "rtl codegen naming"}
    assert len(d["weight_image_sha256"]) == 64 and len(d["vector_set"]["manifest_sha256"]) == 64
    assert len(d["rtl_sources"]["sha256"]) == 64 and "fixsim_conv2d.h" in d["rtl_sources"]["files"]
    assert "specklenn_snl_top.cpp" in d["rtl_sources"]["files"]
    assert cert["fixsim_version"] and "fixsim_git" in cert
    md = (out / "certificate.md").read_text()
    assert "## Evidence" in md and "myproject" in md


def test_a_foreign_top_fails_whatever_the_part(tiny_set, need_golden):
    for part in (None, "xc7z020-clg400-1"):
        verdict, checks, _ = judge(tiny_set, part=part, report=HLS4ML)
        assert verdict == "FAIL" and checks["synth_top"].status == FAIL
        assert "latency" not in failed(checks) and "resource_LUT" not in checks


def test_an_explicit_top_is_the_design_top_and_is_recorded(tmp_path, tiny_set, need_golden):
    verdict, checks, _ = judge(tiny_set, part=None, report=HLS4ML, top="myproject")
    assert checks["synth_top"].status == PASS and "from --top (user)" in checks["synth_top"].detail
    assert verdict == "PASS"
    _, checks, _ = judge(tiny_set, part=None, report=design_report(tmp_path), top="other")
    assert checks["synth_top"].status == FAIL  # --top replaces the derived name


def test_the_design_report_at_the_budget_part_and_clock_passes(tmp_path, tiny_set, need_golden):
    rep = design_report(tmp_path)
    verdict, checks, record = judge(tiny_set, part=PART, report=rep)
    assert verdict == "PASS", failed(checks)
    assert checks["synth_top"].status == PASS and checks["part"].status == PASS
    assert checks["target_clock"].status == PASS and checks["latency"].measured == 695
    ev = record["evidence"][0]
    assert (ev["top"], ev["part"], ev["clock_mhz"]) == ("top", PART, 200.0)
    # the qualified name a `set_top specklenn_snl::top` gives is the design's top too
    verdict, checks, _ = judge(tiny_set, part=PART, report=design_report(
        tmp_path, "specklenn_snl::top", "q_csynth.xml"))
    assert verdict == "PASS", failed(checks)


@pytest.mark.parametrize("budget,check,words", [
    ({"part": PART, "clock_mhz": 250.0}, "target_clock", "5 ns differs from the budget clock 4 ns"),
    ({"part": "xcvu9p-flga2104-2-e"}, "part", f"report part {PART} is not the budget part"),
])
def test_a_report_at_another_clock_or_part_fails(tmp_path, tiny_set, need_golden, budget,
                                                 check, words):
    verdict, checks, _ = judge(tiny_set, report=design_report(tmp_path), **budget)
    assert verdict == "FAIL" and checks[check].status == FAIL and words in checks[check].detail
    assert checks["synth_top"].status == PASS


def test_a_cosim_report_of_another_top_fails(tmp_path, tiny_set, need_golden):
    other = tmp_path / "myproject_cosim.rpt"
    other.write_text(COSIM.read_text())
    verdict, checks, record = judge(tiny_set, part=None, cosim=other)
    assert verdict == "FAIL" and checks["cosim_top"].status == FAIL
    assert "'myproject' is not the design's top" in checks["cosim_top"].detail
    assert "cosim_latency" not in checks
    assert record["evidence"][0]["kind"] == "cosim.rpt"
    ours = tmp_path / "top_cosim.rpt"
    ours.write_text(COSIM.read_text())
    verdict, checks, _ = judge(tiny_set, part=None, cosim=ours)
    assert checks["cosim_top"].status == PASS and checks["cosim_latency"].status == PASS
    assert verdict == "PASS", failed(checks)


# --------------------------------------------------------------------------- HIL reports

def test_hil_serve_model_cycles_over_tcp_fail(tmp_path, tiny_set, need_golden):
    """Issue 9, case 2: `fixsim hil serve` + `hil run --backend tcp` labelled a model's
    cycles "firmware"; the server now declares "model" and certify refuses them."""
    proc = subprocess.Popen([sys.executable, "-m", "fixsim.cli.main", "hil", "serve", "--vectors",
                             str(tiny_set), "--device", "replay", "--duration", "120"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line, line
        port = line.strip().rsplit(":", 1)[1]
        rep = tmp_path / "r.json"
        assert main(["hil", "run", "--backend", "tcp", "--vectors", str(tiny_set), "--port", port,
                     "--out", str(rep)]) == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    doc = json.loads(rep.read_text())
    assert (doc["cycle_source"], doc["cycle_source_declared_by"]) == ("model", "server")
    assert doc["backend"]["name"] == "tcp" and doc["n_frames"] == 4
    verdict, checks, _ = judge(tiny_set, hw=rep)
    assert verdict == "FAIL" and set(failed(checks)) == {"hw_cycle_source"}
    assert "'model' (declared by server)" in checks["hw_cycle_source"].detail
    assert "hw_max" not in checks


def test_a_firmware_hil_run_of_the_certified_set_passes(tmp_path, tiny_set, need_golden):
    rep = hil_report(tmp_path / "r.json", tiny_set)
    verdict, checks, record = judge(tiny_set, hw=rep)
    assert verdict == "PASS", failed(checks)
    assert checks["hw_bound"].status == PASS and checks["hw_max"].measured == 8000
    ev = record["evidence"][0]
    assert (ev["kind"], ev["backend"], ev["cycle_source"], ev["cycle_source_declared_by"]) == (
        "hil-report", "tcp", "firmware", "server")


def test_a_user_declares_a_silent_device_as_hardware(tmp_path, tiny_set, need_golden):
    rep = hil_report(tmp_path / "r.json", tiny_set, cycle_source="unknown")
    verdict, checks, _ = judge(tiny_set, hw=rep)
    assert verdict == "FAIL" and "'unknown'" in checks["hw_cycle_source"].detail
    rep = hil_report(tmp_path / "r2.json", tiny_set, cycle_source="unknown", declare="firmware")
    assert json.loads(rep.read_text())["cycle_source_declared_by"] == "user"
    verdict, checks, record = judge(tiny_set, hw=rep)
    assert verdict == "PASS", failed(checks)
    assert record["evidence"][0]["cycle_source_declared_by"] == "user"
    with pytest.raises(InputError, match="reports 'model'"):  # a model cannot be declared hardware
        hil_report(tmp_path / "r3.json", tiny_set, cycle_source="model", declare="firmware")


def test_a_hil_report_of_other_weights_fails(tmp_path, tiny_set, need_golden,
                                             other_weights_image):
    """Issue 9, case 3: the device computed with another weight image."""
    rep = hil_report(tmp_path / "r.json", tiny_set, device="network", weights=other_weights_image)
    verdict, checks, _ = judge(tiny_set, hw=rep)
    bad = failed(checks)
    assert verdict == "FAIL" and "hw_weights" in bad and "hw_vector_set" not in bad
    assert "loaded weight image sha256" in bad["hw_weights"]
    assert "hw_outputs" in bad  # and its outputs are not the certified ones


def test_a_hil_report_with_one_flipped_bit_fails(tmp_path, tiny_set, need_golden):
    rep = hil_report(tmp_path / "r.json", tiny_set, flip=2)
    doc = json.loads(rep.read_text())
    assert doc["verdict"] == "fail" and doc["mismatches"][0]["frame_id"] == 2
    verdict, checks, _ = judge(tiny_set, hw=rep)
    bad = failed(checks)
    assert verdict == "FAIL" and {"hw_run", "hw_outputs", "hw_frames"} <= set(bad)
    assert "not bit-exact" in bad["hw_run"]
    # the same report edited to claim a pass still carries the outputs it got
    doc.update(verdict="pass", failures=[], mismatches=[], n_ok=4)
    doc["outputs_sha256"] = "0" * 64
    rep.write_text(json.dumps(doc))
    verdict, checks, _ = judge(tiny_set, hw=rep)
    assert verdict == "FAIL" and set(failed(checks)) == {"hw_outputs"}


def test_a_hil_report_of_another_vector_set_fails(tmp_path, tiny_set, other_frames_set):
    rep = hil_report(tmp_path / "r.json", other_frames_set)
    verdict, checks, _ = judge(tiny_set, hw=rep)
    bad = failed(checks)
    assert verdict == "FAIL" and "hw_vector_set" in bad and "hw_weights" not in bad
    assert "manifest sha256" in bad["hw_vector_set"] and "hw_outputs" in bad


def test_a_hil_report_at_another_clock_or_with_too_few_frames_fails(tmp_path, tiny_set,
                                                                     need_golden):
    doc = json.loads(hil_report(tmp_path / "r.json", tiny_set).read_text())
    for change, name in (({"clock_mhz": 250.0}, "hw_clock"), ({"n_frames": 2, "n_ok": 2}, "hw_frames"),
                         ({"weights_sha256": None}, "hw_weights"),
                         ({"vector_set": {}, "sha256": {}}, "hw_vector_set"),
                         ({"cycle_source": "FIRMWARE!"}, "hw_cycle_source")):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({**doc, **change}))
        verdict, checks, _ = judge(tiny_set, hw=p)
        assert verdict == "FAIL" and set(failed(checks)) == {name}, (name, failed(checks))


# --------------------------------------------------------------------------- captures

def test_a_capture_of_cycles_only_fails(tmp_path, tiny_set, need_golden):
    """Issue 9, case 4: an .npz with only cycles=[100] passed."""
    cap = capture(tmp_path / "c.npz", tiny_set, cycles=np.array([100]))
    verdict, checks, _ = judge(tiny_set, hw=cap)
    bad = failed(checks)
    assert verdict == "FAIL" and {"hw_outputs", "hw_cycle_source"} <= set(bad)
    assert "holds no outputs" in bad["hw_outputs"] and "'unknown'" in bad["hw_cycle_source"]
    assert "hw_max" not in checks


def test_a_firmware_capture_with_the_expected_outputs_passes(tmp_path, tiny_set, need_golden):
    want = expected_outputs(tiny_set)
    order = np.array([2, 0, 3, 1])
    cap = capture(tmp_path / "c.npz", tiny_set, outputs=want[order], frame_ids=order,
                  cycles=np.array([8100, 8050, 8200, 8000]), cycle_source="firmware",
                  spec="specklenn-snl")
    verdict, checks, record = judge(tiny_set, hw=cap)
    assert verdict == "PASS", failed(checks)
    assert checks["hw_max"].measured == 8200 and record["evidence"][0]["kind"] == "hw-capture"


@pytest.mark.parametrize("forge,name,words", [
    (lambda w: {"outputs": w, "cycles": np.full(len(w), 8000)}, "hw_cycle_source", "'unknown'"),
    (lambda w: {"outputs": w, "cycles": np.full(len(w), 8000), "cycle_source": "model"},
     "hw_cycle_source", "'model'"),
    (lambda w: {"outputs": w[:2], "cycles": np.full(4, 8000), "cycle_source": "firmware"},
     "hw_frames", "cycle counts for 4 frames but outputs for 2"),
    (lambda w: {"outputs": _flip(w), "cycles": np.full(len(w), 8000), "cycle_source": "firmware"},
     "hw_outputs", "1 of 4 captured frames differ"),
    (lambda w: {"outputs": w, "frame_ids": np.array([0, 1, 2, 7]), "cycles": np.full(4, 8000),
                "cycle_source": "firmware"}, "hw_frames", "not all frames of the certified"),
    (lambda w: {"outputs": w, "cycles": np.full(len(w), 8000), "cycle_source": "firmware",
                "weights_sha256": "ab" * 32}, "hw_weights", "weight image sha256"),
])
def test_forged_captures_fail(tmp_path, tiny_set, need_golden, forge, name, words):
    cap = capture(tmp_path / "c.npz", tiny_set, **forge(expected_outputs(tiny_set)))
    verdict, checks, _ = judge(tiny_set, hw=cap)
    bad = failed(checks)
    assert verdict == "FAIL" and set(bad) == {name} and words in bad[name], bad


def _flip(w):
    w = np.array(w, copy=True)
    w.reshape(len(w), -1)[1, 5] ^= 1
    return w


def test_raw_values_out_of_range_are_refused(tmp_path, tiny_set, need_golden, spec):
    w = np.array(expected_outputs(tiny_set), dtype=np.int64)
    w.reshape(len(w), -1)[0, 0] = spec.layers[-1].out_format.raw_max + 1
    cap = capture(tmp_path / "c.npz", tiny_set, outputs=w, cycles=np.full(4, 8000),
                  cycle_source="firmware")
    with pytest.raises(InputError, match="outside ap_"):
        judge(tiny_set, hw=cap)


def test_a_firmware_capture_certifies_end_to_end(tmp_path, tiny_set, need_gxx, need_golden):
    cap = capture(tmp_path / "c.npz", tiny_set, outputs=expected_outputs(tiny_set),
                  cycles=np.array([8950, 8990, 9000, 8999]), cycle_source="firmware")
    out = tmp_path / "cert"
    code = main(["certify", "--vectors", str(tiny_set), "--out", str(out), "--quiet", *TINY,
                 "--hw", str(cap)])
    cert = json.loads((out / "certificate.json").read_text())
    assert code == 0 and cert["verdict"] == "PASS", cert["reasons"]
    ev = cert["evidence"][0]
    assert ev["kind"] == "hw-capture" and ev["cycle_source"] == "firmware" and len(ev["sha256"]) == 64


# --------------------------------------------------------------------------- hostile evidence

@pytest.mark.parametrize("doc", [
    {"verdict": "pass", "n_frames": 4},
    {"verdict": "pass", "n_frames": "4", "n_ok": 4.0, "failures": "none", "backend": "x",
     "vector_set": [], "sha256": None, "clock_mhz": "200", "cycle_source": ["firmware"],
     "firmware_latency_cycles": {"p99": "1", "max": None}},
    {"verdict": None, "n_frames": True, "failures": [None], "firmware_latency_cycles": []},
])
def test_malformed_hil_report_fields_fail_never_crash(tmp_path, tiny_set, need_golden, doc):
    p = tmp_path / "r.json"
    p.write_text(json.dumps(doc))
    verdict, checks, _ = judge(tiny_set, hw=p)
    bad = failed(checks)
    assert verdict == "FAIL" and {"hw_cycle_source", "hw_vector_set", "hw_weights"} <= set(bad)
    assert "hw_max" not in checks


@pytest.mark.parametrize("arrays,match", [
    ({"outputs": np.zeros((4, 50))}, "no 'cycles'"),
    ({"cycles": np.array([[1, 2]])}, "no 'cycles'"),
    ({"cycles": np.array([-5])}, "negative cycle count"),
    ({"cycles": np.array([1]), "outputs": np.zeros((1, 50), np.float32)}, "raw integers"),
    ({"cycles": np.array([1]), "outputs": np.zeros((1, 49), np.int64)}, "expected \\(N, 50\\)"),
    ({"cycles": np.array([1]), "outputs": np.zeros((1, 50), np.int64),
      "frame_ids": np.array([0.5])}, "frame_ids must be"),
])
def test_malformed_captures_are_input_errors(tmp_path, tiny_set, need_golden, arrays, match):
    cap = capture(tmp_path / "c.npz", tiny_set, **arrays)
    with pytest.raises(InputError, match=match):
        judge(tiny_set, hw=cap)


def test_git_commit_and_relative_paths(tmp_path, monkeypatch):
    from fixsim.verify import provenance

    info = provenance.git_commit()
    assert info is None or len(info["commit"]) == 40
    monkeypatch.setattr(provenance.shutil, "which", lambda name: None)
    assert provenance.git_commit() is None  # no git: recorded as null, never a failure
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    assert provenance.relative_path(tmp_path / "sub" / "f.json") == "sub/f.json"
    assert provenance.relative_path("/nonexistent/x") == "/nonexistent/x"
