"""``fixsim report`` and ``fixsim hls ...``: output, JSON and exit codes."""

from __future__ import annotations

import json
import shutil

import pytest

from fixsim.cli.main import main

from .conftest import DATA

XML = DATA / "SpAllen0726__HG-DREAM-Pulse-Detection-Project__myproject_csynth.xml"
COSIM_FAIL = DATA / "SpAllen0726__HG-DREAM-Pulse-Detection-Project__myproject_cosim.rpt"
REPORTS = sorted(p for p in DATA.iterdir() if p.suffix in (".xml", ".rpt"))


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("path", REPORTS, ids=[p.name for p in REPORTS])
def test_report_every_fixture(capsys, path):
    code, out, err = _run(capsys, "report", path)
    assert code == 0 and err == ""
    code, out, _ = _run(capsys, "report", path, "--json")
    assert code == 0 and json.loads(out)["kind"] in ("csynth.xml", "csynth.rpt", "cosim.rpt")


def test_report_text_has_cycles_time_clocks_and_resources(capsys):
    code, out, _ = _run(capsys, "report", XML)
    assert "worst 695 cycles = 3.475 us at 5 ns" in out
    assert "target 5 ns (200 MHz)" in out and "estimated 3.649 ns" in out
    assert "uncertainty 1.35 ns" in out
    assert "LUT" in out and "339116" in out and "425280" in out and "79.7" in out


def test_report_undef_says_unknown(capsys):
    code, out, _ = _run(capsys, "report", DATA / "SahJaiswal__MNIST_HLS__c_mnist_csynth.xml")
    assert code == 0 and "worst undef" in out and "cannot be certified" in out


def _solution(tmp_path):
    sol = tmp_path / "prj" / "solution1"
    (sol / "syn" / "report").mkdir(parents=True)
    (sol / "sim" / "report").mkdir(parents=True)
    shutil.copy(XML, sol / "syn" / "report" / "myproject_csynth.xml")
    # a submodule report next to the top one, as Vivado HLS writes
    shutil.copy(DATA / "skkwan__phase2_bjets_hls__get_discriminant_csynth.xml",
                sol / "syn" / "report" / "dense_layer_csynth.xml")
    shutil.copy(COSIM_FAIL, sol / "sim" / "report" / "myproject_cosim.rpt")
    (tmp_path / "prj" / "hls.app").write_text(
        '<project xmlns="com.autoesl.autopilot.project" name="prj" top="myproject"/>')
    return sol


def test_report_solution_and_project_dirs(capsys, tmp_path):
    sol = _solution(tmp_path)
    for where in (sol, sol.parent, tmp_path):
        code, out, _ = _run(capsys, "report", where, "--json")
        data = json.loads(out)
        assert code == 0 and data["csynth"]["top"] == "myproject"
        assert data["cosim"]["status"] == "Fail" and data["cosim"]["top"] == "myproject"


def test_report_dir_with_several_reports_needs_top(capsys, tmp_path):
    sol = _solution(tmp_path)
    (sol.parent / "hls.app").unlink()
    code, _, err = _run(capsys, "report", sol)
    assert code == 2 and "several csynth.xml reports" in err and err.count("\n") == 1
    code, out, _ = _run(capsys, "report", sol, "--top", "myproject")
    assert code == 0 and "myproject" in out


@pytest.mark.parametrize("content", [b"", b"hello world\n", b"<profile><Part>x",
                                     b"\x00\x01\x02", b"<svg></svg>"])
def test_report_bad_input_exit_2(capsys, tmp_path, content):
    path = tmp_path / "x_csynth.xml"
    path.write_bytes(content)
    code, out, err = _run(capsys, "report", path)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err


def test_report_missing_and_empty_dir(capsys, tmp_path):
    assert _run(capsys, "report", tmp_path / "nope.xml")[0] == 2
    code, _, err = _run(capsys, "report", tmp_path)
    assert code == 2 and "no HLS solution" in err


def test_predict_default_and_json(capsys):
    code, out, _ = _run(capsys, "hls", "predict")
    assert code == 0 and "budget 9000 cycles at 200 MHz: WITHIN" in out
    code, out, _ = _run(capsys, "hls", "predict", "--json")
    data = json.loads(out)
    assert data["budget_cycles"] == 9000 and data["within_budget"] is True
    assert [layer["name"] for layer in data["layers"]][0] == "conv1"


def test_predict_over_budget_exits_1(capsys):
    assert _run(capsys, "hls", "predict", "--budget-cycles", "4000")[0] == 1
    assert _run(capsys, "hls", "predict", "--input-ii", "3")[0] == 1


def test_predict_bad_layers_file_exit_2(capsys, tmp_path):
    path = tmp_path / "l.json"
    path.write_text('[{"kind": "conv", "in_shape": [4, 4, 1]}]')
    code, _, err = _run(capsys, "hls", "predict", "--layers", path)
    assert code == 2 and "unknown layer kind 'conv'" in err


def test_certify_exit_codes(capsys, tmp_path):
    code, out, _ = _run(capsys, "hls", "certify", XML, "--part", "none")
    assert code == 0 and "verdict: PASS" in out and "threshold 9000 cycles at 200 MHz" in out
    code, out, _ = _run(capsys, "hls", "certify", XML)  # not the KCU1500 part
    assert code == 1 and "is not the budget part" in out
    code, out, _ = _run(capsys, "hls", "certify", XML, COSIM_FAIL, "--part", "none")
    assert code == 1 and "co-simulation failed" in out
    code, out, _ = _run(capsys, "hls", "certify", XML, "--part", "none", "--hw-max", "9001",
                        "--json")
    assert code == 1 and json.loads(out)["status"] == "fail"
    code, out, _ = _run(capsys, "hls", "certify", XML, "--part", "none",
                        "--budget-cycles", "600")
    assert code == 1 and "695 > 600" in out
    undef = DATA / "Imam-f__RL-SOC-Tutorial-Vitis__VecDotProduct_csynth.xml"
    code, out, _ = _run(capsys, "hls", "certify", undef, "--part", "none", "--clock-mhz", "100")
    assert code == 1 and "undef" in out
    code, out, _ = _run(capsys, "hls", "certify", _solution(tmp_path), "--part", "none")
    assert code == 1 and "co-simulation failed" in out


def test_certify_usage_errors(capsys):
    assert _run(capsys, "hls", "certify", XML, "--budget-cycles", "0")[0] == 2
    assert _run(capsys, "hls", "certify", XML, "--hw-p99", "-3")[0] == 2
    assert _run(capsys, "hls", "certify", XML, XML)[0] == 2
    code, _, err = _run(capsys, "hls", "certify", XML, "--part", "xcku15")
    assert code == 2 and "xcku115" in err  # an unknown part names the closest known one
    assert _run(capsys, "hls", "certify", XML, "--part", "xcvu13p-flga2577-2-e")[0] == 1


def test_hls_without_subcommand_is_usage_error(capsys):
    assert _run(capsys, "hls")[0] == 2


def test_report_dir_falls_back_to_text_report(capsys, tmp_path):
    syn = tmp_path / "solution1" / "syn" / "report"
    syn.mkdir(parents=True)
    shutil.copy(DATA / "fastmachinelearning__hls4ml__myproject_csynth.rpt",
                syn / "myproject_csynth.rpt")
    code, out, _ = _run(capsys, "report", tmp_path, "--json")
    data = json.loads(out)
    assert code == 0 and data["csynth"]["kind"] == "csynth.rpt"
    assert data["csynth"]["latency_worst"] == 10 and data["cosim"] is None
