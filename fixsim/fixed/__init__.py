"""Fixed-point formats and their exact kernels (the foundation of fixsim)."""

from .format import (FixedType, Overflow, Quantization, as_format, difference_type,
                     product_type, quotient_type, sum_type)

__all__ = ["FixedType", "Overflow", "Quantization", "as_format", "product_type", "sum_type",
           "difference_type", "quotient_type"]
