"""fixsim: bit-accurate fixed-point simulation of SNL/HLS networks on FPGAs.

>>> import fixsim
>>> t = fixsim.FixedType.parse("ap_fixed<16,6,AP_RND,AP_SAT>")
>>> raw = fixsim.quantize([0.1, 100.0], t)
>>> raw.tolist(), fixsim.to_float(raw, t).tolist()
([102, 32767], [0.099609375, 31.9990234375])
"""

from ._version import __version__
from .errors import FixsimError, FormatError, InputError, ToolError, UndefinedInHeaders
from .fixed import (FixedType, FixsimWarning, Overflow, Quantization, add, assign, convert,
                    divide, mac, matmul, multiply, quantize, subtract, to_float)

__all__ = ["__version__", "FixsimError", "FormatError", "InputError", "ToolError",
           "UndefinedInHeaders", "FixsimWarning", "FixedType", "Overflow", "Quantization",
           "quantize", "to_float", "convert", "multiply", "add", "subtract", "divide",
           "assign", "mac", "matmul"]
