"""``csim`` backend: a compiled C-simulation program as the device, behind TCP.

The program is a separate process speaking this stdin/stdout protocol (all integers
little-endian)::

    request  : uint32 op, uint32 n, payload
        op 1 INFER    payload = n int64 raw input words of one sample
        op 2 WEIGHTS  payload = n bytes of a weight image
        op 3 QUIT     n = 0; the program exits with status 0
    response : uint32 status, uint32 n, payload
        status 0      payload = n int64 raw output words (n = 0 for WEIGHTS)
        status != 0   payload = n bytes of UTF-8 error text

The program answers each request before reading the next, writes nothing else to
stdout (diagnostics go to stderr) and flushes after every response.  The cycle count is
*modelled* on the host by a pluggable function ``cycles(n_in, n_out)`` (default
:class:`~fixsim.hil.device.ConstantLatency`), because a C simulation has no clock.
:class:`CsimBackend` starts the process, serves it with a
:class:`~fixsim.hil.server.DeviceServer` on 127.0.0.1 and talks to it as the ``tcp``
backend does, so the whole frame path is exercised.  Point ``exe`` at any test bench
binary that speaks the protocol (e.g. the rtl/ SpeckleNN C simulation when it lands).
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .device import ConstantLatency, CycleModel
from .errors import DeviceError, InputError
from .server import DeviceServer
from .tcp import TcpBackend

OP_INFER, OP_WEIGHTS, OP_QUIT = 1, 2, 3
_HDR = struct.Struct("<II")
#: Largest response accepted from the program (words), against a runaway length field.
MAX_WORDS = 1 << 24


class CsimProcess:
    """A running C-simulation program used as a device model (thread-safe).

    Parameters
    ----------
    exe : path
        Executable speaking the protocol above.
    args : sequence of str
        Extra command-line arguments.
    cycles : callable ``(n_in, n_out) -> int``
        Cycle model.
    timeout : float
        Seconds allowed per request before the program is declared hung.
    """

    def __init__(self, exe, args: Sequence[str] = (), cycles: CycleModel | None = None,
                 timeout: float = 30.0):
        self.exe = Path(exe)
        if not self.exe.is_file() or not os.access(self.exe, os.X_OK):
            raise InputError(f"C-simulation program {str(self.exe)!r} is not an executable file")
        self.args = [str(a) for a in args]
        self.cycles = cycles or ConstantLatency()
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._stderr = None

    def start(self) -> "CsimProcess":
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen([str(self.exe), *self.args], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0)
        except OSError as exc:
            raise DeviceError(f"cannot start {str(self.exe)!r}: {exc}") from None
        return self

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return f"; stderr: {lines[-1]}" if lines else ""

    def _dead(self, what: str, settle: float = 0.0) -> DeviceError:
        """The error for a program that stopped answering.  ``settle``: seconds to wait for
        its exit status (its output has ended or its input closed: it is exiting, and the
        status may not be there yet when the pipe already says so)."""
        if self._proc is not None and settle > 0:
            try:
                self._proc.wait(timeout=settle)
            except subprocess.TimeoutExpired:
                pass
        rc = self._proc.poll() if self._proc else None
        state = f"exited with status {rc}" if rc is not None else "is not answering"
        return DeviceError(f"C-simulation program {self.exe.name} {state} ({what}){self._stderr_tail()}")

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self._proc.stdout.fileno()
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._dead(f"no complete response within {self.timeout} s")
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise self._dead("end of output", settle=min(1.0, self.timeout))
            buf += chunk
        return bytes(buf)

    def request(self, op: int, payload: bytes, n: int) -> tuple[int, bytes]:
        """Send one request; return ``(status, payload)`` of the response."""
        if self._proc is None:
            raise DeviceError("C-simulation program not started")
        with self._lock:
            try:
                self._proc.stdin.write(_HDR.pack(op, n) + payload)
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise self._dead("stdin closed", settle=min(1.0, self.timeout)) from None
            deadline = time.monotonic() + self.timeout
            status, m = _HDR.unpack(self._read_exact(_HDR.size, deadline))
            if m > MAX_WORDS:
                raise self._dead(f"response length {m} exceeds {MAX_WORDS}")
            body = self._read_exact(8 * m if status == 0 else m, deadline)
            return status, body

    def __call__(self, words: np.ndarray) -> tuple[np.ndarray, int]:
        words = np.ascontiguousarray(words, dtype="<i8")
        status, body = self.request(OP_INFER, words.tobytes(), len(words))
        if status:
            raise DeviceError(f"C simulation rejected the input: {body.decode('utf-8', 'replace')}")
        out = np.frombuffer(body, dtype="<i8").astype(np.int64)
        return out, int(self.cycles(len(words), len(out)))

    def load_weights(self, image: bytes) -> None:
        status, body = self.request(OP_WEIGHTS, bytes(image), len(image))
        if status:
            raise DeviceError(f"C simulation rejected the weight image: {body.decode('utf-8', 'replace')}")

    def stop(self) -> None:
        """Ask the program to quit; kill it if it does not within 2 s."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.stdin.write(_HDR.pack(OP_QUIT, 0))
                proc.stdin.flush()
                proc.stdin.close()
                proc.wait(timeout=2.0)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(timeout=5.0)
        finally:
            proc.stdout.close()
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None


class CsimBackend(TcpBackend):
    """C-simulation device in a separate process, reached over loopback TCP.

    Parameters
    ----------
    exe : path
        Program speaking the csim stdin/stdout protocol (module docstring).
    args : sequence of str
    cycles : callable ``(n_in, n_out) -> int``, optional
        Cycle model; default ``ConstantLatency(base_cycles, per_word, per_word)``.
    base_cycles, per_word : int
        Parameters of the default cycle model.
    request_timeout : float
        Seconds per request before the program counts as hung.
    """

    name = "csim"
    cycle_source = "model"

    def __init__(self, exe, args: Sequence[str] = (), *, cycles: CycleModel | None = None,
                 base_cycles: int = 0, per_word: int = 1, request_timeout: float = 30.0,
                 result_word_bytes: int = 8):
        super().__init__("127.0.0.1", 0)
        self.cycle_model = cycles or ConstantLatency(base_cycles, per_word, per_word)
        self._proc = CsimProcess(exe, args, self.cycle_model, request_timeout)
        self.result_word_bytes = result_word_bytes
        self._server: DeviceServer | None = None

    def _open(self) -> None:
        self._proc.start()
        try:
            self._server = DeviceServer(self._proc, "127.0.0.1", 0,
                                        result_word_bytes=self.result_word_bytes).start()
            self.port = self._server.address[1]
            super()._open()
        except BaseException:
            self._shutdown()
            raise

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._proc.stop()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._shutdown()

    def describe(self) -> dict:
        return {**super().describe(), "exe": str(self._proc.exe), "args": self._proc.args,
                "cycle_model": repr(self.cycle_model)}
