"""Bring your own model: PyTorch, ONNX/QONNX and Keras networks into a fixsim spec and weights.

:func:`import_model` reads a source (:mod:`.pytorch`, :mod:`.onnx`, :mod:`.keras`) into the
framework-neutral layer chain of :mod:`.graph`, folds or keeps BatchNorms, resolves the
formats of an hls4ml-style configuration (:mod:`.precision`), builds and validates the
spec, quantizes the weights, and checks the spec's float twin against the source model
(:mod:`.report`).  The CLI is ``fixsim import`` (docs/import.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._files import sha256_file
from ..._version import __version__
from ...errors import InputError, closest
from .graph import Graph, Op, check_types, fold_batchnorm
from .precision import Config, build_spec, read_config, write_config
from .report import FloatCheck, as_dict, layer_table

SOURCES = ("torch", "onnx", "keras")
#: File suffixes of Keras models (HDF5 of Keras 2, zip of Keras 3).
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
#: Random frames of the float check.
CHECK_FRAMES = 8


@dataclass
class ImportResult:
    """What an import produced (nothing written yet)."""

    spec: object  # ModelSpec
    float_weights: dict
    weights: dict  # raw int64, the spec's formats
    check: FloatCheck
    report: dict
    config: dict = field(default_factory=dict)  # the hls4ml-style config of the spec

    @property
    def passed(self) -> bool:
        return self.check.passed


def source_kind(model: str) -> str:
    """"onnx" for an ``.onnx`` file, "keras" for ``.h5``/``.hdf5``/``.keras``, "torch" for
    ``FILE.py:Class`` or a ``.pt2`` file."""
    if model.lower().endswith(".onnx"):
        return "onnx"
    if model.lower().endswith(KERAS_SUFFIXES):
        return "keras"
    return "torch"


def _rename(graph: Graph, pairs: list[str]) -> None:
    names = graph.names()
    seen = set(names)
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise InputError(f"--rename {pair!r} must be OLD=NEW")
        if old not in seen:
            raise InputError(f"--rename {pair!r}: the model has no layer {old!r}"
                             f"{closest(old, names)}; layers: {', '.join(names)}")
        if new in {op.name for op in graph.ops} and new != old:
            raise InputError(f"--rename {pair!r}: a layer is already called {new!r}")
        for op in graph.ops:
            if op.name == old:
                op.name = new


def _flat_input(graph: Graph) -> tuple[Graph, tuple]:
    """A flat (F,) input becomes the 1-D map (F, 1) and a flatten layer (fixsim's inputs
    are (C, H, W) or (C, L) maps)."""
    if len(graph.input_shape) != 1:
        return graph, graph.input_shape
    f = graph.input_shape[0]
    names = set(graph.names())
    name = f"{graph.input_name}_flatten"
    while name in names:
        name += "_"
    ops = [Op("flatten", name, "the flat model input", {"order": "chw"})] + graph.ops
    return Graph((f, 1), ops, graph.input_name, graph.input_format), (f,)


def import_model(model: str, *, weights: str | None = None, args: str | None = None,
                 input_shape: tuple | None = None, config: Config | None = None,
                 dialect: str = "hls4ml", keep_bn: bool = False, name: str | None = None,
                 description: str = "", rename: tuple = (), seed: int = 0,
                 frames: int = CHECK_FRAMES, precision_source: str = "",
                 sample=None) -> ImportResult:
    """Import ``model`` (``FILE.py:Class`` + ``weights``, a ``.pt2``, an ``.onnx`` or a Keras
    ``.h5``/``.keras`` file).

    Parameters
    ----------
    input_shape : tuple, optional
        Per-frame input shape (no batch); required for ``FILE.py:Class``.
    config : Config
        The precision (:func:`~.precision.read_config` or ``Config.default(P)``).
    dialect : "hls4ml" or "none" (see :func:`~.precision.build_spec`)
    sample : array, optional
        Frames of the model's input shape: profiled by ``--precision auto:W``
        (``Config.auto``), and the first :data:`CHECK_SAMPLES` join the float check.

    Raises
    ------
    InputError
        An unsupported op (naming it and the node), missing weights, dynamic shapes, a
        configuration naming layers the model does not have, a spec fixsim refuses.
    """
    from ..spec import load_spec
    from ..weights import quantize_weights

    kind = source_kind(model)
    if config is None:
        raise InputError("give the precision: --config FILE (hls4ml-style) or --precision "
                         "'ap_fixed<W,I>'")
    source = {"kind": kind, "path": model}
    act_quants: list = []
    if kind == "onnx":
        from . import onnx as onnx_import

        if weights or args:
            raise InputError("--weights and --args belong to a FILE.py:Class PyTorch model; an "
                             "ONNX file carries its weights")
        proto = onnx_import.load(model)
        graph, act_quants = onnx_import.read(proto)
        source["sha256"] = sha256_file(model)
        run_source = lambda x: onnx_import.run_source(proto, x, act_quants)  # noqa: E731
    elif kind == "keras":
        from . import keras as keras_import

        if weights or args:
            raise InputError("--weights and --args belong to a FILE.py:Class PyTorch model; a "
                             "Keras file carries its weights")
        kmodel = keras_import.load(model)
        graph = keras_import.read(kmodel)
        source.update(sha256=sha256_file(model), format=kmodel.format,
                      keras_version=kmodel.keras_version)
        run_source = lambda x: keras_import.run_source(kmodel, x)  # noqa: E731
    else:
        from . import pytorch as torch_import

        if model.endswith(".pt2"):
            if weights or args:
                raise InputError("--weights and --args belong to a FILE.py:Class model; a "
                                 ".pt2 file carries its weights")
            ep = torch_import.load_exported(model)
            graph = torch_import.graph_from_exported(ep)
            module = torch_import.ExportedRunner(ep)
            source["sha256"] = sha256_file(model)
        else:
            path = model.rpartition(":")[0]
            module = torch_import.load_class(model, args)
            if weights is None:
                raise InputError(f"{model}: missing --weights (a state dict or checkpoint .pt); "
                                 "an untrained module has no weights to import")
            if input_shape is None:
                raise InputError(f"{model}: give --input-shape (e.g. 1,65,65: one frame's shape "
                                 "without the batch)")
            torch_import.load_weights(module, weights)
            graph = torch_import.graph_from_module(module, tuple(input_shape))
            source.update(sha256=sha256_file(path), cls=model.rpartition(":")[2], args=args,
                          weights=weights, weights_sha256=sha256_file(weights))
        run_source = lambda x: torch_import.run_source(module, x)  # noqa: E731
    src_in_shape = tuple(graph.input_shape)
    if input_shape is not None and tuple(input_shape) != src_in_shape:
        raise InputError(f"--input-shape {tuple(input_shape)} differs from the model's input "
                         f"{src_in_shape}")
    _rename(graph, list(rename))
    graph = fold_batchnorm(graph, keep=keep_bn)
    graph, src_in_shape = _flat_input(graph)
    check_types(graph)
    spec_name = name or _default_name(model)
    spec_dict, names = build_spec(graph, config, name=spec_name, dialect=dialect,
                                  description=description)
    spec = load_spec(spec_dict)
    float_weights = {f"{op.name}.{role}": np.asarray(arr, np.float64)
                     for op in graph.ops for role, arr in op.tensors.items()}
    float_weights = {k: float_weights[k] for k in spec.weight_shapes()}
    if config.auto_width is not None:
        spec, names, config = _auto_spec(spec, names, graph, float_weights, config, sample,
                                         seed, spec_name, dialect, description)
    raw = quantize_weights(spec, float_weights, warn=False)
    if sample is not None:
        sample = np.asarray(sample, np.float64)
        if sample.ndim < 2 or sample[0].size != int(np.prod(src_in_shape)) \
                or not np.all(np.isfinite(sample)):
            raise InputError(f"--sample frames must be finite numbers of shape (N, "
                             f"{', '.join(map(str, src_in_shape))}), got {sample.shape}")
    check = _float_check(spec, float_weights, run_source, src_in_shape, seed, frames, sample)
    ops = {op.name: op for op in graph.ops}
    report = {"generator": f"fixsim {__version__}", "source": source,
              "precision": {"source": precision_source or config.where},
              "dialect": dialect, "keep_bn": keep_bn,
              "spec": {"name": spec.name, "hash": spec.spec_hash(), "params": spec.num_params},
              "layers": layer_table(spec, ops, names), "float_check": as_dict(check)}
    if act_quants:
        report["float_check_note"] = ("the source ran without its data-path Quant nodes "
                                      f"({', '.join(act_quants)})")
    cfg = write_config(spec, names, graph.input_name)
    if kind == "keras":  # a Keras model is channels last already: hls4ml's default 'off'
        for key in ("ChannelsLastConversion", "TransposeOutputs"):
            cfg.get("Model", {}).pop(key, None)
    return ImportResult(spec, float_weights, raw, check, report, cfg)


def _auto_spec(spec, names, graph, float_weights, config, sample, seed, spec_name, dialect,
               description):
    """The spec again with ``--precision auto:W`` formats profiled on ``sample`` frames
    (float, the model's input shape; default 256 seeded standard-normal frames)."""
    from ..engine import run_float
    from ..spec import load_spec
    from ..weights import quantize_weights
    from .precision import auto_config, bound_accum

    if sample is None:
        x = np.random.default_rng(seed).standard_normal((256,) + spec.input_shape)
    else:
        x = np.asarray(sample, np.float64)
        if x.shape[1:] != spec.input_shape:
            x = x.reshape((len(x),) + spec.input_shape) if x[0].size == int(
                np.prod(spec.input_shape)) else None
        if x is None or not np.all(np.isfinite(x)):
            raise InputError(f"--sample frames must be finite, of shape (N, "
                             f"{', '.join(map(str, spec.input_shape))})")
    taps = run_float(spec, float_weights, x, taps=True)
    auto = auto_config(spec, names, graph.input_name, float_weights, taps, config.auto_width)
    spec_dict, names = build_spec(graph, auto, name=spec_name, dialect=dialect,
                                  description=description)
    # accumulators from the bound analysis of the quantized weights (exact, never overflow)
    spec = load_spec(spec_dict)
    raw = quantize_weights(spec, float_weights, warn=False)
    accums = {}
    for layer in spec.mac_layers:
        f = layer.formats
        acc = bound_accum(layer.in_format, f.weight, f.bias, raw[f"{layer.name}.weight"],
                          raw.get(f"{layer.name}.bias"))
        if acc is not None:
            accums[layer.name] = str(acc)
    auto = auto_config(spec, names, graph.input_name, float_weights, taps, config.auto_width,
                       accums)
    spec_dict, names = build_spec(graph, auto, name=spec_name, dialect=dialect,
                                  description=description)
    return load_spec(spec_dict), names, auto


def _default_name(model: str) -> str:
    if model.lower().endswith((".onnx", ".pt2") + KERAS_SUFFIXES):
        stem = Path(model).stem
    else:
        stem = model.rpartition(":")[2]
    out = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)
    return out or "imported"


#: Sample frames (``--sample``) added to the float check's random ones, at most.
CHECK_SAMPLES = 32


def _float_check(spec, float_weights, run_source, src_in_shape, seed, frames,
                 sample=None) -> FloatCheck:
    from ..engine import run_float

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((frames,) + tuple(src_in_shape))
    if sample is not None:  # the user's frames too (their range, not just N(0, 1))
        extra = np.asarray(sample[:CHECK_SAMPLES], np.float64)
        x = np.concatenate([x, extra.reshape((len(extra),) + tuple(src_in_shape))])
        frames = len(x)
    reference = run_source(x)
    twin = run_float(spec, float_weights, x.reshape((frames,) + spec.input_shape), taps=False)
    out = twin[spec.layers[-1].name]
    return FloatCheck.compare(reference, out, seed=seed, frames=frames)


__all__ = ["import_model", "ImportResult", "SOURCES", "source_kind", "read_config", "Config",
           "CHECK_FRAMES"]
