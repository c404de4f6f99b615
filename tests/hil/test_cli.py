"""``fixsim hil run`` / ``serve``: exit codes, JSON report, vector-set validation."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.hil.server import DeviceServer
from fixsim.hil.vectors import read_vector_set
from fixsim.hil.xdma_card import SimulatedXdmaCard

from hil_helpers import DotModel, demo_reference, write_vector_set


def run(capsys, *argv):
    rc = main(["hil", "run", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_loopback_pass_json_records_provenance(capsys, vector_dir, tmp_path):
    out_file = tmp_path / "report.json"
    rc, out, err = run(capsys, "--backend", "loopback", "--vectors", str(vector_dir), "--json",
                       "--out", str(out_file), "--seed", "17")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc == json.loads(out_file.read_text())
    assert doc["verdict"] == "pass" and doc["n_ok"] == 64 and doc["seed"] == 17
    assert doc["generator"].startswith("fixsim ") and doc["fixsim_version"]
    assert set(doc["sha256"]) == {"manifest.json", "inputs.npy", "expected.npy"}
    assert doc["clock_mhz"] == 200 and doc["firmware_latency_us"]["max"] > 0


def test_loopback_faults_fail_with_exit_1(capsys, vector_dir):
    rc, out, _ = run(capsys, "--backend", "loopback", "--vectors", str(vector_dir), "--fault",
                     "drop=0.2", "--fault", "corrupt=0.2", "--seed", "3", "--timeout", "0.2")
    assert rc == 1 and "FAIL" in out and "missing" in out and "damaged frames" in out


def test_wrong_expected_fails(capsys, tmp_path, demo_vectors):
    x, y = demo_vectors
    y = y.copy()
    y[5, 1] += 1
    d = write_vector_set(tmp_path / "v", x, y, word_bytes=2)
    rc, out, _ = run(capsys, "--backend", "tcp", "--vectors", str(d), "--port", "1")
    assert rc == 2  # nothing listening on port 1: a bad-input/tool error, not a verdict
    with DeviceServer(DotModel()) as srv:
        rc, out, _ = run(capsys, "--backend", "tcp", "--vectors", str(d), "--port", str(srv.address[1]))
    assert rc == 1 and "1 results not bit-exact, first: frame 5" in out


def test_csim_via_cli_with_weights(capsys, tmp_path, demo_exe, demo_vectors):
    x, _ = demo_vectors
    w = np.random.default_rng(0).integers(-(1 << 15), 1 << 15, size=(4, 8))
    d = write_vector_set(tmp_path / "v", x, demo_reference(x, w), weights=w.astype("<i2").tobytes(),
                         word_bytes=2)
    rc, out, err = run(capsys, "--backend", "csim", "--vectors", str(d), "--exe", str(demo_exe),
                       "--base-cycles", "8990", "--max-cycles", "9003")
    assert rc == 0, out + err
    assert "model latency cycles p50 9002" in out and "budget 9003 cycles" in out


def test_xdma_via_cli_on_simulated_files(capsys, tmp_path, vector_dir):
    (tmp_path / "dev").mkdir()
    with SimulatedXdmaCard(tmp_path / "dev", DotModel()):
        rc, out, err = run(capsys, "--backend", "xdma", "--vectors", str(vector_dir),
                           "--device-dir", str(tmp_path / "dev"), "--json")
    assert rc == 0, err
    assert json.loads(out)["backend"]["device_files"]["user"].endswith("xdma0_user")


@pytest.mark.parametrize("argv, message", [
    (["--backend", "loopbak"], "did you mean 'loopback'"),
    (["--backend", "rogue"], "conda"),
    (["--backend", "xdma", "--device-dir", "/nonexistent"], "XDMA device files missing"),
    (["--backend", "tcp"], "needs --port"),
    (["--backend", "tcp", "--port", "1", "--host", "192.168.1.5"], "non-loopback"),
    (["--backend", "csim"], "needs --exe"),
    (["--backend", "loopback", "--port", "5"], "--port applies to the tcp backend"),
    (["--backend", "loopback", "--fault", "dorp=0.1"], "did you mean 'drop'"),
    (["--backend", "loopback", "--clock-mhz", "0"], "--clock-mhz"),
    (["--backend", "loopback", "--timeout", "-1"], "--timeout"),
])
def test_bad_options_exit_2_one_line(capsys, vector_dir, argv, message):
    rc, out, err = run(capsys, "--vectors", str(vector_dir), *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def _manifest(d, **man):
    d.mkdir(exist_ok=True)
    (d / "manifest.json").write_text(json.dumps(man))
    return d


@pytest.mark.parametrize("setup, message", [
    (lambda d: d.mkdir(), "no manifest.json"),
    (lambda d: (d.mkdir(), (d / "manifest.json").write_text("{nope")), "not valid JSON"),
    (lambda d: _manifest(d, inputs="x.npy"), "lacks 'expected'"),
    (lambda d: _manifest(d, inputs="../outside.npy", expected="y.npy"), "escapes the vector directory"),
    (lambda d: _manifest(d, inputs="/etc/passwd", expected="y.npy"), "escapes the vector directory"),
    (lambda d: _manifest(d, inputs="x.npy", expected="y.npy"), "not found"),
])
def test_bad_vector_sets_exit_2(capsys, tmp_path, setup, message):
    np.save(tmp_path / "outside.npy", np.zeros((2, 2), np.int64))
    d = tmp_path / "v"
    setup(d)
    rc, _, err = run(capsys, "--backend", "loopback", "--vectors", str(d))
    assert rc == 2 and message in err


def test_bad_arrays_exit_2(capsys, tmp_path):
    d = write_vector_set(tmp_path / "v", np.zeros((3, 2)), np.zeros((3, 2)))
    np.save(d / "inputs.npy", np.zeros((3, 2), np.float32))
    rc, _, err = run(capsys, "--backend", "loopback", "--vectors", str(d))
    assert rc == 2 and "raw int64" in err
    d = write_vector_set(tmp_path / "w", np.zeros((3, 2)), np.zeros((4, 2)))
    rc, _, err = run(capsys, "--backend", "loopback", "--vectors", str(d))
    assert rc == 2 and "3 input samples but 4" in err
    d = write_vector_set(tmp_path / "u", np.full((3, 2), 70000), np.zeros((3, 2)), word_bytes=2)
    rc, _, err = run(capsys, "--backend", "loopback", "--vectors", str(d))
    assert rc == 2 and "do not fit word_bytes=2" in err


def test_reader_is_one_function(vector_dir):
    vs = read_vector_set(vector_dir)
    assert vs.inputs.shape == (64, 8) and vs.word_bytes == 2 and vs.weights is None


def test_serve_subcommand_answers_a_run(tmp_path, vector_dir, capsys):
    proc = subprocess.Popen([sys.executable, "-m", "fixsim.cli.main", "hil", "serve", "--vectors",
                             str(vector_dir), "--duration", "20"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line, line
        port = line.strip().rsplit(":", 1)[1]
        rc, out, err = run(capsys, "--backend", "tcp", "--vectors", str(vector_dir), "--port", port)
        assert rc == 0, out + err
    finally:
        proc.terminate()
        proc.wait(timeout=10)
