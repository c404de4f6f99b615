"""``xdma`` backend: Xilinx XDMA character devices, in memory-mapped (AXI-MM) mode.

Device files (``/dev/xdma0_*`` by default)::

    {prefix}_h2c_{N}   host -> card DMA; ``os.pwrite(fd, frame, h2c_addr)``
    {prefix}_c2h_{N}   card -> host DMA; ``os.pread(fd, length, c2h_addr)``
    {prefix}_user      AXI-Lite registers, mmap'd (window of REGS_SIZE bytes at user_offset)

Register map (32-bit little-endian words at byte offsets from ``user_offset``):

    0x00 ID          read-only, 0x4C485846 (b"FXHL")
    0x04 VERSION     read-only, firmware protocol version (1)
    0x08 CONTROL     bit 0 RUN: host sets it on open, clears it on close;
                     bit 1 RESET: host sets it on open; the card drops any frame in
                     flight, zeroes H2C_LEN, C2H_LEN and the counters, then clears it
    0x0C STATUS      bit 0 READY (card alive), bit 1 ERROR
    0x10 H2C_LEN     host writes a frame's length after the pwrite (doorbell);
                     the card clears it to 0 once it has taken the frame
    0x14 C2H_LEN     card writes a reply's length after placing it at c2h_addr;
                     the host clears it to 0 once it has read the reply
    0x18 CYCLES_LO   cycle count of the last reply (first input beat to last output
    0x1C CYCLES_HI   beat); the same value is in the reply frame header
    0x20 FRAMES_IN   frames taken by the card (wrapping counter)
    0x24 FRAMES_OUT  replies produced by the card (wrapping counter)

One frame can be in each mailbox at a time; while waiting for the H2C mailbox the host
drains the C2H one, so neither side can block the other.  The same protocol is played
by :class:`fixsim.hil.xdma_card.SimulatedXdmaCard` on regular files, which is how it is
tested without a card.
"""

from __future__ import annotations

import mmap
import os
import stat
import time
from collections import deque
from pathlib import Path

from .backend import FramedBackend
from .errors import BackendUnavailable, DeviceError, HilTimeout, InputError

REG_ID, REG_VERSION, REG_CONTROL, REG_STATUS = 0x00, 0x04, 0x08, 0x0C
REG_H2C_LEN, REG_C2H_LEN, REG_CYCLES_LO, REG_CYCLES_HI = 0x10, 0x14, 0x18, 0x1C
REG_FRAMES_IN, REG_FRAMES_OUT = 0x20, 0x24
ID_VALUE = int.from_bytes(b"FXHL", "little")
FW_VERSION = 1
REGS_SIZE = 0x1000
CONTROL_RUN, CONTROL_RESET = 0x1, 0x2
STATUS_READY, STATUS_ERROR = 0x1, 0x2
#: Default size of each DMA mailbox window in card memory.
WINDOW_BYTES = 1 << 20


def device_paths(device_dir, prefix: str, channel: int) -> dict[str, Path]:
    d = Path(device_dir)
    return {"h2c": d / f"{prefix}_h2c_{channel}", "c2h": d / f"{prefix}_c2h_{channel}",
            "user": d / f"{prefix}_user"}


class Registers:
    """32-bit AXI-Lite register window over an mmap'd file."""

    def __init__(self, path: Path, offset: int = 0, size: int = REGS_SIZE):
        self._fd = os.open(path, os.O_RDWR | getattr(os, "O_SYNC", 0))
        try:
            self._mm = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                                 offset=offset)
        except (OSError, ValueError) as exc:
            os.close(self._fd)
            raise DeviceError(f"cannot mmap {size} bytes of {str(path)!r} at 0x{offset:x}: {exc}") from None
        # 32-bit element access, so each register read/write is one aligned load/store.
        self._words = memoryview(self._mm).cast("I")

    def read(self, off: int) -> int:
        return int(self._words[off // 4])

    def write(self, off: int, value: int) -> None:
        self._words[off // 4] = value & 0xFFFFFFFF

    def close(self) -> None:
        if self._words is not None:
            self._words.release()
            self._words = None
            self._mm.close()
            os.close(self._fd)


class XdmaBackend(FramedBackend):
    """HIL over XDMA device files (real card, or simulated files in a directory).

    Parameters
    ----------
    device_dir : path
        Directory holding the device files (``/dev`` on a host with the card).
    prefix : str
        Device name prefix, ``xdma0`` for the first card.
    channel : int
        DMA channel N of ``_h2c_N`` / ``_c2h_N``.
    user_offset : int
        Byte offset of the register window in the user BAR (page aligned).
    h2c_addr, c2h_addr : int
        Card-memory addresses of the two mailboxes.
    window_bytes : int
        Size of each mailbox; frames must fit.
    poll_s : float
        Register polling interval.
    """

    name = "xdma"
    #: Result cycle counts come from the firmware's counter (the CYCLES register / frame field).
    cycle_source = "firmware"

    def __init__(self, device_dir="/dev", prefix: str = "xdma0", channel: int = 0, *,
                 user_offset: int = 0, h2c_addr: int = 0, c2h_addr: int = 0,
                 window_bytes: int = WINDOW_BYTES, poll_s: float = 20e-6, send_timeout: float = 10.0):
        super().__init__()
        if not isinstance(channel, int) or not 0 <= channel <= 3:
            raise InputError(f"XDMA channel {channel!r} not in [0, 3]")
        if user_offset % mmap.ALLOCATIONGRANULARITY:
            raise InputError(f"user_offset 0x{user_offset:x} is not page aligned")
        self.paths = device_paths(device_dir, prefix, channel)
        self.user_offset, self.h2c_addr, self.c2h_addr = user_offset, h2c_addr, c2h_addr
        self.window_bytes, self.poll_s, self.send_timeout = window_bytes, poll_s, send_timeout
        self._fds: dict[str, int] = {}
        self._regs: Registers | None = None
        self._inbox: deque[bytes] = deque()

    def _open(self) -> None:
        missing = [str(p) for p in self.paths.values() if not p.exists()]
        if missing:
            raise BackendUnavailable(
                f"XDMA device files missing: {', '.join(missing)} (is the card in and the "
                "Xilinx dma_ip_drivers xdma.ko module loaded?)")
        try:
            self._fds["h2c"] = os.open(self.paths["h2c"], os.O_WRONLY)
            self._fds["c2h"] = os.open(self.paths["c2h"], os.O_RDONLY)
            self._regs = Registers(self.paths["user"], self.user_offset)
            ident, ver = self._regs.read(REG_ID), self._regs.read(REG_VERSION)
            if ident != ID_VALUE:
                raise DeviceError(f"no fixsim HIL firmware at {self.paths['user']}: ID register "
                                  f"0x{ident:08x}, expected 0x{ID_VALUE:08x}")
            if ver != FW_VERSION:
                raise DeviceError(f"firmware protocol version {ver}, this host speaks {FW_VERSION}")
            if not self._regs.read(REG_STATUS) & STATUS_READY:
                raise DeviceError("card not READY (STATUS bit 0 clear)")
            # Reset first: a reply of an earlier session must never reach this one.
            self._regs.write(REG_CONTROL, CONTROL_RESET)
            deadline = time.monotonic() + self.send_timeout
            while self._regs.read(REG_CONTROL) & CONTROL_RESET:
                if time.monotonic() > deadline:
                    raise DeviceError(f"card did not acknowledge RESET within {self.send_timeout} s")
                time.sleep(self.poll_s)
            self._regs.write(REG_CONTROL, CONTROL_RUN)
            # A card's device files are character devices; regular files are a simulation
            # (SimulatedXdmaCard): its cycle counts are not a firmware counter's.
            if all(stat.S_ISCHR(os.stat(p).st_mode) for p in self.paths.values()):
                self.cycle_source, self.cycle_source_declared_by = "firmware", "backend"
            else:
                self.cycle_source, self.cycle_source_declared_by = "unknown", "backend"
        except OSError as exc:
            self._close()
            raise DeviceError(f"cannot open XDMA device: {exc}") from None
        except BaseException:
            self._close()
            raise
        self._inbox.clear()

    def _close(self) -> None:
        if self._regs is not None:
            try:
                self._regs.write(REG_CONTROL, 0)
            finally:
                self._regs.close()
                self._regs = None
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def _take_reply(self) -> bool:
        """Move a waiting reply from the C2H mailbox to the inbox; True if there was one."""
        n = self._regs.read(REG_C2H_LEN)
        if n == 0:
            return False
        if n > self.window_bytes:
            raise DeviceError(f"C2H_LEN {n} exceeds the {self.window_bytes}-byte window")
        data = os.pread(self._fds["c2h"], n, self.c2h_addr)
        self._regs.write(REG_C2H_LEN, 0)
        self._inbox.append(data)
        return True

    def _send(self, data: bytes) -> None:
        if len(data) > self.window_bytes:
            raise InputError(f"frame of {len(data)} bytes exceeds the {self.window_bytes}-byte H2C window")
        deadline = time.monotonic() + self.send_timeout
        while self._regs.read(REG_H2C_LEN) != 0:
            if self._regs.read(REG_STATUS) & STATUS_ERROR:
                raise DeviceError("card reports ERROR (STATUS bit 1)")
            if not self._take_reply():
                if time.monotonic() > deadline:
                    raise HilTimeout(f"H2C mailbox still full after {self.send_timeout} s")
                time.sleep(self.poll_s)
        written = os.pwrite(self._fds["h2c"], data, self.h2c_addr)
        if written != len(data):
            raise DeviceError(f"short DMA write: {written} of {len(data)} bytes")
        self._regs.write(REG_H2C_LEN, len(data))  # doorbell, after the data is in place

    def _recv(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while not self._inbox:
            if self._take_reply():
                break
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll_s)
        return self._inbox.popleft()

    def last_cycles(self) -> int:
        """The CYCLES register pair (cycle count of the card's last reply)."""
        self._require_open("last_cycles()")
        return self._regs.read(REG_CYCLES_LO) | self._regs.read(REG_CYCLES_HI) << 32

    def describe(self) -> dict:
        return {**super().describe(), "device_files": {k: str(v) for k, v in self.paths.items()}}


