"""A small framework-neutral layer list: what every importer produces.

An importer (PyTorch, ONNX) reads its source into a :class:`Graph`: the input shape
(no batch dimension) and a chain of :class:`Op` s, each already named after a fixsim layer
type (``conv2d``, ``dense``, ``relu``, ``maxpool2d``, ...) plus ``batchnorm`` with its
float statistics, with float64 tensors in PyTorch layouts.  Everything after that is
framework-neutral: :func:`fold_batchnorm` folds a BatchNorm into the conv/dense layer
before it (or keeps it as a ``batchnorm`` layer), and
:func:`fixsim.network.importers.precision.build_spec` turns the chain into a spec.

>>> g = Graph(input_shape=(4,), ops=[Op("dense", "fc", "fc", {"out_features": 2},
...           {"weight": np.ones((2, 4)), "bias": np.zeros(2)})])
>>> g.names()
['fc']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError
from ..kinds import REGISTRY

#: Ops an importer may emit that are not spec layer types themselves.
PSEUDO_OPS = ("batchnorm_stats",)
#: Layer types with weights and an accumulator (a BatchNorm folds into these).
MAC_TYPES = ("conv1d", "conv2d", "dense")
#: Activations a conv/dense layer can carry fused (SNL style).
FUSABLE = ("relu", "leaky_relu")


@dataclass
class Op:
    """One layer of the chain.

    kind : a fixsim layer type, or ``"batchnorm_stats"`` (a BatchNorm with its float
        statistics ``gamma``, ``beta``, ``mean``, ``var`` and ``attrs["eps"]``).
    name : the layer name (an identifier; hls4ml's name of the same layer).
    source : the node of the source graph, for messages.
    attrs : the spec keys of the type (kernel, stride, ...), without formats.
    tensors : float64 arrays in PyTorch layout (``weight``, ``bias``; ``scale`` of a
        batchnorm).
    formats : formats the source itself fixes (QONNX quantizers): role -> format text.
    fused : names of the activations folded into this layer (SNL style).
    """

    kind: str
    name: str
    source: str
    attrs: dict = field(default_factory=dict)
    tensors: dict = field(default_factory=dict)
    formats: dict = field(default_factory=dict)
    fused: list = field(default_factory=list)


@dataclass
class Graph:
    """The imported network: input shape (C, H, W), (C, L) or (F,), ops in order."""

    input_shape: tuple
    ops: list
    input_name: str = "x"
    input_format: str | None = None  # fixed by the source (a QONNX quantizer on the input)

    def names(self) -> list[str]:
        return [op.name for op in self.ops]


_IDENT = re.compile(r"[^A-Za-z0-9_]")


def layer_name(text: str, used: set) -> str:
    """``text`` as a unique spec layer name (an identifier other than ``input``).

    >>> layer_name("features.0", set()), layer_name("0", set()), layer_name("fc", {"fc"})
    ('features_0', 'l_0', 'fc_1')
    """
    name = _IDENT.sub("_", text.strip("/").replace(".", "_")) or "layer"
    if name[0].isdigit() or name == "input":
        name = f"l_{name}"
    base, k = name, 0
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


def fold_batchnorm(graph: Graph, keep: bool = False) -> Graph:
    """BatchNorms folded into the conv/dense layer before them, or kept as layers.

    Folding (float64): ``s = gamma / sqrt(var + eps)``, ``W' = W * s`` per output channel,
    ``b' = beta + (b - mean) * s``.  A BatchNorm with no conv/dense layer right before it,
    or every BatchNorm when ``keep``, becomes a ``batchnorm`` layer with ``scale = s`` and
    ``bias = beta - mean * s``.
    """
    out: list[Op] = []
    for op in graph.ops:
        if op.kind != "batchnorm_stats":
            out.append(op)
            continue
        t = op.tensors
        scale = t["gamma"] / np.sqrt(t["var"] + op.attrs["eps"])
        prev = out[-1] if out else None
        if not keep and prev is not None and prev.kind in MAC_TYPES and not prev.fused:
            w = prev.tensors["weight"]
            if w.shape[0] != scale.shape[0]:
                raise InputError(f"{op.source}: BatchNorm of {scale.shape[0]} channels after "
                                 f"{prev.source} with {w.shape[0]} outputs")
            bias = prev.tensors.get("bias", np.zeros(w.shape[0]))
            prev.tensors["weight"] = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
            prev.tensors["bias"] = t["beta"] + (bias - t["mean"]) * scale
            prev.attrs["bias"] = True
            prev.fused.append(op.name)
            continue
        out.append(Op("batchnorm", op.name, op.source, {},
                      {"scale": scale, "bias": t["beta"] - t["mean"] * scale}, dict(op.formats)))
    return Graph(graph.input_shape, out, graph.input_name, graph.input_format)


def check_types(graph: Graph) -> None:
    """Every op is a layer type of fixsim's registry (an importer bug otherwise)."""
    for op in graph.ops:
        if op.kind not in REGISTRY:
            raise InputError(f"{op.source}: {op.kind!r} is not a fixsim layer type")


def flat_features(shape) -> int:
    return int(np.prod(shape))


__all__ = ["Op", "Graph", "MAC_TYPES", "FUSABLE", "PSEUDO_OPS", "layer_name", "fold_batchnorm",
           "check_types"]
