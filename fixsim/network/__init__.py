"""Whole networks: the model spec, its weights, and the bit-exact inference engine.

>>> from fixsim.network import load_spec
>>> spec = load_spec("specklenn-snl")
>>> spec.num_params, spec.layers[0].out_shape
(64660, (7, 61, 61))
"""

from .spec import (Activation, ActivationLayer, Conv2D, Dense, Flatten, LayerFormats, MaxPool2D,
                   ModelSpec, Options, bundled_specs, load_spec)

__all__ = ["load_spec", "bundled_specs", "ModelSpec", "Options", "Activation", "LayerFormats",
           "Conv2D", "MaxPool2D", "Dense", "Flatten", "ActivationLayer", "run", "run_float",
           "prepare", "Model"]


def __getattr__(name):
    # The engine pulls in Numba kernels; importing the spec alone stays light.
    if name in ("run", "run_float", "prepare", "Model"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'fixsim.network' has no attribute {name!r}")
