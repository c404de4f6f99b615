"""``loopback`` backend: an in-process device model behind a fault injector.

Replies of the data path (results and error frames of submitted samples) pass through
:class:`FaultInjector`, which can drop, duplicate, reorder, corrupt (flip bits anywhere
in the frame, header or payload), delay, or stall them, each at its own rate, from a
seeded generator; every injected fault is recorded so a test can check that the runner
detected all of them.  The weight-load path is not fault-injected.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import closest
from .backend import WEIGHT_ID_BASE, FramedBackend
from .device import DeviceCore, DeviceModel
from .errors import InputError

FAULT_KINDS = ("drop", "duplicate", "reorder", "corrupt", "delay", "stall")


@dataclass(frozen=True)
class FaultSpec:
    """Per-reply fault rates in [0, 1], plus their parameters.

    ``stall`` makes the device go silent from that reply on (a hung pipeline: nothing
    more comes out until close); ``delay`` holds one reply for ``delay_s`` seconds;
    ``reorder`` holds one reply until after the next one; ``corrupt`` flips
    ``corrupt_bits`` random bits of the frame.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    delay: float = 0.0
    stall: float = 0.0
    delay_s: float = 0.05
    corrupt_bits: int = 1
    seed: int = 0

    def __post_init__(self):
        for k in FAULT_KINDS:
            v = getattr(self, k)
            if not 0.0 <= v <= 1.0:
                raise InputError(f"fault rate {k}={v!r} not in [0, 1]")
        if not 0.0 <= self.delay_s <= 3600:
            raise InputError(f"delay_s={self.delay_s!r} not in [0, 3600]")
        if not 1 <= self.corrupt_bits <= 64:
            raise InputError(f"corrupt_bits={self.corrupt_bits!r} not in [1, 64]")

    @classmethod
    def parse(cls, items, seed: int = 0) -> "FaultSpec":
        """From ``["drop=0.01", "delay_s=0.1"]`` (the CLI's repeated ``--fault``)."""
        names = {f.name: f.type for f in fields(cls) if f.name != "seed"}
        kw: dict = {}
        for item in items or ():
            key, sep, value = str(item).partition("=")
            key = key.strip()
            if not sep:
                raise InputError(f"fault {item!r} is not KIND=RATE (e.g. drop=0.01)")
            if key not in names:
                raise InputError(f"unknown fault {key!r}{closest(key, names)}; choices: {', '.join(names)}")
            try:
                kw[key] = int(value) if key == "corrupt_bits" else float(value)
            except ValueError:
                raise InputError(f"fault {key}: {value!r} is not a number") from None
        return cls(seed=int(seed), **kw)


class FaultInjector:
    """Applies a :class:`FaultSpec` to a stream of reply frames (bytes) and logs faults."""

    def __init__(self, spec: FaultSpec):
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.log: list[dict] = []
        self.stalled = False
        self._held: tuple[int, float, bytes] | None = None  # (id, since, reply) to reorder

    def _hit(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def apply(self, data: bytes, frame_id: int, now: float) -> list[tuple[float, bytes]]:
        """Fault ``data``; return the (release_time, bytes) items to deliver."""
        s = self.spec
        if self.stalled or self._hit(s.stall):
            if not self.stalled:
                self.log.append({"fault": "stall", "frame_id": frame_id})
            self.stalled = True
            return []
        if self._hit(s.drop):
            self.log.append({"fault": "drop", "frame_id": frame_id})
            return []
        if self._hit(s.corrupt):
            buf = bytearray(data)
            n_bits = len(buf) * 8
            bits = sorted(int(b) for b in self.rng.choice(n_bits, size=min(s.corrupt_bits, n_bits),
                                                          replace=False))
            for b in bits:
                buf[b // 8] ^= 1 << (b % 8)
            data = bytes(buf)
            self.log.append({"fault": "corrupt", "frame_id": frame_id, "bits": bits})
        out = [(now, data)]
        if self._hit(s.duplicate):
            self.log.append({"fault": "duplicate", "frame_id": frame_id})
            out.append((now, data))
        if self._hit(s.delay):
            self.log.append({"fault": "delay", "frame_id": frame_id, "delay_s": s.delay_s})
            out = [(now + s.delay_s, d) for _, d in out]
        if self._held is not None:
            held_id, _, held = self._held
            self._held = None
            # Logged only now: the held reply really comes after a later one.
            self.log.append({"fault": "reorder", "frame_id": held_id, "overtaken_by": frame_id})
            out.append((now, held))
        elif self._hit(s.reorder):
            self._held = (frame_id, now, out[0][1])
            out = out[1:]
        return out

    def flush(self, now: float) -> list[tuple[float, bytes]]:
        """Release a reply held for reordering when nothing followed it for ``delay_s``."""
        if self._held is None or now - self._held[1] < self.spec.delay_s:
            return []
        held_id, _, held = self._held
        self._held = None
        self.log.append({"fault": "delay", "frame_id": held_id, "delay_s": self.spec.delay_s,
                         "note": "held for reorder, nothing overtook it"})
        return [(now, held)]

    def discard_pending(self) -> None:
        """Drop a held reply and end a stall (the device was reset); keep the log and rng."""
        self._held = None
        self.stalled = False

    def next_flush(self) -> float | None:
        return None if self._held is None else self._held[1] + self.spec.delay_s


class LoopbackBackend(FramedBackend):
    """In-process device with fault injection.

    Parameters
    ----------
    model : callable
        Device model ``model(words) -> (out_words, cycles)`` (see :mod:`fixsim.hil.device`).
    faults : FaultSpec, optional
    result_word_bytes : int
        Width of result words in reply frames (2, 4 or 8).
    """

    name = "loopback"
    cycle_source = "model"

    def __init__(self, model: DeviceModel, faults: FaultSpec | None = None, result_word_bytes: int = 8):
        super().__init__()
        if not callable(model):
            raise InputError(f"loopback model {model!r} is not callable")
        self.core = DeviceCore(model, result_word_bytes)
        self.faults = faults or FaultSpec()
        self._injector = FaultInjector(self.faults)
        self._outbox: list[tuple[float, int, bytes]] = []
        self._seq = 0
        self._cv = threading.Condition()

    def _open(self) -> None:
        self._discard()

    def _close(self) -> None:
        self._discard()

    def _discard(self) -> None:
        """Forget replies in flight: a new session never sees an old session's replies."""
        with self._cv:
            self._outbox.clear()
            self._injector.discard_pending()

    def _send(self, data: bytes) -> None:
        reply = self.core.handle(data)
        if reply is None:
            return
        now = time.monotonic()
        fid = int.from_bytes(reply[8:12], "little")
        items = [(now, reply)] if fid >= WEIGHT_ID_BASE else self._injector.apply(reply, fid, now)
        with self._cv:
            for t, d in items:
                self._outbox.append((t, self._seq, d))
                self._seq += 1
            self._outbox.sort()

    def _recv(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            with self._cv:
                for t, d in self._injector.flush(now):
                    self._outbox.append((t, self._seq, d))
                    self._seq += 1
                if self._outbox and self._outbox[0][0] <= now:
                    return self._outbox.pop(0)[2]
                nxt = min(x for x in (self._outbox[0][0] if self._outbox else None,
                                      self._injector.next_flush(), deadline) if x is not None)
            if now >= deadline:
                return None
            time.sleep(max(0.0, min(nxt, deadline) - now))

    def injected_faults(self) -> list[dict]:
        return list(self._injector.log)

    def describe(self) -> dict:
        return {**super().describe(), "faults": asdict(self.faults)}
