"""Fixed-point formats and their exact kernels (the foundation of fixsim)."""

from .format import (FixedType, Overflow, Quantization, as_format, difference_type,
                     product_type, quotient_type, sum_type)
from .ops import (FixsimWarning, add, assign, check_raw, convert, divide, mac, matmul,
                  multiply, quantize, subtract, to_float)

__all__ = ["FixedType", "Overflow", "Quantization", "as_format", "product_type", "sum_type",
           "difference_type", "quotient_type", "quantize", "to_float", "convert", "multiply",
           "add", "subtract", "divide", "assign", "mac", "matmul", "check_raw", "FixsimWarning"]
