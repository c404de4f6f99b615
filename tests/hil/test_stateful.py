"""The backend contract under any call order (hypothesis RuleBasedStateMachine).

Invariants: results only for ids submitted in this session, each at most once and
bit-exact; every error is a FixsimError (wrong state -> HilStateError), never a crash.
"""

from __future__ import annotations

import tempfile

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fixsim.errors import FixsimError, InputError
from fixsim.hil import make_backend
from fixsim.hil.errors import DeviceError, HilStateError
from fixsim.hil.xdma_card import SimulatedXdmaCard

from hil_helpers import N_IN, DotModel, demo_reference

samples = st.lists(st.integers(-(1 << 15), (1 << 15) - 1), min_size=N_IN, max_size=N_IN)


class BackendContract(RuleBasedStateMachine):
    """Drives one backend; subclasses choose which."""

    def make(self):
        raise NotImplementedError

    def __init__(self):
        super().__init__()
        self.model = DotModel()
        self.backend = self.make()
        self.submitted: dict[int, np.ndarray] = {}  # id -> expected output, this session
        self.seen: set[int] = set()
        self.weights = self.model.w.copy()

    def expect_state_error(self, call):
        try:
            call()
        except HilStateError:
            return
        raise AssertionError("call on a closed backend did not raise HilStateError")

    @rule()
    def open(self):
        if self.backend.is_open:
            try:
                self.backend.open()
            except HilStateError:
                return
            raise AssertionError("second open() did not raise")
        self.backend.open()
        self.submitted.clear()
        self.seen.clear()

    @rule()
    def close(self):
        self.backend.close()
        assert not self.backend.is_open

    @rule(x=samples, fid=st.integers(0, 40))
    def submit(self, x, fid):
        if not self.backend.is_open:
            return self.expect_state_error(lambda: self.backend.submit(fid, x, 2))
        if fid in self.submitted:
            fid = max(self.submitted) + 1  # the contract is about distinct ids
        self.backend.submit(fid, x, 2)
        self.submitted[fid] = demo_reference(np.array(x), self.weights)[0]

    @rule(fid=st.integers(-5, -1) | st.integers(0xFFFF0000, 0xFFFFFFFF + 3))
    def submit_bad_id(self, fid):
        if self.backend.is_open:
            try:
                self.backend.submit(fid, [0] * N_IN, 2)
            except InputError:
                return
            raise AssertionError(f"frame id {fid} accepted")

    @rule(seed=st.integers(0, 1000))
    def load(self, seed):
        w = np.random.default_rng(seed).integers(-(1 << 15), 1 << 15, size=self.weights.shape)
        if not self.backend.is_open:
            return self.expect_state_error(lambda: self.backend.load_weights(w.astype("<i2").tobytes()))
        # Drain first: results of earlier samples were computed with the old weights.
        self.collect_all(0.5)
        self.backend.load_weights(w.astype("<i2").tobytes(), timeout=5.0)
        self.weights = w

    @rule()
    def load_bad_image(self):
        if self.backend.is_open:
            self.collect_all(0.5)
            try:
                self.backend.load_weights(b"\x01\x02\x03", timeout=5.0)
            except DeviceError:
                return
            raise AssertionError("a malformed weight image was acknowledged")

    def collect_all(self, timeout):
        while len(self.seen) < len(self.submitted):
            got = self.check(self.backend.collect(timeout))
            if not got:
                break

    def check(self, replies):
        for r in replies:
            assert r.kind == "result", r
            assert r.frame_id in self.submitted, f"result for unsubmitted id {r.frame_id}"
            assert r.frame_id not in self.seen, f"second result for id {r.frame_id}"
            self.seen.add(r.frame_id)
            np.testing.assert_array_equal(r.words, self.submitted[r.frame_id])
        return replies

    @rule(timeout=st.sampled_from([0.0, 0.002]))
    def collect(self, timeout):
        if not self.backend.is_open:
            return self.expect_state_error(lambda: self.backend.collect(timeout))
        self.check(self.backend.collect(timeout))

    @precondition(lambda self: self.backend.is_open)
    @rule()
    def collect_everything(self):
        self.collect_all(1.0)
        assert self.seen == set(self.submitted), "a submitted sample never came back"

    @invariant()
    def results_only_for_submitted_ids(self):
        assert self.seen <= set(self.submitted)

    def teardown(self):
        try:
            self.backend.close()
        except FixsimError:
            pass


class LoopbackContract(BackendContract):
    def make(self):
        return make_backend("loopback", model=self.model)


class XdmaContract(BackendContract):
    """The same contract over the simulated XDMA files (a real thread plays the card)."""

    def make(self):
        self._dir = tempfile.TemporaryDirectory()
        self.card = SimulatedXdmaCard(self._dir.name, self.model).start()
        return make_backend("xdma", device_dir=self._dir.name)

    def teardown(self):
        super().teardown()
        self.card.stop()
        assert self.card.errors == []
        self._dir.cleanup()


TestLoopbackContract = LoopbackContract.TestCase
TestXdmaContract = XdmaContract.TestCase
TestXdmaContract.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
TestLoopbackContract.settings = settings(stateful_step_count=30, deadline=None)
