"""Result sources: ``KIND:PATH`` -> :class:`~fixsim.verify.result.Result`.

| kind | PATH | what is loaded |
|---|---|---|
| ``vectors`` | vector set dir | the set's expected raw outputs of every layer |
| ``fixsim`` | vector set dir | :func:`fixsim.network.run` on the set's inputs and weights |
| ``float`` | vector set dir | :func:`fixsim.network.run_float` (float64) on the set's float frames (else the dequantized inputs) with the set's weights dequantized (their exact values) |
| ``torch`` | vector set dir | the golden PyTorch float model (float32, unquantized folded weights) on the same frames, every layer |
| ``csim`` | vector set dir | the rtl/ C++ twin, built with g++ and run on the set (:mod:`fixsim.csim.twin`) |
| ``cosim`` | run dir or log | ``tap_<layer>.bin`` files of a C/RTL cosim run, or a ``FIXSIM_TAP`` log |
| ``taps`` | dir | ``tap_<layer>.bin`` files (``fixsim csim --out``) |
| ``hw`` | ``.npz`` / ``.json`` | a hardware capture, or a ``fixsim hil run`` report (no per-frame outputs) |

A bare existing directory is ``vectors:DIR``.  Unknown kinds are an :class:`InputError`
naming the closest kind.
"""  # noqa: E501 (a table row is one line)

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError, closest
from . import capture
from .defaults import golden_dir
from .result import Result


@dataclass
class SourceOptions:
    """Settings shared by the source loaders.

    Parameters
    ----------
    model : ModelSpec, name or path, optional
        The network for sources that do not name it (cosim logs, tap dirs, captures).
    golden : path, optional
        Golden model directory for ``torch`` (default :func:`~fixsim.verify.defaults.golden_dir`).
    threads : int, optional
        Threads of :func:`fixsim.network.run`.
    log : callable, optional
        ``log(message)`` for progress lines.
    data : path, optional
        A frames file (``fixsim data import``): the computing sources (``fixsim``,
        ``float``, ``torch``, ``csim``) run the set's spec and weights on its frames
        instead of the set's inputs; ``vectors`` is refused (its expected outputs are of
        the set's own frames).
    """

    model: object = None
    golden: object = None
    threads: int | None = None
    log: Callable[[str], None] | None = None
    data: object = None
    _sets: dict = field(default_factory=dict, repr=False)

    def say(self, msg: str) -> None:
        if self.log is not None:
            self.log(msg)


def load_vector_set(path, opts: SourceOptions):
    """The vector set at ``path`` (verified once per options object)."""
    key = str(Path(path).resolve())
    if key not in opts._sets:
        try:
            from ..vectors import load_vector_set as load
        except ImportError as exc:  # pragma: no cover - fixsim.vectors ships with fixsim
            raise InputError(f"vector sets need fixsim.vectors ({exc})") from None
        if not Path(path).is_dir():
            raise InputError(f"vector set {str(path)!r} is not a directory")
        opts.say(f"loading vector set {path}")
        # stored dtypes (int16 memory maps for specklenn-snl): compare streams them in
        # chunks; widening a 10k-frame set to int64 took 3.2 GB
        opts._sets[key] = load(path, verify=True, widen=False)
        if opts.data is not None:
            opts._sets[key] = on_data(opts._sets[key], opts.data, opts.log)
    return opts._sets[key]


def on_data(vs, data, log=None):
    """The vector set ``vs`` with the frames of the frames file ``data`` as its inputs.

    The frames are quantized to the spec's input format as ``vectors gen`` does
    (:func:`fixsim.vectors.sources.read_source`: same shape checks, same NaN/inf rule);
    labels come from the file when it has them.  The set's expected outputs are dropped
    (they belong to other frames).  ``info`` records the file's provenance.
    """
    import dataclasses

    from ..data.frames_file import load_frames
    from ..vectors.sources import from_frames

    ff = load_frames(data)
    if log is not None:
        log(f"frames of {data}: {ff.n} frames, labels {'yes' if ff.labels is not None else 'no'}")
    src = from_frames(vs.spec, ff.frames, ff.labels, ff.class_names,
                      {"kind": "file", "file": Path(data).name})
    return dataclasses.replace(vs, inputs=src.inputs, frames=src.frames, labels=src.labels,
                               class_names=src.class_names, taps={},
                               manifest={**vs.manifest, "data": ff.provenance()})


def _set_result(vs, source: str, kind: str, taps: dict, fixed: bool, **info) -> Result:
    names = getattr(vs, "class_names", None)
    if "data" in vs.manifest:
        info = {"data": vs.manifest["data"], **info}
    return Result(source, kind, vs.spec, taps, fixed, labels=vs.labels, class_names=names,
                  info={"vector_set": str(vs.path), **info})


def _vectors(path, source, opts):
    if opts.data is not None:
        raise InputError(f"{source}: a vector set's expected outputs are of its own frames, "
                         "not of --data; compare computing sources (fixsim:, float:, torch:, "
                         "csim:) on the data")
    vs = load_vector_set(path, opts)
    return _set_result(vs, source, "vectors", dict(vs.taps), True)


#: Frames per call when a source computes its taps (bounds the int64 intermediates).
RUN_CHUNK = 2048


def narrow_dtype(fmt) -> np.dtype:
    """The narrowest signed storage for raw values of ``fmt`` (int16/int32/int64)."""
    bits = fmt.width + (0 if fmt.signed else 1)
    return np.dtype(np.int16 if bits <= 16 else np.int32 if bits <= 32 else np.int64)


def run_chunked(spec, fn, inputs, log=None) -> dict:
    """``fn(inputs[chunk]) -> taps`` over chunks of :data:`RUN_CHUNK` frames, stored narrow.

    Each tap is kept in the narrowest integer type its format fits (int16 for every
    specklenn-snl tap), so a large set needs a quarter of the int64 memory.
    """
    n = len(inputs)
    out = None
    for start in range(0, max(n, 1), RUN_CHUNK):
        part = fn(inputs[start:start + RUN_CHUNK])
        if out is None:
            fmts = {k: (spec.input_format if k == "input" else spec.layer(k).out_format)
                    for k in part}
            out = {k: np.empty((n,) + v.shape[1:], narrow_dtype(fmts[k])) for k, v in part.items()}
        for k, v in part.items():
            out[k][start:start + len(v)] = v
        if log is not None and n > RUN_CHUNK:
            log(f"  {min(start + RUN_CHUNK, n)}/{n} frames")
    return out


def _fixsim(path, source, opts):
    from ..network import prepare

    vs = load_vector_set(path, opts)
    opts.say(f"fixsim.network.run on {len(vs.inputs)} frames")
    model = prepare(vs.spec, vs.weights)  # once, not per chunk; taps computed narrow
    taps = run_chunked(vs.spec, lambda x: model.run(x, threads=opts.threads, narrow=True),
                       vs.inputs, opts.log)
    return _set_result(vs, source, "fixsim", taps, True)


def _float_frames(vs) -> np.ndarray:
    from ..fixed import to_float

    if vs.frames is not None:
        return np.asarray(vs.frames, np.float64)
    return to_float(vs.inputs, vs.spec.input_format)


def _float(path, source, opts):
    from ..network import run_float
    from ..network.weights import dequantize_weights

    vs = load_vector_set(path, opts)
    opts.say(f"fixsim.network.run_float on {len(vs.inputs)} frames")
    taps = run_float(vs.spec, dequantize_weights(vs.spec, vs.weights), _float_frames(vs))
    return _set_result(vs, source, "float", taps, False,
                       frames="float frames" if vs.frames is not None else "dequantized inputs",
                       weights="the set's weights, dequantized")


def torch_taps(model, spec, frames: np.ndarray) -> dict:
    """Every layer of the SpeckleNN PyTorch model on ``frames`` (N, 1, 65, 65), float64 taps.

    The layer names are those of the bundled ``specklenn-snl`` spec (conv layers include
    their ReLU, as the spec's fused activations do).

    Raises
    ------
    InputError
        If ``spec`` is not SpeckleNN-shaped (other weight names or shapes, other layers).
    """
    import torch
    from torch.nn import functional as F

    from ..model.weights import WEIGHT_SHAPES

    names = [l.name for l in spec.layers]
    want = ["conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2"]
    if dict(spec.weight_shapes()) != WEIGHT_SHAPES or names != want:
        raise InputError(f"torch: spec {spec.name!r} is not the SpeckleNN architecture "
                         f"({', '.join(want)}); use float:DIR")
    if any(getattr(l, "order", "chw") != "chw" for l in spec.layers):
        raise InputError("torch: the spec flattens in hwc order; PyTorch taps are chw")
    out = {"input": np.asarray(frames, np.float64)}
    with torch.no_grad():
        x = torch.from_numpy(np.asarray(frames, np.float32))
        steps = [("conv1", lambda t: F.relu(model.conv1(t))),
                 ("pool1", lambda t: F.max_pool2d(t, 2, 2, ceil_mode=True)),
                 ("conv2", lambda t: F.relu(model.conv2(t))),
                 ("pool2", lambda t: F.max_pool2d(t, 2, 2, ceil_mode=True)),
                 ("flatten", lambda t: torch.flatten(t, 1)),
                 ("fc1", lambda t: F.relu(model.fc1(t))),
                 ("fc2", lambda t: model.fc2(t))]
        for name, fn in steps:
            x = fn(x)
            out[name] = x.numpy().astype(np.float64)
    return out


def load_golden_model(path=None):
    """The golden folded PyTorch model (eval mode) and its model.json record."""
    from .._files import require

    require("torch", "model")
    from ..train.modeldir import load_model_dir

    return load_model_dir(Path(path) if path is not None else golden_dir())


def _torch(path, source, opts):
    vs = load_vector_set(path, opts)
    model, info = load_golden_model(opts.golden)
    opts.say(f"golden PyTorch model on {len(vs.inputs)} frames")
    taps = torch_taps(model, vs.spec, _float_frames(vs))
    return _set_result(vs, source, "torch", taps, False,
                       golden=str(opts.golden or golden_dir()), weights="golden float32")


def _csim(path, source, opts):
    from ..csim import twin
    from ..csim.codegen import namespace_of

    vs = load_vector_set(path, opts)
    opts.say(f"building and running the C simulation on {len(vs.inputs)} frames")
    tb = twin.build(vs.spec)
    network = namespace_of(vs.spec.name)
    taps = run_chunked(vs.spec, lambda x: twin.run_testbench(tb, network, vs.weights, x),
                       vs.inputs, opts.log)
    return _set_result(vs, source, "csim", taps, True)


def _cosim(path, source, opts):
    p = Path(path)
    if p.is_dir():
        return capture.read_tap_dir(p, "cosim", source, opts.model)
    if not p.is_file():
        raise InputError(f"cosim result {str(p)!r} does not exist")
    return capture.read_cosim_log(p, source, opts.model)


def _taps(path, source, opts):
    if not Path(path).is_dir():
        raise InputError(f"tap directory {str(path)!r} is not a directory")
    return capture.read_tap_dir(path, "taps", source, opts.model)


def _hw(path, source, opts):
    p = Path(path)
    if not p.is_file():
        raise InputError(f"hardware result {str(p)!r} is not a file")
    if p.suffix == ".json":
        return capture.read_hil_report(p, source, opts.model)
    return capture.read_hw_npz(p, source, opts.model)


#: kind -> loader(path, source text, options) -> Result.
SOURCES: dict[str, Callable] = {
    "vectors": _vectors, "fixsim": _fixsim, "float": _float, "torch": _torch,
    "csim": _csim, "cosim": _cosim, "taps": _taps, "hw": _hw,
}


def parse_source(text: str) -> tuple[str, str]:
    """``"KIND:PATH"`` -> (kind, path); a bare path is ``("vectors", path)``.

    Raises
    ------
    InputError
        An unknown kind (with the closest one), an empty path, a bare path that is not a
        directory.
    """
    if not isinstance(text, str) or not text:
        raise InputError("a result source must be KIND:PATH or a vector-set directory")
    kind, sep, path = text.partition(":")
    if sep and kind.isidentifier() and not os.path.exists(text):
        if kind not in SOURCES:
            raise InputError(f"unknown source kind {kind!r}{closest(kind, SOURCES)}; "
                             f"kinds: {', '.join(SOURCES)}")
        if not path:
            raise InputError(f"source {text!r} has no path after '{kind}:'")
        return kind, path
    if not os.path.isdir(text):
        raise InputError(f"{text!r} is neither KIND:PATH (kinds: {', '.join(SOURCES)}) nor a "
                         f"vector-set directory")
    return "vectors", text


def load_source(text: str, opts: SourceOptions | None = None) -> Result:
    """Load a result source given as ``KIND:PATH`` (see the module table).

    Raises
    ------
    InputError
        Unknown kind, missing or malformed files.
    ToolError
        The C simulation could not be built or run.
    """
    opts = opts or SourceOptions()
    kind, path = parse_source(text)
    return SOURCES[kind](path, text, opts)


__all__ = ["SOURCES", "SourceOptions", "on_data", "run_chunked", "narrow_dtype", "parse_source",
           "load_source", "load_vector_set", "torch_taps", "load_golden_model"]
