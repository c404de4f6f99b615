"""Serve any device model over the HIL TCP protocol (loopback only).

>>> from fixsim.hil.server import DeviceServer
>>> import numpy as np
>>> with DeviceServer(lambda w: (w * 2, 10)) as srv:
...     host, port = srv.address
>>> host
'127.0.0.1'

Each connection gets a thread that reads length-prefixed frames, passes them to a
shared :class:`~fixsim.hil.device.DeviceCore` and writes the replies back.  All loops
poll a stop event, so :meth:`DeviceServer.stop` returns within ~0.1 s.
"""

from __future__ import annotations

import socket
import threading

from .backend import CYCLE_SOURCES
from .device import DeviceCore, DeviceModel
from .errors import DeviceError, HilStateError, InputError
from .tcp import FrameSocket, check_host, check_port, hello_message

_POLL_S = 0.1


class DeviceServer:
    """A threaded TCP server answering HIL frames with a device model.

    Parameters
    ----------
    model : callable or DeviceCore
        ``model(words) -> (out_words, cycles)``, optionally with ``load_weights``.
    host, port : str, int
        Bind address; loopback only unless ``allow_test_host``; port 0 picks a free port.
    cycle_source : {"model", "unknown", "firmware"}
        Declared to every client in the hello (:mod:`fixsim.hil.tcp`).  A device model's
        cycle counts are modelled, so the default is "model"; "firmware" is for tests that
        stand in for a hardware server.
    """

    def __init__(self, model: "DeviceModel | DeviceCore", host: str = "127.0.0.1", port: int = 0,
                 *, allow_test_host: bool = False, result_word_bytes: int = 8,
                 cycle_source: str = "model"):
        if cycle_source not in CYCLE_SOURCES:
            raise InputError(f"cycle_source {cycle_source!r} not one of {', '.join(CYCLE_SOURCES)}")
        self.cycle_source = cycle_source
        self.core = model if isinstance(model, DeviceCore) else DeviceCore(model, result_word_bytes)
        self.host = check_host(host, allow_test_host)
        self.port = check_port(port)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sock: socket.socket | None = None
        self.errors: list[str] = []

    @property
    def address(self) -> tuple[str, int]:
        if self._sock is None:
            raise HilStateError("server not started")
        return self._sock.getsockname()[:2]

    def start(self) -> "DeviceServer":
        if self._sock is not None:
            raise HilStateError("server already started")
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(4)
        sock.settimeout(_POLL_S)
        self._sock = sock
        self._stop.clear()
        t = threading.Thread(target=self._accept_loop, name="fixsim-hil-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=self._serve, args=(conn,), name="fixsim-hil-conn", daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        fs = FrameSocket(conn)
        try:
            fs.send(hello_message(self.cycle_source))
            while not self._stop.is_set():
                data = fs.recv(_POLL_S)
                if data is None:
                    continue
                reply = self.core.handle(data)
                if reply is not None:
                    fs.send(reply)
        except DeviceError:  # the client went away: end this connection only
            pass
        except Exception as exc:  # recorded for tests; never kills the server
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            fs.close()

    def stop(self) -> None:
        """Stop accepting, end every connection thread, and wait for them (bounded)."""
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        for t in self._threads:
            t.join(timeout=5.0)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._sock = None

    def serve_until(self, stop: threading.Event) -> None:
        """Block until ``stop`` is set (for the ``fixsim hil serve`` command)."""
        while not stop.wait(_POLL_S):
            pass

    def __enter__(self) -> "DeviceServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
