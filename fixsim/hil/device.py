"""Device side of the HIL protocol: turn request frames into reply frames.

A *device model* is any callable ``model(words) -> (out_words, cycles)`` taking the raw
int64 input words of one sample and returning its raw output words and a cycle count.
It may also have ``load_weights(image: bytes)``.  :class:`DeviceCore` wraps a model
with the protocol rules (weight-chunk assembly, error frames) and is shared by the TCP
server, the loopback backend and the simulated XDMA card, so all of them answer alike.
"""

from __future__ import annotations

import struct
import threading
from typing import Callable, Protocol

import numpy as np

from .._validate import check_int
from ..errors import FixsimError
from . import frame as fr
from .errors import FrameError, InputError


class DeviceModel(Protocol):
    def __call__(self, words: np.ndarray) -> tuple[np.ndarray, int]: ...


CycleModel = Callable[[int, int], int]


class ConstantLatency:
    """Modelled cycle count: ``base + per_input_word * n_in + per_output_word * n_out``.

    ``base`` would be a predicted latency (e.g. csynth Worst-caseLatency); the per-word
    costs model streaming one word per beat.  Deterministic, so runs are reproducible.
    """

    def __init__(self, base: int = 0, per_input_word: int = 1, per_output_word: int = 1):
        for k, v in (("base", base), ("per_input_word", per_input_word),
                     ("per_output_word", per_output_word)):
            check_int(f"cycle model {k}", v, minimum=0)
        self.base, self.per_in, self.per_out = int(base), int(per_input_word), int(per_output_word)

    def __call__(self, n_in: int, n_out: int) -> int:
        return self.base + self.per_in * n_in + self.per_out * n_out

    def __repr__(self) -> str:
        return (f"ConstantLatency(base={self.base}, per_input_word={self.per_in}, "
                f"per_output_word={self.per_out})")


class ReplayModel:
    """A device that answers each known input with its expected output.

    It exercises transports and the runner with real vector sets when no network model
    is at hand; an input it has never seen is an error (never a made-up answer).
    """

    def __init__(self, inputs: np.ndarray, expected: np.ndarray, cycles: CycleModel | None = None):
        inputs = np.asarray(inputs, dtype=np.int64).reshape(len(inputs), -1)
        expected = np.asarray(expected, dtype=np.int64).reshape(len(expected), -1)
        if len(inputs) != len(expected):
            raise InputError(f"{len(inputs)} inputs but {len(expected)} expected outputs")
        self._table = {row.tobytes(): out for row, out in zip(inputs, expected, strict=True)}
        self._cycles = cycles or ConstantLatency()

    def __call__(self, words: np.ndarray) -> tuple[np.ndarray, int]:
        key = np.asarray(words, dtype=np.int64).tobytes()
        if key not in self._table:
            raise InputError(f"replay device: unknown input of {len(words)} words")
        out = self._table[key]
        return out, self._cycles(len(words), len(out))


class DeviceCore:
    """Protocol engine of a device: ``handle(request_bytes) -> reply_bytes | None``.

    Thread-safe (one lock), so a server may call it from several connections.
    """

    def __init__(self, model: DeviceModel, result_word_bytes: int = 8):
        if result_word_bytes not in fr.WORD_DTYPES:
            raise InputError(f"result_word_bytes {result_word_bytes!r} not in {sorted(fr.WORD_DTYPES)}")
        self.model = model
        self.result_word_bytes = result_word_bytes
        self._image = bytearray()
        self._lock = threading.Lock()
        self.frames_in = 0

    def handle(self, data: bytes) -> bytes | None:
        with self._lock:
            self.frames_in += 1
            reply = self._handle(data)
            return None if reply is None else fr.encode(reply)

    def _handle(self, data: bytes) -> fr.Frame | None:
        try:
            f = fr.decode(data)
        except FrameError as exc:
            # The id of a damaged frame is a best guess; the host treats it as untrusted.
            fid = struct.unpack_from("<I", data, 8)[0] if len(data) >= 12 else fr.MAX_FRAME_ID
            return fr.error_frame(fid, fr.ERR_BAD_FRAME, f"{exc.code}: {exc}")
        if f.kind == fr.Kind.INPUT:
            try:
                out, cycles = self.model(f.words())
                return fr.result_frame(f.frame_id, out, int(cycles), self.result_word_bytes)
            except FixsimError as exc:
                return fr.error_frame(f.frame_id, fr.ERR_BAD_INPUT, str(exc))
            except Exception as exc:  # a model bug must become an error frame, not a dead device
                return fr.error_frame(f.frame_id, fr.ERR_INTERNAL, f"{type(exc).__name__}: {exc}")
        if f.kind == fr.Kind.WEIGHTS:
            if f.aux == 0:
                self._image = bytearray()
            if f.aux != len(self._image):
                got = len(self._image)
                self._image = bytearray()
                return fr.error_frame(f.frame_id, fr.ERR_WEIGHTS,
                                      f"weight chunk at offset {f.aux}, expected {got}")
            self._image += f.payload
            if not f.last:
                return None
            image, self._image = bytes(self._image), bytearray()
            loader = getattr(self.model, "load_weights", None)
            if loader is not None:
                try:
                    loader(image)
                except Exception as exc:  # reported to the host as a rejected image
                    return fr.error_frame(f.frame_id, fr.ERR_WEIGHTS, f"{type(exc).__name__}: {exc}")
            return fr.weights_ack(f.frame_id, image)
        return fr.error_frame(f.frame_id, fr.ERR_BAD_FRAME, f"device does not accept {f.kind.name} frames")
