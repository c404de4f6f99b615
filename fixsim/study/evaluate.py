"""What a point is evaluated on (:class:`Context`) and the evaluation itself.

The context is built once by the driver: the base spec, the model's float weights, the
labelled frames, the support set (few-shot embedders) and the float64 reference outputs
and decisions (:func:`fixsim.network.run_float`, no torch: the same numbers in every
process).  :func:`evaluate_point` is a pure function of (context, point): it applies the
formats, quantizes the weights, runs the bit-exact datapath in one thread, classifies and
costs.  It runs the same in the driver, a pool process or a Dask worker, so the rows do
not depend on where they were computed.

Decisions: ``"fewshot"`` classifies L2-normalized embeddings by the nearest support
(the SpeckleNN rule of :class:`fixsim.train.fewshot.FewShotClassifier`; the supports go
through the same path as the queries: fixed point for the fixed side); ``"top1"`` takes
the arg max of the output (ties to the lowest index).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import InputError
from .cost import CostModel, cost
from .points import Point, apply

TASKS = ("fewshot", "top1")


@dataclass
class Context:
    """Everything a point's evaluation needs (picklable; shipped once to each worker)."""

    spec_json: str
    float_weights: dict
    frames: np.ndarray
    labels: np.ndarray | None
    task: str
    support_frames: np.ndarray | None = None
    support_labels: np.ndarray | None = None
    cost_model: CostModel = field(default_factory=CostModel)
    float_out: np.ndarray | None = None
    float_pred: np.ndarray | None = None
    identity: dict = field(default_factory=dict)

    def spec(self):
        from ..network import load_spec

        return load_spec(self.spec_json)

    def point_key(self, point: Point) -> str:
        """Content hash of one evaluation: model, data, support, formats, cost model, version."""
        text = json.dumps({**self.identity, "formats": sorted(list(f) for f in point.formats)},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _sha(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------ loading
def load_model_dir(model) -> tuple[dict, Path | None, Path | None]:
    """(float weights, support.npz path or None, spec.json path or None) of ``MODEL``.

    ``MODEL`` is a directory holding ``weights_folded.npz`` (the golden layout) or
    ``weights.npz``, optionally ``support.npz`` and ``spec.json``; or an ``.npz`` of float
    weights named ``<layer>.weight`` / ``<layer>.bias``.
    """
    from .._files import read_npz

    path = Path(model)
    if path.is_dir():
        for name in ("weights_folded.npz", "weights.npz"):
            if (path / name).is_file():
                weights = read_npz(path / name, "model weights")
                break
        else:
            raise InputError(f"model directory {str(path)!r} has no weights_folded.npz or "
                             "weights.npz")
        sup = path / "support.npz"
        spec = path / "spec.json"
        return weights, sup if sup.is_file() else None, spec if spec.is_file() else None
    if not path.exists():
        raise InputError(f"model {str(path)!r} does not exist")
    return read_npz(path, "model weights"), None, None


def load_frames(path, input_shape) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Frames (N, *input_shape) float, labels (N,) int64 or None, and a record of the file.

    Reads a ``fixsim data simulate`` or ``data import`` HDF5 file (checksums verified; its
    provenance, seed included, is recorded), an ``.npz`` with ``frames`` (and ``labels``)
    or an ``.npy`` of frames.  Frames of shape (N, H, W) gain the channel axis of a
    one-channel (1, H, W) input.
    """
    from .._files import read_array_file, sha256_file

    path = Path(path)
    labels, prov = None, None
    if path.suffix in (".h5", ".hdf5"):
        from ..data import load_frames as load_frames_file

        ff = load_frames_file(path)  # fixsim data simulate or data import
        frames, labels, prov = ff.frames, ff.labels, ff.provenance()
    else:
        obj = read_array_file(path, "--data")
        if isinstance(obj, dict):
            if "frames" not in obj:
                raise InputError(f"--data {str(path)!r} has no 'frames' array "
                                 f"(arrays: {', '.join(sorted(obj))})")
            frames, labels = obj["frames"], obj.get("labels")
        else:
            frames = obj
    frames = np.asarray(frames)
    shape = tuple(input_shape)
    if frames.ndim == len(shape) and shape[0] == 1 and frames.shape[1:] == shape[1:]:
        frames = frames[:, None]
    if frames.ndim != len(shape) + 1 or frames.shape[1:] != shape or frames.dtype.kind != "f":
        raise InputError(f"--data {str(path)!r}: frames must be floats of shape (N, "
                         f"{', '.join(map(str, shape))}), got {frames.dtype} {frames.shape}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(frames),) or labels.dtype.kind not in "iu" or \
                (labels.size and labels.min() < 0):
            raise InputError(f"--data {str(path)!r}: labels must be {len(frames)} integers "
                             f">= 0, got {labels.dtype} {labels.shape}")
        labels = labels.astype(np.int64)
    record = {"path": str(path), "sha256": sha256_file(path), "n": int(len(frames)),
              "labelled": labels is not None, "provenance": prov}
    return frames, labels, record


def load_support(path) -> tuple[np.ndarray, np.ndarray]:
    """Support frames and labels of a ``support.npz`` (the golden layout)."""
    from .._files import read_npz

    z = read_npz(path, "support set")
    for k in ("frames", "labels"):
        if k not in z:
            raise InputError(f"support set {str(path)!r} has no {k!r} array (the study embeds "
                             "the support frames through each point)")
    return np.asarray(z["frames"]), np.asarray(z["labels"]).astype(np.int64)


def build_context(spec, float_weights: dict, frames, labels, *, task: str = "auto",
                  support=None, cost_model: CostModel | None = None, need_labels: bool = True,
                  identity: dict | None = None) -> Context:
    """Validate the inputs, compute the float reference and the cache identity.

    Raises
    ------
    InputError
        Labels missing while accuracy is asked, an unknown task, weights that do not fit the
        spec, a support set of the wrong shape.
    """
    from ..network import load_spec

    spec = load_spec(spec)
    if task == "auto":
        task = "fewshot" if support is not None else "top1"
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; allowed: auto, {', '.join(TASKS)}")
    if need_labels and labels is None:
        raise InputError("the data has no labels, but accuracy is asked: give labelled frames "
                         "(fixsim data simulate writes them)")
    fw = {k: np.asarray(v, np.float64) for k, v in float_weights.items()}
    shapes = spec.weight_shapes()
    extra = sorted(set(fw) - set(shapes))
    if extra:
        raise InputError(f"model weights {extra[0]!r} are not tensors of spec {spec.name!r}")
    sf = sl = None
    if task == "fewshot":
        if support is None:
            raise InputError("task fewshot needs a support set (--support, or support.npz in "
                             "the model directory)")
        sf, sl = support
        from ..network.prepared import as_batch

        sf = as_batch(spec, sf[:, None] if sf.ndim == len(spec.input_shape) else sf,
                      "support frames")
    frames = np.asarray(frames)
    cost_model = cost_model or CostModel()
    ctx = Context(spec.to_json(), fw, frames, labels, task, sf, sl, cost_model)
    ctx.float_out = float_outputs(spec, fw, frames)
    ctx.float_pred = decide(ctx, ctx.float_out, None if sf is None else
                            float_outputs(spec, fw, sf))
    ctx.identity = {"fixsim": __version__, "task": task, "cost_model": cost_model.to_dict(),
                    "weights": _sha(*[fw[k] for k in sorted(fw)]),
                    "data": _sha(frames, labels), "support": _sha(sf, sl),
                    **(identity or {})}
    return ctx


#: Frames per float64 reference batch (bounds the memory of the float layers' maps).
FLOAT_CHUNK = 128


def float_outputs(spec, float_weights: dict, frames: np.ndarray) -> np.ndarray:
    """The float64 model's outputs (N, D), computed in chunks of :data:`FLOAT_CHUNK`."""
    from ..network import run_float

    last = spec.layers[-1].name
    parts = [run_float(spec, float_weights, frames[i:i + FLOAT_CHUNK], taps=False)[last]
             for i in range(0, len(frames), FLOAT_CHUNK)]
    if not parts:
        return np.zeros((0, int(np.prod(spec.output_shape))))
    return np.concatenate(parts).reshape(len(frames), -1)


def value_ranges(ctx: Context, max_frames: int = 256) -> dict[str, float]:
    """tensor -> largest magnitude of its float values: the input frames, the weights and
    biases, each layer's output in the float64 model (after its activation) on the first
    ``max_frames`` frames.  Keys as :func:`fixsim.study.points.tensor_names`."""
    from ..network import run_float

    spec = ctx.spec()
    frames = ctx.frames[:max_frames]
    out = {"input": float(np.abs(frames).max()) if frames.size else 0.0}
    out.update({k: float(np.abs(v).max()) if v.size else 0.0
                for k, v in ctx.float_weights.items()})
    for i in range(0, len(frames), FLOAT_CHUNK):
        taps = run_float(spec, ctx.float_weights, frames[i:i + FLOAT_CHUNK])
        for layer in spec.layers:
            v = taps[layer.name]
            key = f"{layer.name}.result"
            out[key] = max(out.get(key, 0.0), float(np.abs(v).max()) if v.size else 0.0)
    return out


# ------------------------------------------------------------------ evaluation
def decide(ctx: Context, out: np.ndarray, support_out: np.ndarray | None) -> np.ndarray:
    """Class decisions of outputs ``out`` (N, D) under the context's task."""
    out = np.asarray(out, np.float64).reshape(len(out), -1)
    if ctx.task == "top1":
        return out.argmax(axis=1).astype(np.int64)
    from ..train.fewshot import FewShotClassifier

    s = np.asarray(support_out, np.float64).reshape(len(support_out), -1)
    return FewShotClassifier(s, ctx.support_labels, rule="nearest").predict(out)


def fixed_outputs(ctx: Context, spec, taps: bool = False, events: dict | None = None,
                  threads: int | None = 1):
    """(quantized weights, prepared model, fixed outputs as float (N, D), support outputs,
    raw outputs or taps); ``events``: the run counts its conversion events into it
    (:meth:`fixsim.network.Model.run`)."""
    from ..fixed import to_float
    from ..network import prepare
    from ..network.weights import quantize_weights

    last = spec.layers[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saturation is what a sweep measures, not an error
        wq = quantize_weights(spec, ctx.float_weights, warn=False)
        model = prepare(spec, wq)
        res = model.run(ctx.frames, taps=taps, threads=threads, events=events)
        sup = None
        if ctx.support_frames is not None:
            s_raw = model.run(ctx.support_frames, taps=False, threads=1)[last.name]
            sup = to_float(s_raw, last.out_format).reshape(len(s_raw), -1)
    out = to_float(res[last.name], last.out_format).reshape(len(ctx.frames), -1)
    return wq, model, out, sup, res


def evaluate_point(ctx: Context, point: Point) -> dict:
    """Evaluate one point: accuracy, agreement, embedding error, cost (a JSON-able dict).

    Keys: ``key`` (the point's identifier), ``label``, ``formats``, ``accuracy``,
    ``float_accuracy``, ``gap_pp`` (float - fixed, percentage points), ``agreement``,
    ``err_lsb_mean``, ``err_lsb_max`` (|fixed - float| of the outputs in output LSBs) and
    the :func:`fixsim.study.cost.cost` numbers.
    """
    spec = apply(ctx.spec(), point)
    _, _, out, sup, _ = fixed_outputs(ctx, spec)
    pred = decide(ctx, out, sup)
    lsb = spec.output_format.lsb
    err = np.abs(out - ctx.float_out) / lsb
    row = {"key": point.key, "label": point.labels(), "formats": dict(point.formats),
           "agreement": float((pred == ctx.float_pred).mean()) if len(pred) else 0.0,
           "err_lsb_mean": float(err.mean()) if err.size else 0.0,
           "err_lsb_max": float(err.max()) if err.size else 0.0}
    if ctx.labels is not None:
        acc = float((pred == ctx.labels).mean())
        facc = float((ctx.float_pred == ctx.labels).mean())
        row.update(accuracy=acc, float_accuracy=facc, gap_pp=100.0 * (facc - acc))
    row.update(cost(spec, ctx.cost_model))
    return row


__all__ = ["Context", "TASKS", "build_context", "evaluate_point", "decide", "fixed_outputs",
           "float_outputs", "value_ranges",
           "load_model_dir", "load_frames", "load_support"]
