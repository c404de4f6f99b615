"""The model spec's values: options, activations, formats, layers and the whole model.

All are frozen dataclasses; :func:`fixsim.network.spec.load_spec` builds and validates
them (shapes inferred, options resolved per layer).  ``to_dict``/``to_json`` give the
canonical JSON form, ``resolved=True`` adds the derived fields.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, closest
from ..fixed import FixedType, product_type


# ------------------------------------------------------------------ values
@dataclass(frozen=True)
class Options:
    """Datapath switches of a conv2d/dense layer (defaults are the SNL-style assumptions).

    product : "to_accum" (each product converted to the accumulator format, then added)
        or "exact" (``acc += x*w`` with the full-width product).
    sum_order : "ci_kh_kw" or "kh_kw_ci" (conv2d only; dense sums its inputs in order).
    activation_on : "result" (convert, then activate) or "accum" (activate, then convert).
    """

    product: str = "to_accum"
    sum_order: str = "ci_kh_kw"
    activation_on: str = "result"

    def to_dict(self) -> dict:
        return {"product": self.product, "sum_order": self.sum_order,
                "activation_on": self.activation_on}


@dataclass(frozen=True)
class Activation:
    """A fused or standalone activation.  ``alpha_raw`` is alpha quantized to ``alpha_format``."""

    kind: str = "linear"
    alpha: float | None = None
    alpha_format: FixedType | None = None
    alpha_raw: int | None = None

    def to_json_value(self):
        if self.kind != "leaky_relu":
            return self.kind
        return {"leaky_relu": self.alpha, "alpha_format": str(self.alpha_format)}


@dataclass(frozen=True)
class LayerFormats:
    """Per-layer formats of a conv2d/dense layer (``bias`` is None without a bias)."""

    weight: FixedType
    bias: FixedType | None
    accum: FixedType
    result: FixedType

    def to_dict(self) -> dict:
        d = {"weight": str(self.weight), "accum": str(self.accum), "result": str(self.result)}
        if self.bias is not None:
            d["bias"] = str(self.bias)
        return d


@dataclass(frozen=True, kw_only=True)
class Layer:
    """Fields every layer has; shapes exclude the batch dimension."""

    name: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    in_format: FixedType

    type = "layer"

    @property
    def out_format(self) -> FixedType:
        return self.in_format

    @property
    def params(self) -> int:
        return 0

    def _own(self) -> dict:
        raise NotImplementedError

    def to_dict(self, resolved: bool = False) -> dict:
        d = {"name": self.name, "type": self.type, **self._own()}
        if resolved:
            d.update(in_shape=list(self.in_shape), out_shape=list(self.out_shape),
                     in_format=str(self.in_format), out_format=str(self.out_format),
                     params=self.params)
        return d


@dataclass(frozen=True, kw_only=True)
class _MacLayer(Layer):
    bias: bool
    activation: Activation
    formats: LayerFormats
    options: Options

    @property
    def out_format(self) -> FixedType:
        return self.formats.result

    @property
    def product_format(self) -> FixedType:
        """Exact type of one ``input * weight`` product."""
        return product_type(self.in_format, self.formats.weight)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def fan_in(self) -> int:
        """Number of products summed into one output (K)."""
        return int(np.prod(self.weight_shape[1:]))

    @property
    def params(self) -> int:
        return int(np.prod(self.weight_shape)) + (self.weight_shape[0] if self.bias else 0)

    def _mac_fields(self) -> dict:
        return {"bias": self.bias, "activation": self.activation.to_json_value(),
                "formats": self.formats.to_dict(), "options": self.options.to_dict()}

    def to_dict(self, resolved: bool = False) -> dict:
        d = super().to_dict(resolved)
        if resolved:
            d["product_format"] = str(self.product_format)
        return d


@dataclass(frozen=True, kw_only=True)
class Conv2D(_MacLayer):
    """2-D convolution (cross-correlation, as PyTorch), symmetric zero padding."""

    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    type = "conv2d"

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_shape[0]) + self.kernel

    def _own(self) -> dict:
        return {"out_channels": self.out_channels, "kernel": list(self.kernel),
                "stride": list(self.stride), "padding": list(self.padding), **self._mac_fields()}


@dataclass(frozen=True, kw_only=True)
class Dense(_MacLayer):
    """Fully connected layer.  ``input_permutation`` is set when its input is an hwc flatten:
    the (C, H, W) shape that was flattened, so that the PyTorch-order (c, h, w) weight
    columns can be permuted to the hwc feature order."""

    out_features: int
    input_permutation: tuple[int, int, int] | None = None
    type = "dense"

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.out_features, self.in_shape[0])

    def _own(self) -> dict:
        return {"out_features": self.out_features, **self._mac_fields()}

    def to_dict(self, resolved: bool = False) -> dict:
        d = super().to_dict(resolved)
        if resolved:
            d["input_permutation"] = (None if self.input_permutation is None
                                      else list(self.input_permutation))
        return d


@dataclass(frozen=True, kw_only=True)
class MaxPool2D(Layer):
    """Max pooling without padding; ceil mode pools partial edge windows over valid elements."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    ceil_mode: bool
    type = "maxpool2d"

    def _own(self) -> dict:
        return {"kernel": list(self.kernel), "stride": list(self.stride),
                "ceil_mode": self.ceil_mode}


@dataclass(frozen=True, kw_only=True)
class Flatten(Layer):
    """(C, H, W) to (C*H*W,) in "chw" (PyTorch) or "hwc" (streaming raster) order."""

    order: str
    type = "flatten"

    def _own(self) -> dict:
        return {"order": self.order}


@dataclass(frozen=True, kw_only=True)
class ActivationLayer(Layer):
    """A standalone elementwise activation in its input's format."""

    activation: Activation

    @property
    def type(self) -> str:  # type: ignore[override]
        return self.activation.kind

    def _own(self) -> dict:
        if self.activation.kind != "leaky_relu":
            return {}
        return {"alpha": self.activation.alpha, "alpha_format": str(self.activation.alpha_format)}


@dataclass(frozen=True)
class ModelSpec:
    """A validated network: input shape/format, global options, layers with inferred shapes."""

    name: str
    input_shape: tuple[int, int, int]
    input_format: FixedType
    options: Options
    layers: tuple[Layer, ...]
    description: str = ""
    _index: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self):
        self._index.update({l.name: l for l in self.layers})

    def layer(self, name: str) -> Layer:
        """The layer called ``name``; :class:`InputError` with a suggestion otherwise."""
        try:
            return self._index[name]
        except KeyError:
            raise InputError(f"spec {self.name!r} has no layer {name!r}"
                             f"{closest(name, self._index)}") from None

    @property
    def mac_layers(self) -> tuple[_MacLayer, ...]:
        return tuple(l for l in self.layers if isinstance(l, _MacLayer))

    @property
    def num_params(self) -> int:
        return sum(l.params for l in self.layers)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape

    @property
    def output_format(self) -> FixedType:
        return self.layers[-1].out_format

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """``"<layer>.weight"`` / ``"<layer>.bias"`` -> shape, in PyTorch layout."""
        out = {}
        for l in self.mac_layers:
            out[f"{l.name}.weight"] = l.weight_shape
            if l.bias:
                out[f"{l.name}.bias"] = (l.weight_shape[0],)
        return out

    def weight_formats(self) -> dict[str, FixedType]:
        out = {}
        for l in self.mac_layers:
            out[f"{l.name}.weight"] = l.formats.weight
            if l.bias:
                out[f"{l.name}.bias"] = l.formats.bias
        return out

    def to_dict(self, resolved: bool = False) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        d["input"] = {"shape": list(self.input_shape), "format": str(self.input_format)}
        d["options"] = self.options.to_dict()
        d["layers"] = [l.to_dict(resolved) for l in self.layers]
        if resolved:
            d["params"] = self.num_params
        return d

    def to_json(self, resolved: bool = False, indent: int | None = 2) -> str:
        """Canonical JSON (``resolved`` adds derived shapes/formats; both load back)."""
        return json.dumps(self.to_dict(resolved), indent=indent)

    def spec_hash(self) -> str:
        """sha256 (hex) of the canonical JSON: sorted keys, no whitespace, not resolved."""
        text = json.dumps(self.to_dict(False), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


__all__ = ["Options", "Activation", "LayerFormats", "Layer", "Conv2D", "Dense",
           "MaxPool2D", "Flatten", "ActivationLayer", "ModelSpec"]
