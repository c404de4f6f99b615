"""fixsim: bit-accurate fixed-point simulation of SNL/HLS networks on FPGAs."""

from ._version import __version__
from .errors import FixsimError, FormatError, InputError, ToolError
from .fixed import FixedType, Overflow, Quantization

__all__ = ["__version__", "FixsimError", "FormatError", "InputError", "ToolError",
           "FixedType", "Overflow", "Quantization"]
