"""A simulated XDMA card: regular files and a thread that plays the firmware.

:class:`SimulatedXdmaCard` creates ``{prefix}_h2c_N``, ``{prefix}_c2h_N`` and
``{prefix}_user`` as regular files in a directory and answers the mailbox protocol of
:mod:`fixsim.hil.xdma` with a :class:`~fixsim.hil.device.DeviceCore`.  It is the
reference model of the firmware handshake and the way the xdma backend is tested
without a card.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from .device import DeviceCore, DeviceModel
from .errors import HilStateError
from .xdma import (CONTROL_RESET, ID_VALUE, FW_VERSION, REG_C2H_LEN, REG_CONTROL, REG_CYCLES_HI,
                   REG_CYCLES_LO, REG_FRAMES_IN, REG_FRAMES_OUT, REG_H2C_LEN, REG_ID, REG_STATUS, REG_VERSION,
                   REGS_SIZE, STATUS_READY, WINDOW_BYTES, Registers, device_paths)


class SimulatedXdmaCard:
    """Thread playing the card behind simulated XDMA device files.

    Parameters
    ----------
    directory : path
        Where to create the device files.
    model : callable or DeviceCore
        Device model answering input frames.
    """

    def __init__(self, directory, model: "DeviceModel | DeviceCore", prefix: str = "xdma0",
                 channel: int = 0, *, h2c_addr: int = 0, c2h_addr: int = 0,
                 window_bytes: int = WINDOW_BYTES, poll_s: float = 20e-6):
        self.core = model if isinstance(model, DeviceCore) else DeviceCore(model)
        self.paths = device_paths(directory, prefix, channel)
        self.h2c_addr, self.c2h_addr, self.window = h2c_addr, c2h_addr, window_bytes
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    def start(self) -> "SimulatedXdmaCard":
        if self._thread is not None:
            raise HilStateError("simulated card already started")
        for key in ("h2c", "c2h"):
            with open(self.paths[key], "wb") as f:
                f.truncate(max(self.h2c_addr, self.c2h_addr) + self.window)
        with open(self.paths["user"], "wb") as f:
            f.truncate(REGS_SIZE)
        self._regs = Registers(Path(self.paths["user"]))
        self._regs.write(REG_ID, ID_VALUE)
        self._regs.write(REG_VERSION, FW_VERSION)
        self._regs.write(REG_STATUS, STATUS_READY)
        self._h2c = os.open(self.paths["h2c"], os.O_RDONLY)
        self._c2h = os.open(self.paths["c2h"], os.O_WRONLY)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fixsim-xdma-card", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        r = self._regs
        reply: bytes | None = None  # processed, waiting for the C2H mailbox
        try:
            while not self._stop.is_set():
                ctrl = r.read(REG_CONTROL)
                if ctrl & CONTROL_RESET:
                    reply = None
                    for reg in (REG_H2C_LEN, REG_C2H_LEN, REG_FRAMES_IN, REG_FRAMES_OUT):
                        r.write(reg, 0)
                    r.write(REG_CONTROL, ctrl & ~CONTROL_RESET)
                    continue
                busy = False
                n = r.read(REG_H2C_LEN)
                if reply is None and n:
                    data = os.pread(self._h2c, min(n, self.window), self.h2c_addr)
                    r.write(REG_H2C_LEN, 0)  # mailbox free: the host may send the next frame
                    r.write(REG_FRAMES_IN, r.read(REG_FRAMES_IN) + 1)
                    reply = self.core.handle(data)
                    busy = True
                if reply is not None and r.read(REG_C2H_LEN) == 0:
                    os.pwrite(self._c2h, reply, self.c2h_addr)
                    cycles = int.from_bytes(reply[16:24], "little")
                    r.write(REG_CYCLES_LO, cycles & 0xFFFFFFFF)
                    r.write(REG_CYCLES_HI, cycles >> 32)
                    r.write(REG_FRAMES_OUT, r.read(REG_FRAMES_OUT) + 1)
                    r.write(REG_C2H_LEN, len(reply))  # last: the reply is in place
                    reply, busy = None, True
                if not busy:
                    time.sleep(self.poll_s)
        except Exception as exc:  # recorded for the test; the card then goes silent
            self.errors.append(f"{type(exc).__name__}: {exc}")
            r.write(REG_STATUS, r.read(REG_STATUS) | 0x2)

    def stop(self) -> None:
        """Stop the card thread (bounded wait) and release the files."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
            self._regs.close()
            os.close(self._h2c)
            os.close(self._c2h)

    def __enter__(self) -> "SimulatedXdmaCard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
