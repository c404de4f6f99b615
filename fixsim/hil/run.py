"""Stream vectors through a HIL backend and check every result bit for bit.

:func:`run_vectors` submits samples with ids ``0..N-1`` (at most ``window`` in flight),
collects replies, and accounts for every id: exactly one intact result, bit-exact, or a
named fault (missing/timed out, duplicate, out of order, unexpected id, damaged frame,
device error, wrong result, stall).  A frame that was lost or damaged can never pass:
the verdict is "pass" only if every id came back once, intact and bit-exact (and in
order, unless ``require_order=False``), and within the latency budget when one is given.

The report names what it measured, so ``fixsim certify --hw`` can bind it to the design:
the sha256 of the weight image that was loaded, of the outputs that came back and of the
expected outputs (:func:`outputs_sha256`), the backend, the number of frames, and where
the cycle counts come from (``cycle_source`` and who declared it).
:func:`report_document` adds the vector set (manifest sha256) for ``fixsim hil run --out``.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .._version import __version__
from .backend import CYCLE_SOURCES, Backend, Reply, cycle_source_label
from .errors import DeviceError, HilTimeout, InputError

#: How many mismatching words to show per frame, and how many frames to list in full.
SHOW_WORDS, SHOW_FRAMES = 4, 20
#: Format tag of the JSON document ``fixsim hil run --out`` writes.
REPORT_FORMAT = "fixsim-hil-report/2"


def outputs_sha256(rows) -> str:
    """sha256 of raw outputs, one frame per row, as little-endian int64 in C order.

    The same bytes for the outputs a device returned and for a vector set's expected
    outputs, so equal hashes mean equal bits.
    """
    a = np.asarray(rows)
    a = np.ascontiguousarray(a.reshape(len(a), -1).astype("<i8"))
    return hashlib.sha256(a.tobytes()).hexdigest()


def _stats(values, scale: float = 1.0) -> dict | None:
    """p50/p99/max of observed values (nearest rank, so each is an observed value)."""
    if len(values) == 0:
        return None
    a = np.asarray(values, dtype=np.float64)
    pct = lambda q: float(np.percentile(a, q, method="inverted_cdf")) * scale  # noqa: E731
    return {"p50": pct(50), "p99": pct(99), "max": float(a.max()) * scale, "n": int(a.size)}


@dataclass
class HilReport:
    """Outcome of one HIL run (``to_dict()`` is JSON-serializable)."""

    verdict: str
    failures: list[str]
    n_frames: int
    n_submitted: int
    n_ok: int
    missing: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    out_of_order: list[int] = field(default_factory=list)
    late: list[int] = field(default_factory=list)
    unexpected_ids: list[int] = field(default_factory=list)
    bad_frames: list[dict] = field(default_factory=list)
    device_errors: list[dict] = field(default_factory=list)
    mismatches: list[dict] = field(default_factory=list)
    stalled: bool = False
    transport_error: str | None = None
    clock_mhz: float = 200.0
    cycle_source: str = "unknown"
    cycle_source_declared_by: str = "backend"
    latency_budget_cycles: int | None = None
    firmware_latency_cycles: dict | None = None
    firmware_latency_us: dict | None = None
    host_rtt_us: dict | None = None
    throughput_fps: float | None = None
    elapsed_s: float = 0.0
    injected_faults: list[dict] = field(default_factory=list)
    backend: dict = field(default_factory=dict)
    weights_sha256: str | None = None
    outputs_sha256: str | None = None
    expected_sha256: str | None = None
    fixsim_version: str = __version__

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """A few human-readable lines."""
        lat = self.firmware_latency_cycles
        lines = [f"HIL {self.backend.get('name', '?')}: {self.verdict.upper()} "
                 f"({self.n_ok}/{self.n_frames} frames bit-exact)"]
        if lat:
            us = self.firmware_latency_us
            lines.append(f"  {self.cycle_source} latency cycles p50 {lat['p50']:.0f} p99 {lat['p99']:.0f} "
                         f"max {lat['max']:.0f} = {us['max']:.3f} us max at {self.clock_mhz:g} MHz"
                         + (f" (budget {self.latency_budget_cycles} cycles)"
                            if self.latency_budget_cycles is not None else ""))
        if self.host_rtt_us:
            lines.append(f"  host round trip us p50 {self.host_rtt_us['p50']:.1f} p99 "
                         f"{self.host_rtt_us['p99']:.1f}; throughput {self.throughput_fps or 0:.0f} frames/s")
        lines += [f"  FAIL: {f}" for f in self.failures]
        return "\n".join(lines)


def _as_rows(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim < 1 or a.dtype.kind not in "iu":
        raise InputError(f"{name} must be an integer array of shape (N, ...), got {a.dtype} {a.shape}")
    return a.reshape(len(a), -1).astype(np.int64)


def run_vectors(backend: Backend, inputs, expected, *, word_bytes: int = 8, clock_mhz: float = 200.0,
                timeout: float = 5.0, window: int = 32, weights: bytes | None = None,
                require_order: bool = True, latency_budget_cycles: int | None = None,
                drain_s: float = 0.05, progress: Callable[[int], None] | None = None,
                cycle_source: str | None = None) -> HilReport:
    """Run ``inputs`` through ``backend`` and check the replies against ``expected``.

    Parameters
    ----------
    backend : Backend
        Opened here (and closed again) if it is not open yet.
    inputs : integer array, shape (N, ...)
        Raw input mantissas, one sample per row (flattened in C order on the wire).
    expected : integer array, shape (N, ...)
        Raw expected outputs (e.g. the 50-d latent as int64).
    word_bytes : {2, 4, 8}
        Width of input words on the wire.
    clock_mhz : float
        Firmware clock for converting cycles to microseconds.
    timeout : float
        Seconds without any reply, while replies are outstanding, before the
        outstanding ids count as timed out; two such timeouts in a row are a stall.
    window : int
        Maximum samples in flight.
    weights : bytes, optional
        Weight image loaded (and acknowledged) before the first sample.
    require_order : bool
        Count out-of-order results as a failure (a streaming pipeline is FIFO).
    latency_budget_cycles : int, optional
        Fail if any result's cycle count exceeds it.
    drain_s : float
        Extra wait after the last expected reply, to catch late duplicates.
    cycle_source : {"firmware", "model"}, optional
        The user's declaration of where the device's cycle counts come from (recorded as
        declared by "user"); only for a backend that reports "unknown" itself, e.g. a
        hardware device behind the tcp backend whose server sends no hello.

    Returns
    -------
    HilReport

    Raises
    ------
    InputError
        Bad arrays or arguments; a ``cycle_source`` that contradicts the backend's own.
    FixsimError
        The backend could not be opened or the weight image was rejected.
    """
    x, want = _as_rows(inputs, "inputs"), _as_rows(expected, "expected")
    if len(x) != len(want):
        raise InputError(f"{len(x)} inputs but {len(want)} expected outputs")
    if not clock_mhz > 0:
        raise InputError(f"clock_mhz {clock_mhz!r} must be > 0")
    if not timeout > 0 or window < 1:
        raise InputError(f"timeout {timeout!r} must be > 0 and window {window!r} >= 1")
    if cycle_source is not None and cycle_source not in CYCLE_SOURCES[:2]:
        raise InputError(f"cycle source {cycle_source!r} must be one of {', '.join(CYCLE_SOURCES[:2])}")
    n = len(x)
    opened_here = not backend.is_open
    if opened_here:
        backend.open()
    reported = cycle_source_label(backend.cycle_source)
    if cycle_source is not None and reported not in ("unknown", cycle_source):
        if opened_here:
            backend.close()
        raise InputError(f"--cycle-source {cycle_source}: the {backend.name} backend reports "
                         f"{reported!r} cycle counts ({backend.cycle_source_declared_by}); only a "
                         f"device that reports 'unknown' can be declared")
    if cycle_source is not None and reported == "unknown":
        backend.cycle_source, backend.cycle_source_declared_by = cycle_source, "user"
    t_start = time.perf_counter()
    submit_t: dict[int, float] = {}
    first: dict[int, Reply] = {}
    counts: Counter[int] = Counter()
    rep = HilReport("fail", [], n, 0, 0, clock_mhz=clock_mhz,
                    cycle_source=cycle_source_label(backend.cycle_source),
                    cycle_source_declared_by=backend.cycle_source_declared_by,
                    latency_budget_cycles=latency_budget_cycles, backend=backend.describe(),
                    weights_sha256=None if weights is None else hashlib.sha256(bytes(weights)).hexdigest(),
                    expected_sha256=outputs_sha256(want))
    timed_out: set[int] = set()
    highest = -1
    try:
        if weights is not None:
            backend.load_weights(weights, timeout=max(timeout, 10.0))
        next_id, quiet_timeouts, last_activity = 0, 0, time.monotonic()
        while rep.transport_error is None:
            accounted = len(first) + len(timed_out) - len(rep.late) + len(rep.bad_frames)
            in_flight = next_id - accounted
            done = False
            try:
                while next_id < n and in_flight < window:
                    backend.submit(next_id, x[next_id], word_bytes)
                    submit_t[next_id] = time.perf_counter()
                    next_id += 1
                    in_flight += 1
                done = next_id == n and accounted >= n
                replies = backend.collect(drain_s if done else min(timeout, 0.05))
            except (DeviceError, HilTimeout) as exc:
                # The link died mid-run: a verdict (fail) with what came back so far.
                rep.transport_error = str(exc)
                replies = []
            now = time.monotonic()
            if replies:
                last_activity, quiet_timeouts = now, 0
            for r in replies:
                if r.kind == "bad_frame":
                    rep.bad_frames.append({"error": r.error, "detail": r.detail,
                                           "frame_id_field": r.frame_id})
                    continue
                fid = r.frame_id
                if fid not in submit_t:
                    rep.unexpected_ids.append(fid)
                    continue
                counts[fid] += 1
                if counts[fid] > 1:
                    rep.duplicates.append(fid)
                    continue
                first[fid] = r
                if fid in timed_out:
                    rep.late.append(fid)  # came back, but after it was declared timed out
                if fid < highest:
                    rep.out_of_order.append(fid)
                highest = max(highest, fid)
                if progress is not None:
                    progress(1)
            if done and not replies:
                break
            if not replies and now - last_activity >= timeout:
                outstanding = [i for i in range(next_id) if i not in first and i not in timed_out]
                timed_out.update(outstanding)
                quiet_timeouts += 1
                last_activity = now
                if quiet_timeouts >= 2 or (next_id == n and not outstanding):
                    rep.stalled = quiet_timeouts >= 2 and bool(outstanding)
                    break
    finally:
        elapsed = time.perf_counter() - t_start
        injected = backend.injected_faults()
        if opened_here:
            backend.close()

    rep.n_submitted = len(submit_t)
    rep.elapsed_s = elapsed
    rep.injected_faults = injected
    rep.missing = [i for i in range(n) if i not in first]
    cycles, rtts = [], []
    for fid, r in sorted(first.items()):
        if r.kind == "device_error":
            rep.device_errors.append({"frame_id": fid, "error": r.error, "detail": r.detail})
            continue
        cycles.append(r.cycles)
        rtts.append(r.received_s - submit_t[fid])
        if r.words.shape != want[fid].shape:
            rep.mismatches.append({"frame_id": fid, "n_diff": None,
                                   "detail": f"{r.words.size} words, expected {want[fid].size}"})
            continue
        diff = np.flatnonzero(r.words != want[fid])
        if diff.size:
            rep.mismatches.append({"frame_id": fid, "n_diff": int(diff.size), "first": [
                [int(i), int(want[fid][i]), int(r.words[i])] for i in diff[:SHOW_WORDS]]})
        elif latency_budget_cycles is None or r.cycles <= latency_budget_cycles:
            rep.n_ok += 1
    complete = len(first) == n and not rep.device_errors and all(
        first[i].words is not None and first[i].words.shape == want[i].shape for i in range(n))
    if complete:
        rep.outputs_sha256 = outputs_sha256(np.stack([first[i].words for i in range(n)]))
    rep.firmware_latency_cycles = _stats(cycles)
    rep.firmware_latency_us = _stats(cycles, 1.0 / clock_mhz)
    rep.host_rtt_us = _stats(rtts, 1e6)
    if first:
        t_last = max(r.received_s for r in first.values())
        span = t_last - min(submit_t.values())
        rep.throughput_fps = len(first) / span if span > 0 else None

    f = rep.failures
    if rep.transport_error:
        f.append(f"transport failed after {rep.n_submitted} submitted frames: {rep.transport_error}")
    if rep.stalled:
        f.append(f"device stalled: no reply for 2 x {timeout} s with frames outstanding")
    for label, ids in (("missing (lost or timed out)", rep.missing), ("duplicated", rep.duplicates),
                       ("unexpected frame ids", rep.unexpected_ids)):
        if ids:
            f.append(f"{len(ids)} {label}: {sorted(set(ids))[:SHOW_FRAMES]}")
    if rep.late:
        f.append(f"{len(rep.late)} results arrived after the {timeout} s timeout: {rep.late[:SHOW_FRAMES]}")
    if rep.out_of_order and require_order:
        f.append(f"{len(rep.out_of_order)} results out of order: {rep.out_of_order[:SHOW_FRAMES]}")
    if rep.bad_frames:
        kinds = Counter(b["error"] for b in rep.bad_frames)
        f.append(f"{len(rep.bad_frames)} damaged frames: {dict(kinds)}")
    if rep.device_errors:
        f.append(f"{len(rep.device_errors)} device errors, first: frame {rep.device_errors[0]['frame_id']}: "
                 f"{rep.device_errors[0]['detail']}")
    if rep.mismatches:
        m = rep.mismatches[0]
        f.append(f"{len(rep.mismatches)} results not bit-exact, first: frame {m['frame_id']} "
                 f"{m.get('first') or m.get('detail')} ([index, expected, actual])")
    if latency_budget_cycles is not None and cycles and max(cycles) > latency_budget_cycles:
        over = sum(c > latency_budget_cycles for c in cycles)
        f.append(f"{over} results over the latency budget of {latency_budget_cycles} cycles "
                 f"({latency_budget_cycles / clock_mhz:.3f} us at {clock_mhz:g} MHz); max {max(cycles)}")
    rep.verdict = "pass" if not f and rep.n_ok == n else "fail"
    if rep.verdict == "fail" and not f:
        f.append(f"only {rep.n_ok}/{n} frames passed")
    return rep


def report_document(rep: HilReport, vs, vectors_path, **extra) -> dict:
    """The JSON document of ``fixsim hil run --out``: the report and what it ran.

    Parameters
    ----------
    rep : HilReport
    vs : fixsim.hil.vectors.VectorSet
        The vector set that ran (its ``sha256["manifest.json"]`` binds the report to it).
    vectors_path : str or path
        As given on the command line (recorded).
    **extra
        Further fields (``seed``, ``device``...).
    """
    return {**rep.to_dict(), "format": REPORT_FORMAT, "generator": f"fixsim {__version__}",
            "vectors": str(vectors_path), "sha256": dict(vs.sha256),
            "vector_set": {"path": str(vectors_path),
                           "manifest_sha256": vs.sha256.get("manifest.json"),
                           "n_frames": int(len(vs.inputs))}, **extra}
