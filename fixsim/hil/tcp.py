"""``tcp`` backend: frames over a loopback TCP connection, each prefixed by its length.

Wire format: ``uint32 little-endian length`` then that many bytes of one
:mod:`fixsim.hil.frame` frame.  The prefix keeps the stream in step even when a frame's
own header is damaged.

Hello: right after accepting a connection a server sends one length-prefixed message
``b"FXHELLO1"`` followed by UTF-8 JSON, e.g. ``{"cycle_source": "model"}``, saying where
its cycle counts come from (:data:`fixsim.hil.backend.CYCLE_SOURCES`).  The client reports
what the server declares; a server that sends no hello (within ``hello_timeout``), or
declares anything else, has cycle source "unknown", which never certifies latency.
``fixsim hil serve`` (:class:`fixsim.hil.server.DeviceServer`) always declares "model".

Only loopback hosts are accepted unless ``allow_test_host`` is set (the CLI's
``--test-host``): this is a test harness, not a network service.
"""

from __future__ import annotations

import ipaddress
import json
import select
import socket
import struct
import time

from . import frame as fr
from .backend import FramedBackend, cycle_source_label
from .errors import DeviceError, InputError

PREFIX = struct.Struct("<I")
#: First bytes of the server's hello message (see the module docstring).
HELLO_MAGIC = b"FXHELLO1"


def hello_message(cycle_source: str) -> bytes:
    """The hello a server sends first: magic and ``{"cycle_source": ...}`` as JSON."""
    return HELLO_MAGIC + json.dumps({"cycle_source": cycle_source}).encode()


def parse_hello(data: bytes | None) -> str | None:
    """The cycle source a hello declares (None if ``data`` is not a hello)."""
    if data is None or not data.startswith(HELLO_MAGIC):
        return None
    try:
        info = json.loads(data[len(HELLO_MAGIC):].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "unknown"
    return cycle_source_label(info.get("cycle_source") if isinstance(info, dict) else None)


def check_host(host: str, allow_test_host: bool = False) -> str:
    """Return ``host`` if it is a loopback address (or allowed explicitly).

    Raises
    ------
    InputError
        A non-loopback host without ``allow_test_host``.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_test_host:
        raise InputError(f"refusing non-loopback host {host!r}: HIL TCP is for 127.0.0.1 only "
                         "(pass allow_test_host=True / --test-host for a dedicated test host)")
    return host


def check_port(port) -> int:
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError(f"port {port!r} not in [0, 65535]")
    return port


class FrameSocket:
    """Length-prefixed frames over a connected socket, with deadlines and a resync buffer."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sock.setblocking(False)
        self._buf = bytearray()

    def send(self, data: bytes, timeout: float = 10.0) -> None:
        msg = memoryview(PREFIX.pack(len(data)) + data)
        deadline = time.monotonic() + timeout
        while msg:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceError(f"peer did not accept data within {timeout} s")
            _, w, _ = select.select([], [self.sock], [], left)
            if not w:
                continue
            try:
                n = self.sock.send(msg)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                raise DeviceError(f"connection lost while sending: {exc}") from None
            msg = msg[n:]

    def _complete(self) -> bytes | None:
        if len(self._buf) < PREFIX.size:
            return None
        (n,) = PREFIX.unpack_from(self._buf)
        if n > fr.HEADER_SIZE + fr.MAX_PAYLOAD:
            raise DeviceError(f"length prefix {n} exceeds the largest frame: stream out of step")
        if len(self._buf) < PREFIX.size + n:
            return None
        data = bytes(self._buf[PREFIX.size:PREFIX.size + n])
        del self._buf[:PREFIX.size + n]
        return data

    def recv(self, timeout: float) -> bytes | None:
        """One frame's bytes, or None if none completed within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            data = self._complete()
            if data is not None:
                return data
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.sock], [], [], max(left, 0.0))
            if not r:
                if left <= 0:
                    return None
                continue
            try:
                chunk = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                raise DeviceError(f"connection lost while receiving: {exc}") from None
            if not chunk:
                raise DeviceError("peer closed the connection")
            self._buf += chunk

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class TcpBackend(FramedBackend):
    """Client of a HIL device served over TCP (see :mod:`fixsim.hil.server`).

    Parameters
    ----------
    host : str
        Loopback address (default 127.0.0.1); others need ``allow_test_host``.
    port : int
    connect_timeout : float
        Seconds to wait for the connection.
    hello_timeout : float
        Seconds to wait for the server's hello; without one the cycle source is "unknown".
    """

    name = "tcp"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, allow_test_host: bool = False,
                 connect_timeout: float = 5.0, hello_timeout: float = 2.0):
        super().__init__()
        self.host = check_host(host, allow_test_host)
        self.port = check_port(port)
        self.connect_timeout = float(connect_timeout)
        self.hello_timeout = float(hello_timeout)
        self._fs: FrameSocket | None = None
        # Until the server's hello: what the class says (a subclass may know its device).
        self.cycle_source = type(self).cycle_source

    def _open(self) -> None:
        if self.port == 0:
            raise InputError("tcp backend needs a port (--port)")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise DeviceError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._fs = FrameSocket(sock)
        first = self._fs.recv(self.hello_timeout)
        declared = parse_hello(first)
        if declared is None:
            self.cycle_source, self.cycle_source_declared_by = "unknown", "nobody"
            if first is not None:  # a server without hello that spoke first: keep its frame
                self._pending.append(self._to_reply(first))
        else:
            self.cycle_source, self.cycle_source_declared_by = declared, "server"

    def _close(self) -> None:
        if self._fs is not None:
            self._fs.close()
            self._fs = None

    def _send(self, data: bytes) -> None:
        self._fs.send(data)

    def _recv(self, timeout: float) -> bytes | None:
        return self._fs.recv(timeout)

    def describe(self) -> dict:
        return {**super().describe(), "host": self.host, "port": self.port}
