"""``rogue`` backend: SLAC Rogue over the aes-stream-drivers ``datadev`` driver.

Data frames go through ``rogue.hardware.axi.AxiStreamDma(dev, dest, ssi)`` (one
:mod:`fixsim.hil.frame` frame per AXI-Stream frame, dest 1 by default: dest 0 carries
SRPv3 register traffic by convention); registers are read through
``rogue.hardware.axi.AxiMemMap(dev)``.  Rogue is imported lazily: it comes from conda
(tidair channels) and is never a pip dependency -- the PyPI packages named ``rogue`` and
``pyrogue`` are unrelated.  The firmware fills the cycle count of each result frame.
"""

from __future__ import annotations

import importlib
import queue
from pathlib import Path

from .backend import FramedBackend
from .errors import BackendUnavailable, DeviceError, InputError

#: One-line install hint shown when Rogue is missing.
ROGUE_HINT = ("Rogue is not installed: install it from conda with "
              "'conda install -c tidair-tag -c conda-forge rogue' (not from PyPI: the PyPI "
              "'rogue'/'pyrogue' are unrelated packages)")

#: AxiVersion register block of axi-pcie-core firmware (BAR0 + 0x2_0000); FpgaVersion at +0.
AXI_VERSION_BASE = 0x2_0000


def import_rogue():
    """Import ``rogue.hardware.axi`` and ``rogue.interfaces.{stream,memory}``.

    Raises
    ------
    BackendUnavailable
        Rogue missing (message: how to install it).
    """
    try:
        axi = importlib.import_module("rogue.hardware.axi")
        ris = importlib.import_module("rogue.interfaces.stream")
        rim = importlib.import_module("rogue.interfaces.memory")
    except ImportError:
        raise BackendUnavailable(ROGUE_HINT) from None
    return axi, ris, rim


class RogueBackend(FramedBackend):
    """HIL over a SLAC PCIe card (KCU1500) through Rogue.

    Parameters
    ----------
    dev : str
        datadev device file.
    dest : int
        AXI-Stream DMA destination (lane/VC) of the HIL data path.
    ssi : bool
        SSI framing (SOF/EOFE) as in SLAC firmware.
    """

    name = "rogue"
    #: Result cycle counts come from the firmware's counter (the CYCLES register / frame field).
    cycle_source = "firmware"

    def __init__(self, dev: str = "/dev/datadev_0", dest: int = 1, ssi: bool = True):
        super().__init__()
        if not isinstance(dest, int) or not 0 <= dest <= 255:
            raise InputError(f"rogue dest {dest!r} not in [0, 255]")
        self.dev, self.dest, self.ssi = str(dev), dest, bool(ssi)
        self._objs: list = []
        self._rx: queue.Queue[bytes] = queue.Queue()
        self.fpga_version: int | None = None

    def _open(self) -> None:
        axi, ris, rim = import_rogue()
        if not Path(self.dev).exists():
            raise BackendUnavailable(f"{self.dev} missing: is the datadev driver "
                                     "(aes-stream-drivers) loaded?")
        rx_queue = self._rx

        class _Tx(ris.Master):
            def send(self, data: bytes) -> None:
                f = self._reqFrame(len(data), True)
                f.write(bytearray(data), 0)
                self._sendFrame(f)

        class _Rx(ris.Slave):
            def _acceptFrame(self, f) -> None:
                with f.lock():
                    ba = bytearray(f.getPayload())
                    f.read(ba, 0)
                    # An SSI frame with EOFE set was truncated on the card: mark it by
                    # dropping a byte so the decoder reports it instead of trusting it.
                    if f.getError():
                        ba = ba[:-1]
                rx_queue.put(bytes(ba))

        class _Mem(rim.Master):
            def read32(self, addr: int) -> int:
                ba = bytearray(4)
                self._clearError()
                tid = self._reqTransaction(addr, ba, 4, 0, rim.Read)
                self._waitTransaction(tid)
                err = self._getError()
                if err:
                    raise DeviceError(f"register read at 0x{addr:x} failed: {err}")
                return int.from_bytes(ba, "little")

        try:
            dma = axi.AxiStreamDma(self.dev, self.dest, self.ssi)
            tx, rx, mem, mmap_ = _Tx(), _Rx(), _Mem(), axi.AxiMemMap(self.dev)
            tx._setSlave(dma)
            dma._setSlave(rx)
            mem._setSlave(mmap_)
            self.fpga_version = mem.read32(AXI_VERSION_BASE)
        except DeviceError:
            raise
        except Exception as exc:  # Rogue raises its own GeneralError types
            raise DeviceError(f"cannot open {self.dev} dest {self.dest} with Rogue: {exc}") from None
        self._objs = [dma, tx, rx, mem, mmap_]
        self._tx = tx
        while not self._rx.empty():
            self._rx.get_nowait()

    def _close(self) -> None:
        self._objs = []
        self._tx = None

    def _send(self, data: bytes) -> None:
        try:
            self._tx.send(data)
        except Exception as exc:
            raise DeviceError(f"Rogue send failed: {exc}") from None

    def _recv(self, timeout: float) -> bytes | None:
        try:
            return self._rx.get(timeout=max(timeout, 0.0)) if timeout > 0 else self._rx.get_nowait()
        except queue.Empty:
            return None

    def describe(self) -> dict:
        return {**super().describe(), "dev": self.dev, "dest": self.dest, "ssi": self.ssi,
                "fpga_version": self.fpga_version}


