"""The backend contract, the frame-level base class, and the registry of backends.

Every backend moves :mod:`fixsim.hil.frame` frames between the host and one device.
The contract (:class:`Backend`):

``open()``
    Acquire the device; :class:`HilStateError` if already open.
``load_weights(image, timeout)``
    Send a weight image in WEIGHTS chunks and wait for the device's acknowledgement
    (length and CRC32 of the image it assembled).
``submit(frame_id, words, word_bytes)``
    Send one sample of raw input words; ``frame_id`` in ``[0, WEIGHT_ID_BASE)``.
``collect(timeout)``
    Wait up to ``timeout`` seconds for the first reply, then return every reply that is
    already there (possibly none).  Damaged frames are returned as ``bad_frame`` replies,
    never raised, so a runner can count them.
``close()``
    Release the device; always safe, also when never opened.

Calling a method in the wrong state raises :class:`HilStateError`; every failure is a
:class:`~fixsim.errors.FixsimError`.
"""

from __future__ import annotations

import importlib
import time
import zlib
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import closest
from . import frame as fr
from .errors import DeviceError, FrameError, HilStateError, HilTimeout, InputError

#: Frame ids from here up are reserved for weight-image chunks.
WEIGHT_ID_BASE = 0xFFFF0000
#: Labels of where cycle counts come from; anything else reads as "unknown".
CYCLE_SOURCES = ("firmware", "model", "unknown")


def cycle_source_label(value) -> str:
    """``value`` if it is one of :data:`CYCLE_SOURCES`, else ``"unknown"`` (missing, garbage)."""
    return value if isinstance(value, str) and value in CYCLE_SOURCES else "unknown"


@dataclass(frozen=True)
class Reply:
    """One thing that came back from the device.

    Attributes
    ----------
    kind : {"result", "device_error", "bad_frame"}
    frame_id : int or None
        Echoed id; None for a frame that could not be decoded.
    words : numpy.ndarray of int64, shape (n,), or None
        Raw outputs of a result.
    cycles : int or None
        Firmware (or modelled) cycle count, first input beat to last output beat.
    received_s : float
        ``time.perf_counter()`` when the host got it.
    error : str or None
        For ``bad_frame`` the :class:`FrameError` code (``bad_crc``...), for
        ``device_error`` the device's message.
    """

    kind: str
    frame_id: int | None
    words: np.ndarray | None = None
    cycles: int | None = None
    received_s: float = 0.0
    error: str | None = None
    detail: str = ""


class Backend(ABC):
    """Abstract base class of all HIL backends (see the module docstring for the contract)."""

    #: Registry name (``--backend NAME``).
    name: ClassVar[str] = ""
    #: Where result cycle counts come from (one of :data:`CYCLE_SOURCES`): "firmware" only
    #: for a backend that reads a counter in the device (xdma, rogue); "model" for software
    #: models; "unknown" when nothing says (never certifies latency).
    cycle_source: str = "unknown"
    #: Who said so: "backend" (the class), "server" (a TCP server's hello), "user".
    cycle_source_declared_by: str = "backend"

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def load_weights(self, image: bytes, timeout: float = 10.0) -> None: ...

    @abstractmethod
    def submit(self, frame_id: int, words, word_bytes: int = 8) -> None: ...

    @abstractmethod
    def collect(self, timeout: float) -> list[Reply]: ...

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    def injected_faults(self) -> list[dict]:
        """Faults a backend injected on purpose (only the loopback backend has any)."""
        return []

    def describe(self) -> dict:
        """JSON-able description of the backend and its options, for run reports."""
        return {"name": self.name, "cycle_source": self.cycle_source,
                "cycle_source_declared_by": self.cycle_source_declared_by}

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FramedBackend(Backend):
    """A backend over a byte transport that carries whole frames.

    Subclasses implement ``_open``, ``_close``, ``_send(bytes)`` and
    ``_recv(timeout) -> bytes | None`` (None when nothing arrived in time).
    """

    def __init__(self) -> None:
        self._open_flag = False
        self._pending: deque[Reply] = deque()

    # -- transport hooks -------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _send(self, data: bytes) -> None: ...

    @abstractmethod
    def _recv(self, timeout: float) -> bytes | None: ...

    # -- contract ----------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._open_flag

    def _require_open(self, what: str) -> None:
        if not self._open_flag:
            raise HilStateError(f"{self.name}: {what} called on a closed backend; call open() first")

    def open(self) -> None:
        if self._open_flag:
            raise HilStateError(f"{self.name}: open() called twice; close() first")
        self._pending.clear()
        self._open()
        self._open_flag = True

    def close(self) -> None:
        if self._open_flag:
            self._open_flag = False
            self._close()

    def submit(self, frame_id: int, words, word_bytes: int = 8) -> None:
        self._require_open("submit()")
        if not isinstance(frame_id, (int, np.integer)) or not 0 <= int(frame_id) < WEIGHT_ID_BASE:
            raise InputError(f"frame_id {frame_id!r} not in [0, {WEIGHT_ID_BASE})")
        self._send(fr.encode(fr.input_frame(int(frame_id), words, word_bytes)))

    def _to_reply(self, data: bytes) -> Reply:
        now = time.perf_counter()
        try:
            f = fr.decode(data)
        except FrameError as exc:
            return Reply("bad_frame", None, received_s=now, error=exc.code, detail=str(exc))
        if f.kind == fr.Kind.RESULT:
            return Reply("result", f.frame_id, f.words(), f.cycles, now)
        if f.kind == fr.Kind.ERROR:
            return Reply("device_error", f.frame_id, received_s=now, error=f"code {f.aux}",
                         detail=f.message())
        return Reply("bad_frame", f.frame_id, received_s=now, error="unexpected_kind",
                     detail=f"device sent a {f.kind.name} frame")

    def collect(self, timeout: float) -> list[Reply]:
        self._require_open("collect()")
        if timeout < 0:
            raise InputError(f"timeout {timeout!r} must be >= 0")
        out = list(self._pending)
        self._pending.clear()
        data = self._recv(0.0 if out else timeout)
        while data is not None:
            out.append(self._to_reply(data))
            data = self._recv(0.0)
        return out

    def load_weights(self, image: bytes, timeout: float = 10.0) -> None:
        self._require_open("load_weights()")
        frames = fr.weight_frames(bytes(image), WEIGHT_ID_BASE)
        for f in frames:
            self._send(fr.encode(f))
        last = frames[-1].frame_id
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            data = self._recv(max(left, 0.0))
            if data is None:
                if left <= 0:
                    raise HilTimeout(f"{self.name}: no weight-load acknowledgement within {timeout} s")
                continue
            reply = self._to_reply(data)
            if reply.frame_id is None or reply.frame_id < WEIGHT_ID_BASE:
                self._pending.append(reply)  # a data-path reply: keep it for collect()
                continue
            if reply.kind == "device_error":
                raise DeviceError(f"{self.name}: device rejected the weight image: {reply.detail}")
            if reply.frame_id != last or reply.kind != "result":
                continue  # an ack of an older load: not ours
            want = [len(image), zlib.crc32(bytes(image))]
            if reply.words is None or list(reply.words) != want:
                raise DeviceError(f"{self.name}: weight image acknowledged as {reply.words!r}, "
                                  f"sent (length, crc32) = {want}")
            return


# -- registry ------------------------------------------------------------------------
#: Backend name -> "module:Class"; modules are imported on first use.
BACKENDS = {
    "loopback": "fixsim.hil.loopback:LoopbackBackend",
    "tcp": "fixsim.hil.tcp:TcpBackend",
    "csim": "fixsim.hil.csim:CsimBackend",
    "xdma": "fixsim.hil.xdma:XdmaBackend",
    "rogue": "fixsim.hil.rogue:RogueBackend",
}


def backend_class(name: str) -> type[Backend]:
    """The backend class registered under ``name``.

    Raises
    ------
    InputError
        Unknown name; the message lists the choices and the closest match.
    """
    if name not in BACKENDS:
        raise InputError(f"unknown HIL backend {name!r}{closest(str(name), BACKENDS)}; "
                         f"choices: {', '.join(sorted(BACKENDS))}")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_backend(name: str, **options) -> Backend:
    """Instantiate backend ``name`` with keyword ``options`` (unknown options -> InputError)."""
    cls = backend_class(name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise InputError(f"backend {name!r}: {exc}") from None
