"""The in-process devices compute: a fixsim vector set runs through fixsim.network.run.

``--device network`` (the default for fixsim vector sets) loads the weight image the run
sends and computes every frame, so an expected output that is wrong fails on exactly its
frame; ``--device replay`` answers with the expected outputs and cannot notice.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.hil.device import ConstantLatency
from fixsim.hil.loopback import LoopbackBackend
from fixsim.hil.run import run_vectors
from fixsim.hil.vectors import read_vector_set
from fixsim.vectors.device import NetworkDevice

BAD_FRAME, BAD_WORD = 2, 17


def run(capsys, *argv):
    rc = main(["hil", "run", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def altered_copy(src, dst):
    """``src`` with one expected output word of the last layer changed (sha256 updated)."""
    shutil.copytree(src, dst)
    man = json.loads((dst / "manifest.json").read_text())
    entry = man["taps"][-1]
    path = dst / entry["file"]
    tap = np.fromfile(path, entry["dtype"]).reshape(entry["shape"])
    tap[BAD_FRAME, BAD_WORD] += 1
    tap.tofile(path)
    man["files"][entry["file"]] = hashlib.sha256(path.read_bytes()).hexdigest()
    (dst / "manifest.json").write_text(json.dumps(man))
    return dst


def test_loopback_network_device_computes_and_passes(capsys, fixsim_set):
    rc, out, err = run(capsys, "--backend", "loopback", "--vectors", str(fixsim_set), "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "pass" and doc["n_ok"] == 4 and doc["device"] == "network"
    assert "weights.img" in doc["sha256"]


def test_loopback_fails_on_exactly_the_altered_frame(capsys, tmp_path, fixsim_set):
    d = altered_copy(fixsim_set, tmp_path / "bad")
    rc, out, err = run(capsys, "--backend", "loopback", "--vectors", str(d), "--json")
    assert rc == 1, err
    doc = json.loads(out)
    assert doc["verdict"] == "fail" and doc["n_ok"] == 3 and doc["device"] == "network"
    assert [m["frame_id"] for m in doc["mismatches"]] == [BAD_FRAME]
    assert doc["mismatches"][0]["first"][0][0] == BAD_WORD
    # The replay model answers with the (wrong) expected outputs: it cannot notice.
    rc, out, err = run(capsys, "--backend", "loopback", "--vectors", str(d), "--device", "replay",
                       "--json")
    assert rc == 0 and json.loads(out)["device"] == "replay", err


def test_network_device_needs_the_weight_image(fixsim_set):
    vs = read_vector_set(fixsim_set)
    dev = NetworkDevice(vs.spec, cycles=ConstantLatency(7, 0, 0))
    rep = run_vectors(LoopbackBackend(dev), vs.inputs, vs.expected, word_bytes=vs.word_bytes)
    assert not rep.passed and len(rep.device_errors) == 4  # no image sent: every frame refused
    assert "no weights loaded" in rep.device_errors[0]["detail"]
    rep = run_vectors(LoopbackBackend(dev), vs.inputs, vs.expected, word_bytes=vs.word_bytes,
                      weights=vs.weights)
    assert rep.passed and rep.firmware_latency_cycles["max"] == 7


@pytest.mark.parametrize("argv, message", [
    (["--device", "netwrk"], "did you mean 'network'"),
    (["--device", "network", "--backend", "tcp", "--port", "1"], "applies to the loopback backend"),
])
def test_bad_device_options_exit_2(capsys, fixsim_set, argv, message):
    base = ["--backend", "loopback"] if "--backend" not in argv else []
    rc, _, err = run(capsys, *base, "--vectors", str(fixsim_set), *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_network_device_refuses_the_interim_layout(capsys, vector_dir):
    rc, _, err = run(capsys, "--backend", "loopback", "--vectors", str(vector_dir), "--device",
                     "network")
    assert rc == 2 and "use --device replay" in err


def test_serve_computes_for_a_fixsim_set(capsys, tmp_path, fixsim_set):
    d = altered_copy(fixsim_set, tmp_path / "bad")
    proc = subprocess.Popen([sys.executable, "-m", "fixsim.cli.main", "hil", "serve", "--vectors",
                             str(fixsim_set), "--duration", "60"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line, line
        port = line.strip().rsplit(":", 1)[1]
        rc, out, err = run(capsys, "--backend", "tcp", "--vectors", str(fixsim_set), "--port", port)
        assert rc == 0, out + err
        rc, out, err = run(capsys, "--backend", "tcp", "--vectors", str(d), "--port", port, "--json")
        assert rc == 1, err
        assert [m["frame_id"] for m in json.loads(out)["mismatches"]] == [BAD_FRAME]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
