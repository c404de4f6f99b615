"""Per-layer exact kernels (Conv2D, MaxPool2D, Dense, activations, Flatten) and float64 twins.

Every exact layer works on int64 raw mantissas and follows docs/datapath.md; conv2d and
dense take a :class:`MacConfig` (the layer's ``CONFIG_T``: formats and switches).
"""

from .activations import activation, activation_float
from .conv2d import conv2d, conv2d_float
from .dense import dense, dense_float
from .flatten import flatten, hwc_permutation
from .mac import METHODS, MacConfig, order_free_reason
from .pool import maxpool2d, maxpool2d_float, pool_out

__all__ = ["MacConfig", "METHODS", "conv2d", "conv2d_float", "dense", "dense_float",
           "maxpool2d", "maxpool2d_float", "pool_out", "flatten", "hwc_permutation",
           "activation", "activation_float", "order_free_reason"]
