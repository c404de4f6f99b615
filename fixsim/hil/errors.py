"""Errors of the hardware-in-the-loop layer, all under :class:`fixsim.errors.FixsimError`.

Frame decoding problems are :class:`FrameError` subclasses (one per failure, so a
runner can count them by kind); transport and device problems are :class:`ToolError`
subclasses; calling the backend contract in the wrong order is :class:`HilStateError`.
"""

from __future__ import annotations

from ..errors import FixsimError, InputError, ToolError

__all__ = [
    "FrameError", "BadMagic", "BadVersion", "BadKind", "BadCrc", "Truncated",
    "LengthMismatch", "BadField", "HilStateError", "HilTimeout", "DeviceError",
    "BackendUnavailable", "InputError",
]


class FrameError(FixsimError, ValueError):
    """A byte string is not a valid fixsim HIL frame."""

    #: Short machine name of the failure, used as a key in run reports.
    code = "frame_error"


class Truncated(FrameError):
    """Fewer bytes than the fixed header, or than the header's payload length."""

    code = "truncated"


class BadMagic(FrameError):
    """The first four bytes are not the frame magic."""

    code = "bad_magic"


class LengthMismatch(FrameError):
    """More bytes than header + payload length, or a payload not a whole number of words."""

    code = "length_mismatch"


class BadCrc(FrameError):
    """The CRC32 of header and payload does not match the CRC field."""

    code = "bad_crc"


class BadVersion(FrameError):
    """A frame with a valid CRC but a protocol version this host does not speak."""

    code = "bad_version"


class BadKind(FrameError):
    """A frame with a valid CRC but an unknown frame kind."""

    code = "bad_kind"


class BadField(FrameError):
    """A frame with a valid CRC but an inconsistent field (word width, flags)."""

    code = "bad_field"


class HilStateError(FixsimError, RuntimeError):
    """A backend method called in the wrong state (submit before open, ...)."""


class HilTimeout(ToolError, TimeoutError):
    """The device did not answer within the timeout."""


class DeviceError(ToolError):
    """The device, its transport, or the process behind it failed or reported an error."""


class BackendUnavailable(ToolError):
    """A backend whose vendor software or device files are not present on this host."""
