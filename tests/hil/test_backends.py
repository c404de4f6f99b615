"""Every backend end to end on small data, plus the registry and host restrictions."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from fixsim.errors import FixsimError, InputError
from fixsim.hil import make_backend, run_vectors
from fixsim.hil.backend import BACKENDS, backend_class
from fixsim.hil.errors import BackendUnavailable, DeviceError, HilStateError, HilTimeout
from fixsim.hil.rogue import ROGUE_HINT
from fixsim.hil.server import DeviceServer
from fixsim.hil.tcp import check_host
from fixsim.hil.xdma_card import SimulatedXdmaCard

from hil_helpers import N_IN, N_OUT, DotModel, demo_reference


def _weights(seed=5):
    w = np.random.default_rng(seed).integers(-(1 << 15), 1 << 15, size=(N_OUT, N_IN))
    return w, w.astype("<i2").tobytes()


def check_backend_end_to_end(backend, demo_vectors, cycles=None):
    """Weights load, all results bit-exact, cycle counts reported: the common contract."""
    x, y = demo_vectors
    rep = run_vectors(backend, x, y, word_bytes=2, timeout=2.0)
    assert rep.passed, rep.summary()
    assert rep.n_ok == len(x) and rep.firmware_latency_cycles["n"] == len(x)
    if cycles is not None:
        assert rep.firmware_latency_cycles["max"] == cycles
    w, image = _weights()
    with backend:  # one session: the loaded weights stay in the device
        rep = run_vectors(backend, x, demo_reference(x, w), word_bytes=2, timeout=2.0, weights=image)
        assert rep.passed, rep.summary()
        # With the new weights the old expected outputs must now fail: the check has teeth.
        rep = run_vectors(backend, x, y, word_bytes=2, timeout=2.0)
        assert not rep.passed and len(rep.mismatches) > 0
        assert rep.n_ok + len(rep.mismatches) == len(x) and "not bit-exact" in rep.summary()
    assert not backend.is_open
    return rep


def test_registry_unknown_name_lists_choices_and_closest():
    with pytest.raises(InputError, match=r"did you mean 'csim'.*choices: csim, loopback, rogue, tcp, xdma"):
        backend_class("cism")
    assert set(BACKENDS) == {"loopback", "tcp", "csim", "xdma", "rogue"}
    with pytest.raises(InputError, match="unexpected keyword"):
        make_backend("loopback", model=DotModel(), nonsense=1)


def test_loopback_end_to_end(demo_vectors):
    check_backend_end_to_end(make_backend("loopback", model=DotModel(cycles=77)), demo_vectors, 77)


def test_tcp_end_to_end(demo_vectors):
    with DeviceServer(DotModel(cycles=88)) as srv:
        host, port = srv.address
        assert host == "127.0.0.1"
        check_backend_end_to_end(make_backend("tcp", port=port), demo_vectors, 88)
    assert srv.errors == []


def test_tcp_refuses_non_loopback_hosts():
    for bad in ("10.0.0.1", "example.org", "0.0.0.0"):
        with pytest.raises(InputError, match="non-loopback"):
            make_backend("tcp", host=bad, port=1)
        with pytest.raises(InputError, match="non-loopback"):
            DeviceServer(DotModel(), host=bad)
    assert check_host("10.0.0.1", allow_test_host=True) == "10.0.0.1"
    assert check_host("localhost") == "127.0.0.1" and check_host("::1") == "::1"


def test_tcp_connection_refused_is_device_error():
    with DeviceServer(DotModel()) as srv:
        port = srv.address[1]
    b = make_backend("tcp", port=port, connect_timeout=1.0)
    with pytest.raises(DeviceError, match="cannot connect"):
        b.open()
    assert not b.is_open


def test_tcp_server_going_away_is_device_error(demo_vectors):
    srv = DeviceServer(DotModel()).start()
    b = make_backend("tcp", port=srv.address[1])
    try:
        b.open()
        srv.stop()
        with pytest.raises(DeviceError):
            for i in range(50):  # the first sends may still be buffered by the kernel
                b.submit(i, demo_vectors[0][0], 2)
                b.collect(0.05)
    finally:
        b.close()
        srv.stop()


def test_csim_end_to_end(demo_exe, demo_vectors):
    b = make_backend("csim", exe=demo_exe, base_cycles=9000, per_word=1)
    check_backend_end_to_end(b, demo_vectors, 9000 + N_IN + N_OUT)


def test_csim_rejections_and_process_cleanup(demo_exe, demo_vectors):
    b = make_backend("csim", exe=demo_exe)
    with b:
        proc = b._proc._proc
        with pytest.raises(DeviceError, match="weight image must be 64 bytes"):
            b.load_weights(b"short")
        b.submit(0, np.arange(3), 2)  # wrong sample size: the program answers an error
        (r,) = b.collect(2.0)
        assert r.kind == "device_error" and "expected 8 input words" in r.detail
    assert proc.poll() == 0  # QUIT honoured: the process is gone


def test_csim_dead_program_is_reported(tmp_path, demo_vectors):
    exe = tmp_path / "dies.sh"
    exe.write_text("#!/bin/sh\necho 'boom: no model' >&2\nexit 3\n")
    exe.chmod(0o755)
    x, y = demo_vectors
    rep = run_vectors(make_backend("csim", exe=exe), x[:3], y[:3], word_bytes=2, timeout=1.0)
    assert not rep.passed and len(rep.device_errors) == 3
    assert "exited with status 3" in rep.device_errors[0]["detail"]
    assert "boom: no model" in rep.device_errors[0]["detail"]


def test_csim_missing_exe_is_input_error(tmp_path):
    with pytest.raises(InputError, match="not an executable"):
        make_backend("csim", exe=tmp_path / "nope")


def test_xdma_end_to_end_on_simulated_device_files(tmp_path, demo_vectors):
    with SimulatedXdmaCard(tmp_path, DotModel(cycles=99)) as card:
        b = make_backend("xdma", device_dir=str(tmp_path))
        check_backend_end_to_end(b, demo_vectors, 99)
        with b:
            b.submit(1, demo_vectors[0][1], 2)
            assert b.collect(2.0)[0].cycles == 99 == b.last_cycles()
    assert card.errors == []


def test_xdma_wrong_firmware_id_is_refused(tmp_path):
    with SimulatedXdmaCard(tmp_path, DotModel()) as card:
        card._regs.write(0x00, 0xDEADBEEF)
        b = make_backend("xdma", device_dir=str(tmp_path))
        with pytest.raises(DeviceError, match="ID register 0xdeadbeef"):
            b.open()
        assert not b.is_open


def test_xdma_card_that_never_answers(tmp_path):
    card = SimulatedXdmaCard(tmp_path, DotModel()).start()
    b = make_backend("xdma", device_dir=str(tmp_path), send_timeout=0.2)
    b.open()
    card.stop()  # the card hangs after open
    try:
        b.submit(0, np.arange(N_IN), 2)
        assert b.collect(0.1) == []
        with pytest.raises(HilTimeout, match="H2C mailbox"):
            b.submit(1, np.arange(N_IN), 2)
    finally:
        b.close()
    with pytest.raises(DeviceError, match="did not acknowledge RESET"):
        b.open()  # a dead card is caught at open
    assert not b.is_open


def test_xdma_reopen_never_sees_old_replies(tmp_path):
    with SimulatedXdmaCard(tmp_path, DotModel()):
        b = make_backend("xdma", device_dir=str(tmp_path))
        for session in range(5):
            with b:
                b.submit(0, np.full(N_IN, session), 2)
                if session % 2:  # odd sessions leave their reply in the card
                    continue
                (r,) = b.collect(2.0)
                assert (r.words == demo_reference(np.full(N_IN, session))).all()


def test_xdma_without_device_files_is_unavailable(tmp_path):
    with pytest.raises(BackendUnavailable, match="xdma.ko"):
        make_backend("xdma", device_dir=str(tmp_path)).open()


@pytest.mark.hardware
def test_xdma_real_card(demo_vectors):
    if not glob.glob("/dev/xdma*_user"):
        pytest.skip("no /dev/xdma*_user: XDMA driver not loaded / no card in this host")
    if not os.environ.get("FIXSIM_HIL_XDMA_DEMO"):
        pytest.skip("set FIXSIM_HIL_XDMA_DEMO=1 when the card runs the demo dot-product firmware")
    check_backend_end_to_end(make_backend("xdma"), demo_vectors)


def test_rogue_missing_gives_install_hint():
    try:
        import rogue  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable) as exc:
            make_backend("rogue").open()
        assert str(exc.value) == ROGUE_HINT and "\n" not in ROGUE_HINT
        assert "conda" in ROGUE_HINT and "tidair" in ROGUE_HINT
    else:
        pytest.skip("Rogue is installed here: the missing-Rogue message cannot be shown")


@pytest.mark.hardware
def test_rogue_real_card(demo_vectors):
    try:
        import rogue  # noqa: F401
    except ImportError:
        pytest.skip(ROGUE_HINT)
    if not os.path.exists("/dev/datadev_0"):
        pytest.skip("no /dev/datadev_0: aes-stream-drivers datadev not loaded / no card")
    if not os.environ.get("FIXSIM_HIL_ROGUE_DEMO"):
        pytest.skip("set FIXSIM_HIL_ROGUE_DEMO=1 when the card runs the demo dot-product firmware")
    check_backend_end_to_end(make_backend("rogue"), demo_vectors)


def test_state_errors_are_fixsim_errors():
    b = make_backend("loopback", model=DotModel())
    for call in (lambda: b.submit(0, [1]), lambda: b.collect(0.0), lambda: b.load_weights(b"")):
        with pytest.raises(HilStateError):
            call()
    b.close()  # closing a closed backend is fine
    with b:
        with pytest.raises(HilStateError, match="twice"):
            b.open()
        with pytest.raises(InputError):
            b.submit(0xFFFF0000, [1])
        with pytest.raises(FixsimError):
            b.collect(-1)


def test_device_core_answers_damaged_requests_with_error_frames():
    from fixsim.hil import DeviceCore
    from fixsim.hil import frame as fr

    core = DeviceCore(DotModel())
    good = bytearray(fr.encode(fr.input_frame(7, np.arange(N_IN), 2)))
    good[40] ^= 0x10
    reply = fr.decode(core.handle(bytes(good)))
    assert reply.kind == fr.Kind.ERROR and reply.aux == fr.ERR_BAD_FRAME and reply.frame_id == 7
    assert reply.message().startswith("bad_crc")
    assert fr.decode(core.handle(b"tiny")).frame_id == fr.MAX_FRAME_ID
    # Weight chunks out of order are refused, and the partial image is discarded.
    chunks = fr.weight_frames(bytes(64), 0xFFFF0000, 16)
    assert core.handle(fr.encode(chunks[0])) is None
    err = fr.decode(core.handle(fr.encode(chunks[2])))
    assert err.kind == fr.Kind.ERROR and err.aux == fr.ERR_WEIGHTS and "offset 32" in err.message()
    # A device is never sent results.
    bounced = fr.decode(core.handle(fr.encode(fr.result_frame(1, [1], 5))))
    assert bounced.kind == fr.Kind.ERROR and "RESULT" in bounced.message()
    # A model bug becomes an ERROR frame, the device keeps answering.
    crashy = DeviceCore(lambda w: 1 / 0)
    assert "ZeroDivisionError" in fr.decode(crashy.handle(fr.encode(fr.input_frame(1, [1], 8)))).message()
