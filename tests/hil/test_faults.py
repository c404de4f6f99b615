"""Every fault kind, injected on purpose, is detected by the runner; none can pass."""

from __future__ import annotations

import numpy as np
import pytest

from fixsim.errors import InputError
from fixsim.hil import DeviceCore, make_backend, run_vectors
from fixsim.hil import frame as fr
from fixsim.hil.loopback import FaultSpec
from fixsim.hil.server import DeviceServer

from hil_helpers import DotModel

N = 200


@pytest.fixture
def vectors():
    rng = np.random.default_rng(7)
    x = rng.integers(-(1 << 15), 1 << 15, size=(N, 8))
    return x, np.stack([DotModel()(row)[0] for row in x])


def run_with(faults: FaultSpec, vectors, timeout=0.3, **kw):
    b = make_backend("loopback", model=DotModel(), faults=faults)
    rep = run_vectors(b, *vectors, word_bytes=2, timeout=timeout, **kw)
    ids = lambda kind: [f["frame_id"] for f in rep.injected_faults if f["fault"] == kind]  # noqa: E731
    return rep, ids


@pytest.mark.parametrize("seed", [1, 2])
def test_drop_detected_as_missing(vectors, seed):
    rep, ids = run_with(FaultSpec(drop=0.03, seed=seed), vectors)
    assert ids("drop") and sorted(ids("drop")) == rep.missing
    assert not rep.passed and "missing" in rep.failures[0]


def test_duplicate_detected(vectors):
    rep, ids = run_with(FaultSpec(duplicate=0.03, seed=3), vectors)
    assert ids("duplicate") and sorted(ids("duplicate")) == sorted(rep.duplicates)
    assert rep.n_ok == N and not rep.passed  # all bit-exact, still a fail


def test_reorder_detected(vectors):
    rep, ids = run_with(FaultSpec(reorder=0.03, seed=4), vectors)
    assert ids("reorder") and sorted(ids("reorder")) == sorted(rep.out_of_order)
    assert not rep.passed
    rep2, _ = run_with(FaultSpec(reorder=0.03, seed=4), vectors, require_order=False)
    assert rep2.passed and rep2.out_of_order == rep.out_of_order  # still reported


@pytest.mark.parametrize("nbits", [1, 2, 3, 8])
def test_corrupt_detected_in_header_and_payload(vectors, nbits):
    rep, ids = run_with(FaultSpec(corrupt=0.1, corrupt_bits=nbits, seed=5 + nbits), vectors)
    hits = [f for f in rep.injected_faults if f["fault"] == "corrupt"]
    bits = [b for f in hits for b in f["bits"]]
    assert hits and min(bits) < fr.HEADER_SIZE * 8 <= max(bits)  # both regions were hit
    assert len(rep.bad_frames) == len(hits)  # every corrupted frame caught, none decoded
    assert sorted(ids("corrupt")) == rep.missing  # and its id never counts as returned
    assert not rep.passed and rep.n_ok == N - len(hits)


def test_delay_detected_as_reorder_and_in_round_trip(vectors):
    rep, ids = run_with(FaultSpec(delay=0.03, delay_s=0.05, seed=6), vectors, timeout=1.0)
    delayed = set(ids("delay"))
    assert delayed and delayed - {N - 1} <= set(rep.out_of_order)
    assert rep.host_rtt_us["max"] >= 0.05e6
    assert not rep.passed


def test_delay_beyond_timeout_detected_as_late(vectors):
    x, y = vectors
    rep, ids = run_with(FaultSpec(delay=0.05, delay_s=0.6, seed=8), (x[:40], y[:40]), timeout=0.2)
    assert ids("delay") and set(ids("delay")) <= set(rep.late) | set(rep.missing)
    assert not rep.passed


def test_stall_detected(vectors):
    rep, ids = run_with(FaultSpec(stall=0.02, seed=9), vectors, timeout=0.2)
    (first_stalled,) = ids("stall")
    assert rep.stalled and "stalled" in rep.failures[0]
    assert rep.missing == list(range(first_stalled, N))
    assert rep.n_ok == first_stalled


def test_all_faults_at_once_never_pass(vectors):
    spec = FaultSpec(drop=0.02, duplicate=0.02, reorder=0.02, corrupt=0.02, delay=0.02, stall=0.0,
                     delay_s=0.02, seed=11)
    rep, _ = run_with(spec, vectors, timeout=0.3)
    assert rep.injected_faults and not rep.passed


def test_no_faults_pass_and_seed_reproducible(vectors):
    rep, _ = run_with(FaultSpec(), vectors)
    assert rep.passed and rep.injected_faults == []
    a, _ = run_with(FaultSpec(drop=0.05, corrupt=0.05, seed=42), vectors)
    b, _ = run_with(FaultSpec(drop=0.05, corrupt=0.05, seed=42), vectors)
    assert a.injected_faults == b.injected_faults


class WrongOnSome(DotModel):
    """A device with an LSB bug on every 17th sample."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __call__(self, words):
        out, cyc = super().__call__(words)
        self.calls += 1
        if self.calls % 17 == 0:
            out = out.copy()
            out[2] ^= 1
        return out, cyc


def test_wrong_results_detected(vectors):
    rep = run_vectors(make_backend("loopback", model=WrongOnSome()), *vectors, word_bytes=2, timeout=1)
    assert [m["frame_id"] for m in rep.mismatches] == list(range(16, N, 17))
    m = rep.mismatches[0]
    assert m["n_diff"] == 1 and m["first"][0][0] == 2 and m["first"][0][1] ^ m["first"][0][2] == 1
    assert not rep.passed and rep.n_ok == N - len(rep.mismatches)


def test_device_errors_detected(vectors):
    def model(words):
        if words[0] % 5 == 0:
            raise InputError("sample rejected by the device")
        return DotModel()(words)

    rep = run_vectors(make_backend("loopback", model=model), *vectors, word_bytes=2, timeout=1)
    bad = [i for i in range(N) if vectors[0][i][0] % 5 == 0]
    assert [e["frame_id"] for e in rep.device_errors] == bad
    assert "sample rejected" in rep.device_errors[0]["detail"] and not rep.passed


class WrongIds(DeviceCore):
    """Device core that answers frame 3 with id 1003 (a firmware addressing bug)."""

    def handle(self, data):
        reply = super().handle(data)
        f = fr.decode(reply)
        if f.frame_id == 3:
            reply = fr.encode(fr.Frame(f.kind, 1003, f.payload, f.word_bytes, f.flags, f.cycles, f.aux))
        return reply


def test_unexpected_ids_detected_over_tcp(vectors):
    x, y = vectors
    with DeviceServer(WrongIds(DotModel())) as srv:
        rep = run_vectors(make_backend("tcp", port=srv.address[1]), x[:10], y[:10], word_bytes=2,
                          timeout=0.2)
    assert rep.unexpected_ids == [1003] and rep.missing == [3] and not rep.passed


def test_latency_budget(vectors):
    x, y = vectors
    rep = run_vectors(make_backend("loopback", model=DotModel(cycles=9003)), x[:5], y[:5],
                      word_bytes=2, latency_budget_cycles=9000)
    assert not rep.passed and "9000 cycles (45.000 us at 200 MHz)" in rep.failures[0]
    rep = run_vectors(make_backend("loopback", model=DotModel(cycles=9000)), x[:5], y[:5],
                      word_bytes=2, latency_budget_cycles=9000)
    assert rep.passed and rep.firmware_latency_us["max"] == 45.0


def test_fault_spec_validation():
    with pytest.raises(InputError, match="did you mean 'drop'"):
        FaultSpec.parse(["dorp=0.1"])
    with pytest.raises(InputError, match=r"not in \[0, 1\]"):
        FaultSpec.parse(["drop=2"])
    with pytest.raises(InputError, match="KIND=RATE"):
        FaultSpec.parse(["drop"])
    with pytest.raises(InputError, match="not a number"):
        FaultSpec.parse(["drop=x"])
    assert FaultSpec.parse(["drop=0.5", "delay_s=0.1"], seed=3) == FaultSpec(drop=0.5, delay_s=0.1, seed=3)


def test_hung_card_mid_run_is_a_failed_verdict(tmp_path, vectors):
    from fixsim.hil.xdma_card import SimulatedXdmaCard

    x, y = vectors
    card = SimulatedXdmaCard(tmp_path, DotModel()).start()
    b = make_backend("xdma", device_dir=str(tmp_path), send_timeout=0.2)
    with b:
        card.stop()  # the card hangs after open: the H2C mailbox fills and never drains
        rep = run_vectors(b, x[:10], y[:10], word_bytes=2, timeout=0.2)
    assert not rep.passed and rep.n_submitted == 1 and rep.missing == list(range(10))
    assert "transport failed" in rep.failures[0] and "H2C mailbox" in rep.transport_error
