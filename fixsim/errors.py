"""The one exception tree of fixsim.

Every error fixsim raises on purpose derives from :class:`FixsimError`; each subclass
also inherits the matching built-in so callers can catch either.  Only the CLI turns
errors into exit codes (2 for everything here).
"""

from __future__ import annotations

import difflib
from typing import Iterable


class FixsimError(Exception):
    """Root of all deliberate fixsim errors."""


class FormatError(FixsimError, ValueError):
    """An invalid fixed-point format, or an operation the format cannot hold."""


class InputError(FixsimError, ValueError):
    """Bad user data: malformed files, wrong shapes, out-of-range arguments."""


class ToolError(FixsimError, RuntimeError):
    """An external tool (g++, Vitis HLS, a device) failed or is missing."""


class UndefinedInHeaders(FormatError):
    """The Xilinx headers define no result for this operation (they assert)."""


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'X'?)"`` for the closest choice, or ``""``."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.4)
    return f" (did you mean {match[0]!r}?)" if match else ""
