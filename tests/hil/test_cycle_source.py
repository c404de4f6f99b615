"""Where cycle counts come from: only firmware backends, a server's hello or the user say
"firmware"; software models say "model"; anything missing or unknown is "unknown"."""

from __future__ import annotations

import hashlib
import json
import socket
import threading

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.hil import frame as fr
from fixsim.hil.backend import Backend, backend_class, cycle_source_label, make_backend
from fixsim.hil.errors import InputError
from fixsim.hil.run import outputs_sha256, run_vectors
from fixsim.hil.server import DeviceServer
from fixsim.hil.tcp import PREFIX, hello_message, parse_hello

from hil_helpers import DotModel, write_vector_set


def test_backend_classes_declare_their_source():
    assert Backend.cycle_source == "unknown"  # a new backend never claims firmware by default
    assert backend_class("xdma").cycle_source == "firmware"
    assert backend_class("rogue").cycle_source == "firmware"
    assert backend_class("loopback").cycle_source == "model"
    assert backend_class("csim").cycle_source == "model"
    assert make_backend("tcp", port=1).cycle_source == "unknown"  # until the server says
    for garbage in (None, "", "Firmware", "hardware", 3, ["firmware"]):
        assert cycle_source_label(garbage) == "unknown"


def test_hello_round_trip():
    for label in ("firmware", "model", "unknown"):
        assert parse_hello(hello_message(label)) == label
    assert parse_hello(b"FXHELLO1" + b'{"cycle_source": "quantum"}') == "unknown"
    assert parse_hello(b"FXHELLO1" + b"\xff garbage") == "unknown"
    assert parse_hello(b"FXSH....") is None and parse_hello(None) is None
    with pytest.raises(InputError, match="cycle_source"):
        DeviceServer(DotModel(), cycle_source="hardware")


@pytest.mark.parametrize("declared", ["model", "firmware", "unknown"])
def test_tcp_reports_what_the_server_declares(demo_vectors, declared):
    x, y = demo_vectors
    with DeviceServer(DotModel(cycles=50), cycle_source=declared) as srv:
        rep = run_vectors(make_backend("tcp", port=srv.address[1]), x[:4], y[:4], word_bytes=2)
    assert rep.passed and rep.cycle_source == declared
    assert rep.cycle_source_declared_by == "server"
    assert rep.backend["cycle_source"] == declared
    assert rep.outputs_sha256 == rep.expected_sha256 == outputs_sha256(y[:4])


def _silent_server(reply_first: bool):
    """A TCP peer that speaks the frame protocol but sends no hello (one connection)."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)

    def serve():
        conn, _ = lst.accept()
        if reply_first:  # a device that talks first, without a hello
            data = fr.encode(fr.error_frame(7, fr.ERR_INTERNAL, "booted"))
            conn.sendall(PREFIX.pack(len(data)) + data)
        conn.recv(1)  # wait until the client goes away
        conn.close()
        lst.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return lst.getsockname()[1], t


@pytest.mark.parametrize("reply_first", [False, True])
def test_a_server_without_hello_is_unknown(reply_first):
    port, t = _silent_server(reply_first)
    b = make_backend("tcp", port=port, hello_timeout=0.2)
    b.open()
    try:
        assert (b.cycle_source, b.cycle_source_declared_by) == ("unknown", "nobody")
        replies = b.collect(0.0)
        assert [(r.kind, r.frame_id) for r in replies] == ([("device_error", 7)] if reply_first
                                                          else [])
    finally:
        b.close()
        t.join(timeout=5)


def test_user_declaration_only_for_unknown(demo_vectors):
    x, y = demo_vectors
    with DeviceServer(DotModel(), cycle_source="unknown") as srv:
        rep = run_vectors(make_backend("tcp", port=srv.address[1]), x[:2], y[:2], word_bytes=2,
                          cycle_source="firmware")
    assert (rep.cycle_source, rep.cycle_source_declared_by) == ("firmware", "user")
    with DeviceServer(DotModel()) as srv:  # declares "model"
        b = make_backend("tcp", port=srv.address[1])
        with pytest.raises(InputError, match="reports 'model' cycle counts"):
            run_vectors(b, x[:2], y[:2], word_bytes=2, cycle_source="firmware")
        assert not b.is_open
    with pytest.raises(InputError, match="reports 'model'"):
        run_vectors(make_backend("loopback", model=DotModel()), x[:2], y[:2], word_bytes=2,
                    cycle_source="firmware")
    with pytest.raises(InputError, match="cycle source 'hardware'"):
        run_vectors(make_backend("loopback", model=DotModel()), x[:2], y[:2], cycle_source="hardware")


def test_report_names_what_ran(tmp_path, demo_vectors, capsys):
    x, y = demo_vectors
    w = np.arange(32, dtype="<i2").tobytes()  # a (4, 8) int16 matrix, not the demo one
    d = write_vector_set(tmp_path / "vs", x[:4], y[:4], word_bytes=2)
    with DeviceServer(DotModel(), cycle_source="unknown") as srv:
        out = tmp_path / "r.json"
        assert main(["hil", "run", "--backend", "tcp", "--port", str(srv.address[1]), "--vectors",
                     str(d), "--out", str(out), "--cycle-source", "firmware"]) == 0
    doc = json.loads(out.read_text())
    assert doc["format"] == "fixsim-hil-report/2"
    assert (doc["cycle_source"], doc["cycle_source_declared_by"]) == ("firmware", "user")
    assert doc["vector_set"]["n_frames"] == 4 and doc["n_frames"] == 4
    assert doc["vector_set"]["manifest_sha256"] == doc["sha256"]["manifest.json"]
    assert doc["weights_sha256"] is None  # the set has no weight image
    assert doc["outputs_sha256"] == outputs_sha256(y[:4]) and doc["backend"]["name"] == "tcp"
    # other weights: the report names the image it loaded and the (other) outputs it got
    rep = run_vectors(make_backend("loopback", model=DotModel()), x[:4], y[:4], weights=w)
    assert rep.weights_sha256 == hashlib.sha256(w).hexdigest() and rep.cycle_source == "model"
    assert not rep.passed and rep.mismatches
    assert rep.outputs_sha256 is not None and rep.outputs_sha256 != rep.expected_sha256


def test_xdma_on_simulated_files_is_not_firmware(tmp_path, demo_vectors):
    """Regular files standing in for /dev/xdma0_* are a simulation: 'unknown', not 'firmware'."""
    from fixsim.hil.xdma_card import SimulatedXdmaCard

    x, y = demo_vectors
    with SimulatedXdmaCard(tmp_path, DotModel(cycles=99)):
        rep = run_vectors(make_backend("xdma", device_dir=tmp_path, poll_s=1e-4), x[:2], y[:2],
                          word_bytes=2)
    assert rep.passed and (rep.cycle_source, rep.cycle_source_declared_by) == ("unknown", "backend")
