"""``tcp`` backend: frames over a loopback TCP connection, each prefixed by its length.

Wire format: ``uint32 little-endian length`` then that many bytes of one
:mod:`fixsim.hil.frame` frame.  The prefix keeps the stream in step even when a frame's
own header is damaged.  Only loopback hosts are accepted unless ``allow_test_host`` is
set (the CLI's ``--test-host``): this is a test harness, not a network service.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import struct
import time

from . import frame as fr
from .backend import FramedBackend
from .errors import DeviceError, InputError

PREFIX = struct.Struct("<I")


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
    """

    name = "tcp"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, allow_test_host: bool = False,
                 connect_timeout: float = 5.0):
        super().__init__()
        self.host = check_host(host, allow_test_host)
        self.port = check_port(port)
        self.connect_timeout = float(connect_timeout)
        self._fs: FrameSocket | None = None

    def _open(self) -> None:
        if self.port == 0:
            raise InputError("tcp backend needs a port (--port)")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise DeviceError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._fs = FrameSocket(sock)

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
