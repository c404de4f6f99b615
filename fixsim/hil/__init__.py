"""Hardware in the loop: one frame format, several backends, and a bit-exact runner.

Dataflow: :mod:`~fixsim.hil.frame` (the wire format) -> :mod:`~fixsim.hil.backend`
(contract and registry) -> backends (``loopback``, ``tcp``, ``csim``, ``xdma``,
``rogue``) with the device side in :mod:`~fixsim.hil.device`,
:mod:`~fixsim.hil.server` and :mod:`~fixsim.hil.xdma_card` -> :mod:`~fixsim.hil.run`
(stream vectors, check every bit, report latency) -> :mod:`~fixsim.hil.vectors`
(vector-set reader used by ``fixsim hil run``).
"""

from .backend import BACKENDS, WEIGHT_ID_BASE, Backend, Reply, backend_class, make_backend
from .device import ConstantLatency, DeviceCore, ReplayModel
from .errors import (BackendUnavailable, BadCrc, BadField, BadKind, BadMagic, BadVersion,
                     DeviceError, FrameError, HilStateError, HilTimeout, LengthMismatch, Truncated)
from .run import HilReport, run_vectors

__all__ = [
    "BACKENDS", "WEIGHT_ID_BASE", "Backend", "Reply", "backend_class", "make_backend",
    "ConstantLatency", "DeviceCore", "ReplayModel", "HilReport", "run_vectors",
    "BackendUnavailable", "BadCrc", "BadField", "BadKind", "BadMagic", "BadVersion",
    "DeviceError", "FrameError", "HilStateError", "HilTimeout", "LengthMismatch", "Truncated",
]
