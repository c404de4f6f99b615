"""``fixsim certify``: verdict logic, certificate content, evidence that flips the verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.verify.certify import FAIL, NOT_MEASURED, PASS, CertifyConfig, Check, certify, verdict_of

from .conftest import FAST_REPORT, SLOW_REPORT

#: Small and lenient on accuracy (8 frames say little); each test states what it checks.
TINY = ["--n-eval", "8", "--min-accuracy", "0", "--max-gap-pp", "100", "--min-agreement", "0"]


def _check(status, required=True):
    return Check("s", f"c_{status}", status, 1, 1, "d", required)


def test_verdict_logic():
    assert verdict_of([_check(PASS), _check(PASS)])[0] == "PASS"
    assert verdict_of([_check(PASS), _check(NOT_MEASURED)])[0] == "INCOMPLETE"
    assert verdict_of([_check(PASS), _check(NOT_MEASURED, required=False)])[0] == "PASS"
    assert verdict_of([_check(FAIL), _check(NOT_MEASURED)])[0] == "FAIL"
    v, reasons = verdict_of([_check(FAIL), _check(NOT_MEASURED)])
    assert reasons[0].startswith("FAIL c_fail") and reasons[1].startswith("NOT MEASURED")


def _run(tmp_path, tiny_set, *extra, name="cert"):
    out = tmp_path / name
    code = main(["certify", "--vectors", str(tiny_set), "--out", str(out), *TINY, *extra])
    cert = json.loads((out / "certificate.json").read_text()) if out.is_dir() else None
    return code, cert, out


def _by_name(cert):
    return {c["name"]: c for c in cert["checks"]}


def test_without_latency_evidence_it_is_incomplete(tmp_path, tiny_set, need_gxx, need_golden,
                                                    capsys):
    code, cert, out = _run(tmp_path, tiny_set)
    assert code == 1 and cert["verdict"] == "INCOMPLETE"
    checks = _by_name(cert)
    assert checks["latency"]["status"] == NOT_MEASURED and checks["latency"]["threshold"] == 9000
    for name in ("vectors_vs_fixsim", "fixsim_vs_csim", "fixsim_vs_csim_held_out"):
        assert checks[name]["status"] == PASS and checks[name]["measured"] == 0
    assert "NOT a measurement" in cert["latency"]["prediction"]["note"]
    # provenance
    assert cert["seeds"]["held_out"] == 2026 and cert["accuracy"]["held_out"]["n"] == 8
    assert len(cert["design"]["golden"]["manifest_sha256"]) == 64
    assert len(cert["bit_exactness"]["vector_set"]["manifest_sha256"]) == 64
    assert cert["tools"]["g++"] and cert["fixsim_version"] and cert["created_utc"]
    for c in cert["checks"]:
        assert {"threshold", "measured", "status", "detail"} <= set(c)
    md = (out / "certificate.md").read_text()
    assert md.startswith("# fixsim certificate: INCOMPLETE") and "| latency | latency |" in md
    assert "INCOMPLETE" in capsys.readouterr().out


def test_hardware_cycles_within_budget_pass(tmp_path, tiny_set, need_gxx, need_golden):
    from fixsim.vectors import load_vector_set

    out = np.asarray(load_vector_set(tiny_set).outputs)  # latency only with bit-exact outputs
    cap = tmp_path / "hw.npz"
    np.savez(cap, outputs=out, cycles=np.array([8950, 8990, 9000, 8999]), cycle_source="firmware")
    code, cert, _ = _run(tmp_path, tiny_set, "--hw", str(cap))
    assert code == 0 and cert["verdict"] == "PASS", cert["reasons"]
    assert _by_name(cert)["hw_max"]["measured"] == 9000
    np.savez(cap, outputs=out[:2], cycles=np.array([8950, 9001]), cycle_source="firmware")
    code, cert, _ = _run(tmp_path, tiny_set, "--hw", str(cap), name="slow_hw")
    assert code == 1 and cert["verdict"] == "FAIL"
    assert _by_name(cert)["hw_max"]["status"] == FAIL


def test_reports_decide_latency_and_resources(tmp_path, tiny_set, need_gxx, need_golden):
    # --top: these foreign reports stand in for the design's own (recorded as declared)
    code, cert, _ = _run(tmp_path, tiny_set, "--report", str(SLOW_REPORT), "--top", "gaussian")
    assert code == 1 and cert["verdict"] == "FAIL"
    assert _by_name(cert)["latency"]["measured"] == 262673 * 2  # 10 ns clock -> 5 ns cycles
    code, cert, _ = _run(tmp_path, tiny_set, "--report", str(FAST_REPORT), "--part", "none",
                         "--top", "myproject", name="fast")
    assert code == 0 and cert["verdict"] == "PASS", cert["reasons"]
    assert _by_name(cert)["resource_LUT"]["status"] == PASS
    code, cert, _ = _run(tmp_path, tiny_set, "--report", str(FAST_REPORT), "--part", "none",
                         "--top", "myproject", "--max-util", "50", name="lut")
    assert code == 1 and _by_name(cert)["resource_LUT"]["status"] == FAIL  # 79.7% of the LUTs


def test_a_corrupted_csim_tap_fails_bit_exactness(tiny_set, need_gxx, need_golden):
    from fixsim.csim import twin

    def corrupt(spec, weights, x):
        taps = twin.run(spec, weights, x)
        taps["conv2"][len(x) - 1, 2, 5, 6] += 1
        return taps

    cfg = CertifyConfig(vectors=tiny_set, n_eval=8, min_accuracy=0, max_gap_pp=100,
                        min_agreement=0)
    cert = certify(cfg, csim_run=corrupt)
    checks = _by_name(cert)
    assert cert["verdict"] == "FAIL"
    assert checks["vectors_vs_fixsim"]["status"] == PASS
    assert checks["fixsim_vs_csim"]["status"] == FAIL and checks["fixsim_vs_csim"]["measured"] == 1
    assert "frame 3 layer conv2 index" in checks["fixsim_vs_csim"]["detail"]
    assert checks["fixsim_vs_csim_held_out"]["status"] == FAIL


def test_default_thresholds_on_the_golden_design(tmp_path, tiny_set, need_gxx, need_golden):
    """The golden model meets the issue's accuracy targets through both datapaths."""
    out = tmp_path / "c"
    code = main(["certify", "--vectors", str(tiny_set), "--out", str(out), "--n-eval", "100"])
    cert = json.loads((out / "certificate.json").read_text())
    acc = cert["accuracy"]
    assert code == 1 and cert["verdict"] == "INCOMPLETE", cert["reasons"]  # latency only
    assert acc["float"]["overall"] >= 0.9 and acc["fixed"]["overall"] >= 0.9
    assert set(acc["float"]["per_class"]) == {"single_hit", "multi_hit", "no_hit", "non_sample_hit"}
    assert acc["gap_pp"] <= 1.0 and acc["same_decision"] >= 0.99


@pytest.mark.parametrize("extra,match", [
    (["--seed", "1"], "golden model's own data"),
    (["--seed", "-3"], "seed must be"),
    (["--report", "/nonexistent.xml"], "/nonexistent.xml"),
    (["--n-eval", "0"], "positive"),
    (["--min-accuracy", "1.5"], "[0, 1]"),
])
def test_bad_input_exit_2_and_nothing_written(tmp_path, tiny_set, need_golden, extra, match,
                                              capsys):
    out = tmp_path / "cert"
    out.mkdir()
    (out / "certificate.json").write_text("old")
    # --force: replacing the certificate is allowed, so the bad input alone must stop it
    args = ["certify", "--vectors", str(tiny_set), "--out", str(out), "--force"] + TINY + extra
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and match in err[-1]
    assert [p.name for p in out.iterdir()] == ["certificate.json"]
    assert (out / "certificate.json").read_text() == "old"


def test_modelled_hardware_cycles_are_refused(tmp_path, tiny_set, need_gxx, need_golden, capsys):
    rep = tmp_path / "hil.json"
    rep.write_text(json.dumps({"verdict": "pass", "n_frames": 4, "cycle_source": "model",
                               "clock_mhz": 200.0,
                               "firmware_latency_cycles": {"p99": 10, "max": 10, "n": 4}}))
    f = tmp_path / "out_is_a_file"
    f.write_text("x")
    assert main(["certify", "--vectors", str(tiny_set), "--out", str(f)] + TINY) == 2
    assert "not a directory" in capsys.readouterr().err
    # modelled cycles are evidence of nothing: a FAIL naming the cycle source
    assert main(["certify", "--vectors", str(tiny_set), "--hw", str(rep), "--out",
                 str(tmp_path / "c")] + TINY) == 1
    cert = json.loads((tmp_path / "c" / "certificate.json").read_text())
    assert cert["verdict"] == "FAIL" and _by_name(cert)["hw_cycle_source"]["status"] == FAIL
    assert "'model'" in _by_name(cert)["hw_cycle_source"]["detail"]
