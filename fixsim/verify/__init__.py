"""Compare results of a network from any source, and certify a design.

- :mod:`.result` - :class:`Result`, the common form of every source's outputs.
- :mod:`.sources` - ``KIND:PATH`` result sources (vector sets, fixsim, float/PyTorch, C-sim,
  cosim, hardware) -> :class:`Result`; :mod:`.capture` reads the external formats.
- :mod:`.compare` - :func:`compare` (chunked, threaded Numba kernels in :mod:`.kernels`),
  text and plots in :mod:`.report`, classification agreement in :mod:`.classify`.
- :mod:`.certify` - :func:`certify`: accuracy, bit-exactness, latency and resources of the
  bundled (or given) design against its targets, written as a certificate.
"""

from .compare import Comparison, compare, hex_raw
from .result import Result
from .sources import SOURCES, SourceOptions, load_source, parse_source

__all__ = ["Result", "compare", "Comparison", "hex_raw", "SOURCES", "SourceOptions",
           "load_source", "parse_source"]
