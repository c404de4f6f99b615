"""The layer types of the Python twin: one :class:`LayerKind` per spec ``"type"``.

:data:`REGISTRY` maps every type name to its kind; the spec loader, the float twin
(:func:`fixsim.network.run_float`) and the prepared model dispatch through it and
nowhere else.  A layer type lives in one module here: its spec value (a frozen
dataclass), its parser (schema, validation, shapes, formats), its weight tensors, its
prepared state, its exact runner and its float twin.  docs/extending.md lists every
other place a new type is registered (the C++ codegen table, the latency model).

>>> [t for t in ("conv2d", "dense", "maxpool2d", "relu") if t in REGISTRY]
['conv2d', 'dense', 'maxpool2d', 'relu']
>>> kind_of("conv2d").fuses_with
('maxpool2d',)
"""

from __future__ import annotations

from ...errors import InputError, closest
from . import activation, avgpool, batchnorm, conv1d, conv2d, dense, flatten, lut, pool, pool1d, zeropad
from .activation import ActivationLayer
from .base import LayerKind, ParseContext
from .conv1d import Conv1D
from .conv2d import Conv2D
from .dense import Dense
from .flatten import Flatten
from .mac import MacKind, MacStep, mac_config
from .pool import MaxPool2D
from .pool1d import MaxPool1D
from .zeropad import ZeroPad1D, ZeroPad2D


def _register(*modules) -> dict[str, LayerKind]:
    table: dict[str, LayerKind] = {}
    for module in modules:
        for kind in module.KINDS:
            assert kind.name and kind.name not in table, f"layer type {kind.name!r} registered twice"
            table[kind.name] = kind
    return table


#: Spec type name -> its kind (in the order the docs list them).
REGISTRY: dict[str, LayerKind] = _register(conv2d, pool, dense, flatten, activation, conv1d,
                                           pool1d, zeropad, avgpool, batchnorm, lut)
#: The spec type names.
LAYER_TYPES: tuple[str, ...] = tuple(REGISTRY)


def kind_of(type_name: str, where: str = "") -> LayerKind:
    """The kind of a spec type name.

    Raises
    ------
    InputError
        An unknown name, with the closest known one and the list of known types.
    """
    kind = REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if kind is None:
        hint = closest(type_name, LAYER_TYPES) if isinstance(type_name, str) else ""
        raise InputError(f"{where + ': ' if where else ''}unknown layer type {type_name!r}{hint}; "
                         f"allowed: {', '.join(LAYER_TYPES)}")
    return kind


__all__ = ["REGISTRY", "LAYER_TYPES", "LayerKind", "ParseContext", "MacKind", "MacStep",
           "kind_of", "mac_config", "Conv2D", "Dense", "MaxPool2D", "Flatten", "ActivationLayer",
           "Conv1D", "MaxPool1D", "ZeroPad1D", "ZeroPad2D"]
