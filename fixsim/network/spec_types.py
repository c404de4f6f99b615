"""The model spec's values: options, activations, formats, weight tensors, the layer bases
and the whole model.

All are frozen dataclasses; :func:`fixsim.network.spec.load_spec` builds and validates
them (shapes inferred, options resolved per layer).  ``to_dict``/``to_json`` give the
canonical JSON form, ``resolved=True`` adds the derived fields.  Each concrete layer type
(``Conv2D``, ``Dense``, ...) lives in its kind module, :mod:`fixsim.network.kinds`.
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
    sum_order : "ci_kh_kw" or "kh_kw_ci" (conv2d only; dense sums its inputs in order), or
        "resource": hls4ml's Resource strategy with reuse factor R, the terms of the
        flattened index k (dense: the input index; conv2d: ``(kh*KW + kw)*C + ci``) in the
        order ``k = ir + R*j``, ir = 0..R-1 outer (conv2d and dense).
    activation_on : "result" (convert, then activate) or "accum" (activate, then convert).
    reuse_factor : R of sum_order "resource" (1 otherwise); in the JSON only with "resource".
    """

    product: str = "to_accum"
    sum_order: str = "ci_kh_kw"
    activation_on: str = "result"
    reuse_factor: int = 1

    def to_dict(self) -> dict:
        d = {"product": self.product, "sum_order": self.sum_order,
             "activation_on": self.activation_on}
        if self.sum_order == "resource":
            d["reuse_factor"] = self.reuse_factor
        return d


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


#: Roles of a weight tensor (``"<layer>.<role>"``).  Their indices are weight-image file
#: fields (fixsim.vectors.weight_image): append new roles, never reorder.
TENSOR_ROLES = ("weight", "bias", "scale")
#: Element orders of a weight memory: the PyTorch layout in C order, or dense columns in
#: hwc stream order.  Indices are weight-image file fields as well: append only.
TENSOR_ORDERS = ("pytorch", "dense_hwc")


@dataclass(frozen=True)
class Tensor:
    """One weight memory of a layer: raw values in ``format``, PyTorch ``shape``.

    ``order`` is the element order of the rtl/ memory (``"dense_hwc"``: the columns are
    permuted from the (C, H, W) map ``chw`` flattened in hwc order); ``fan_in`` sets the
    PyTorch-style random init bound ``1/sqrt(fan_in)``.
    """

    layer: str
    role: str
    shape: tuple[int, ...]
    format: FixedType
    fan_in: int
    order: str = "pytorch"
    chw: tuple[int, int, int] | None = None

    def __post_init__(self):
        assert self.role in TENSOR_ROLES and self.order in TENSOR_ORDERS, (self.role, self.order)

    @property
    def name(self) -> str:
        return f"{self.layer}.{self.role}"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


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

    def tensors(self) -> tuple[Tensor, ...]:
        """The weight memories this layer owns, in memory-argument order (none by default)."""
        return ()

    @property
    def params(self) -> int:
        return sum(t.size for t in self.tensors())

    @property
    def hwc_source(self) -> tuple[int, int, int] | None:
        """The (C, H, W) map this layer's flat output was flattened from in hwc order, or
        None (a dense layer fed by it permutes its PyTorch-order weight columns)."""
        return None

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
class ResultLayer(Layer):
    """A layer without weights (activation, pooling, flatten) with an optional result format.

    ``result`` None: the output keeps the input format (no conversion, the C++
    ``result_t`` is ``input_t``).  Otherwise each output value ``v`` (computed exactly in
    the input format) is converted once, ``result(v)`` with the result's Q and O modes:
    hls4ml's ``res_T`` of a standalone layer.  A result equal to the input format is
    stored as None (the same C++ type: a copy, no conversion).
    """

    result: FixedType | None = None

    @property
    def out_format(self) -> FixedType:
        return self.in_format if self.result is None else self.result

    @property
    def converts(self) -> bool:
        """The output is converted into a format of its own."""
        return self.result is not None

    def _result_fields(self) -> dict:
        """The ``formats`` key of the canonical JSON (absent without a result format)."""
        return {} if self.result is None else {"formats": {"result": str(self.result)}}


@dataclass(frozen=True, kw_only=True)
class _MacLayer(Layer):
    bias: bool
    activation: Activation
    formats: LayerFormats
    options: Options
    #: hls4ml dialect only (None otherwise): the layer's Strategy and ReuseFactor, from
    #: which its options follow (:mod:`fixsim.network.dialect`).
    strategy: str | None = None
    reuse_factor: int | None = None

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

    def tensors(self) -> tuple[Tensor, ...]:
        perm = getattr(self, "input_permutation", None)
        out = [Tensor(self.name, "weight", tuple(self.weight_shape), self.formats.weight,
                      self.fan_in, "dense_hwc" if perm is not None else "pytorch", perm)]
        if self.bias:
            out.append(Tensor(self.name, "bias", (self.weight_shape[0],), self.formats.bias,
                              self.fan_in))
        return tuple(out)

    def _mac_fields(self) -> dict:
        d = {"bias": self.bias, "activation": self.activation.to_json_value(),
             "formats": self.formats.to_dict(), "options": self.options.to_dict()}
        if self.strategy is not None:
            d.update(strategy=self.strategy, reuse_factor=self.reuse_factor)
        return d

    def to_dict(self, resolved: bool = False) -> dict:
        d = super().to_dict(resolved)
        if resolved:
            d["product_format"] = str(self.product_format)
        return d


@dataclass(frozen=True)
class Dialect:
    """A tool whose datapath the spec reproduces (``"dialect"`` in the spec JSON).

    name : "hls4ml" (the only one); io_type : "io_parallel" | "io_stream";
    strategy : "Latency" | "Resource" and reuse_factor : the defaults of the MAC layers
    (each may give its own).  :mod:`fixsim.network.dialect` states what it sets.
    """

    name: str = "hls4ml"
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1

    def to_dict(self) -> dict:
        return {"name": self.name, "io_type": self.io_type, "strategy": self.strategy,
                "reuse_factor": self.reuse_factor}


@dataclass(frozen=True)
class ModelSpec:
    """A validated network: input shape/format, global options, layers with inferred shapes."""

    name: str
    input_shape: tuple[int, ...]
    input_format: FixedType
    options: Options
    layers: tuple[Layer, ...]
    description: str = ""
    dialect: Dialect | None = None
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

    def tensors(self) -> tuple[Tensor, ...]:
        """Every weight memory, layers in order (the top function's memory arguments)."""
        return tuple(t for l in self.layers for t in l.tensors())

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """``"<layer>.weight"`` / ``"<layer>.bias"`` -> shape, in PyTorch layout."""
        return {t.name: t.shape for t in self.tensors()}

    def weight_formats(self) -> dict[str, FixedType]:
        return {t.name: t.format for t in self.tensors()}

    def to_dict(self, resolved: bool = False) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        if self.dialect is not None:
            d["dialect"] = self.dialect.to_dict()
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


MacLayer = _MacLayer  # the base of conv2d/dense-like layers (weights, accumulator, result)

__all__ = ["Options", "Activation", "LayerFormats", "Tensor", "TENSOR_ROLES", "TENSOR_ORDERS",
           "Layer", "ResultLayer", "MacLayer", "Dialect", "ModelSpec"]
