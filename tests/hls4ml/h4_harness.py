"""The differential harness: one fixsim case as hls4ml builds and runs it, and the comparison.

For a :class:`~h4_netgen.Case` this module

1. builds the same network as a ``torch.nn.Module`` whose float weights are exactly the
   fixsim raw weights times ``2^-F`` (hls4ml writes each weight with ``F`` decimals and
   reads it back through ``ap_fixed(double)``: exact for values on the grid), and an
   hls4ml configuration (granularity ``name``) that gives every layer fixsim's formats;
2. converts it with ``hls4ml.converters.convert_from_pytorch_model`` (Vivado backend),
   writes the project and compiles it with hls4ml's own ``build_lib.sh``, once per
   content hash, into the build cache (``$FIXSIM_CACHE``, else the XDG cache, as
   :mod:`fixsim.csim.build`); a hit reuses the compiled library;
3. runs the library's double entry point with hls4ml's trace protocol (the calls of
   ``ModelGraph.trace``, without its unconditional recompilation) and converts every
   traced value to a raw integer, asserting it lies on the format's grid and range;
4. compares each traced layer with fixsim's tap of the same layer.

Layers and traces: hls4ml names its layers after the torch module attributes, which are
the fixsim layer names; a fused activation becomes the module ``<layer>_act`` (hls4ml's
activation layer, whose output is the fixsim layer's tap; the pre-activation trace of
the conv/dense layer has no fixsim tap and is not compared).  The input is compared via
hls4ml's ``transpose_input_for_x`` layer (ChannelsLastConversion "full"), a chw flatten
via ``transpose_input_for_flat`` (the Transpose hls4ml inserts before it), and a flatten
or standalone linear layer that hls4ml does not emit (an alias of its input array, or no
torch module at all) against the array hls4ml hands on at that point.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import shutil
import subprocess
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fixsim.fixed import FixedType, FixsimWarning, quantize

from h4_netgen import Case

PROJECT = "h4diff"
INPUT_NAME = "x"  # the forward() argument: hls4ml's name of the input layer
#: hls4ml is not thread-safe while it converts and writes (one at a time per process).
_convert_lock = threading.Lock()


def unavailable_reason() -> str | None:
    """Why the differential test cannot run here (None when it can); imports nothing heavy."""
    for name in ("hls4ml", "torch"):  # the tests and model extras install them
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:  # absent, or only a namespace of that name
            return f"{name} is not installed; pip install -e '.[tests,model]'"
    if not shutil.which("g++"):
        return "no g++ on PATH (hls4ml's build_lib.sh compiles with g++)"
    return None


def hls_type(f: FixedType) -> str:
    """The C++ type hls4ml should declare for ``f`` (all five parameters explicit)."""
    kind = "ap_fixed" if f.signed else "ap_ufixed"
    return (f"{kind}<{f.width},{f.int_bits},{f.quantization.name},{f.overflow.name},"
            f"{f.sat_bits}>")


# ------------------------------------------------------------------ the torch twin
def _float_weights(case: Case) -> dict:
    """Raw weights as float32 values raw * 2^-F (exact: at most 24 significant bits)."""
    out = {}
    for name, f in case.spec.weight_formats().items():
        raw = np.asarray(case.weights[name], np.int64)
        assert f.width <= 24, f"{name}: {f} is too wide to be exact in float32"
        out[name] = np.ldexp(raw.astype(np.float64), -f.frac_bits).astype(np.float32)
        # hls4ml's path: print with max(F, 0) decimals, read a double, f(double)
        text = [f"{v:.{max(f.frac_bits, 0)}f}" for v in out[name].reshape(-1).tolist()]
        back = quantize(np.array([float(t) for t in text]), f, warn=False).reshape(raw.shape)
        assert np.array_equal(back, raw), f"{name}: hls4ml would not load these {f} codes exactly"
    return out


def torch_module(case: Case):
    """The case as a ``torch.nn.Module`` named layer by layer like the fixsim spec."""
    import torch
    from torch import nn

    spec, floats = case.spec, _float_weights(case)
    mods = []

    def act(kind, alpha=None):
        return nn.ReLU() if kind == "relu" else nn.LeakyReLU(negative_slope=alpha)

    for l in spec.layers:
        if l.type == "conv2d":
            m = nn.Conv2d(l.in_shape[0], l.out_channels, tuple(l.kernel), stride=tuple(l.stride),
                          padding=tuple(l.padding), bias=l.bias)
        elif l.type == "dense":
            m = nn.Linear(l.in_shape[0], l.out_features, bias=l.bias)
        elif l.type == "maxpool2d":
            m = nn.MaxPool2d(tuple(l.kernel), stride=tuple(l.stride))
        elif l.type == "flatten":
            m = nn.Flatten()
        elif l.type == "linear":
            continue  # no PyTorch layer: hls4ml has nothing to emit (identity)
        else:
            m = act(l.type, l.activation.alpha)
        if l.type in ("conv2d", "dense"):
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(floats[f"{l.name}.weight"]))
                if l.bias:
                    m.bias.copy_(torch.from_numpy(floats[f"{l.name}.bias"]))
        mods.append((l.name, m))
        if l.type in ("conv2d", "dense") and l.activation.kind != "linear":
            mods.append((f"{l.name}_act", act(l.activation.kind, l.activation.alpha)))

    return sequential_module(mods)


# ------------------------------------------------------------------ the hls4ml config
def hls_config(case: Case) -> dict:
    """hls4ml's configuration (granularity 'name'): fixsim's formats, traces, strategy."""
    spec = case.spec
    model = {"Precision": {"default": "ap_fixed<16,6>"}, "ReuseFactor": 1,
             "Strategy": case.strategy, "ChannelsLastConversion": case.channels_last,
             "TransposeOutputs": False, "BramFactor": 1_000_000_000}
    names = {INPUT_NAME: {"Trace": True, "Precision": {"result": hls_type(spec.input_format)}},
             f"transpose_input_for_{INPUT_NAME}": {"Trace": True}}
    for l in spec.layers:
        fin = hls_type(l.in_format)
        per = {"Trace": True, "ReuseFactor": 1, "Strategy": case.strategy}
        if l.type in ("conv2d", "dense"):
            per["ReuseFactor"] = l.options.reuse_factor  # > 1 only with sum_order "resource"
            f = l.formats
            per["Precision"] = {"weight": hls_type(f.weight), "accum": hls_type(f.accum),
                                "result": hls_type(f.result),
                                # without a bias hls4ml adds zeros; A(0) = 0 in any format
                                "bias": hls_type(f.bias if f.bias is not None else f.weight)}
            if l.activation.kind != "linear":
                names[f"{l.name}_act"] = {"Trace": True, "ReuseFactor": 1,
                                          "Precision": _act_precision(l.activation,
                                                                      hls_type(f.result))}
        elif l.type == "maxpool2d":
            per["Precision"] = {"result": hls_type(l.out_format), "accum": fin}
        elif l.type == "flatten":
            per["Precision"] = {"result": fin}
            names[f"transpose_input_for_{l.name}"] = {"Trace": True}
        elif l.type == "linear":
            continue
        else:
            per["Precision"] = _act_precision(l.activation, hls_type(l.out_format))
        if l.type == "conv2d" and case.io_type == "io_stream":
            per["ConvImplementation"] = "LineBuffer"
        names[l.name] = per
    return {"Model": model, "LayerName": names, "InputShape": tuple(spec.input_shape)}


def _act_precision(activation, result: str) -> dict:
    p = {"result": result}
    if activation.kind == "leaky_relu":
        p["param"] = hls_type(activation.alpha_format)
    return p


# ------------------------------------------------------------------ build (cached)
@dataclass(frozen=True)
class Built:
    """A compiled hls4ml project in the cache: its library and what it traces."""

    directory: Path
    library: Path
    n_outputs: int
    output_size: int
    traced: dict = field(repr=False)  # hls4ml layer name -> output shape (channels last)
    hit: bool = False


@functools.lru_cache(maxsize=None)
def _versions() -> dict:
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout
    return {"hls4ml": importlib.metadata.version("hls4ml"),
            "torch": importlib.metadata.version("torch"),
            "g++": (gxx.splitlines() or [""])[0], "machine": platform.machine(),
            # this module decides what is built: an edit rebuilds
            "harness": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}


def content_key(case: Case) -> str:
    """sha256 over the spec, the weights, the hls4ml config, the io type and the tools."""
    h = hashlib.sha256()
    h.update(json.dumps({"spec": case.spec.to_dict(), "config": hls_config(case),
                         "io_type": case.io_type, "versions": _versions()},
                        sort_keys=True, default=list).encode())
    for name in sorted(case.weights):
        h.update(name.encode() + b"\0" + np.ascontiguousarray(case.weights[name], np.int64).tobytes())
    return h.hexdigest()[:24]


def build(case: Case) -> Built:
    """The compiled hls4ml project of ``case``, from the cache or built now.

    The project is written and compiled in its final directory (hls4ml's library reads its
    weight files from the absolute path it was built in), under an exclusive file lock;
    ``meta.json`` is written last and marks a complete build.
    """
    from fixsim.csim.build import cache_dir

    key = content_key(case)
    root = cache_dir() / "hls4ml"
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"{PROJECT}-{key}"
    meta_path = out / "meta.json"
    with open(root / f"{PROJECT}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            # the library reads its weights from the directory it was built in
            if meta.get("built_in") == str(out) and all(
                    (out / w).is_file() for w in meta.get("weight_files", [])):
                return _built(out, meta, hit=True)
        shutil.rmtree(out, ignore_errors=True)  # an interrupted, moved or damaged build
        meta = _convert_and_compile(case, out)
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, meta_path)
        return _built(out, meta, hit=False)


def _built(out: Path, meta: dict, hit: bool) -> Built:
    lib = out / meta["library"]
    if not lib.is_file():
        raise RuntimeError(f"{out}: the cached build lost {meta['library']}; delete the directory")
    traced = {k: tuple(v) for k, v in meta["traced"].items()}
    return Built(out, lib, meta["n_outputs"], meta["output_size"], traced, hit)


def _convert_and_compile(case: Case, out: Path) -> dict:
    import hls4ml

    module = torch_module(case)
    cfg = hls_config(case)
    cfg["Model"] = dict(cfg["Model"])
    sink = io.StringIO()  # hls4ml prints its topology and progress
    with _convert_lock, contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = hls4ml.converters.convert_from_pytorch_model(
            module, hls_config=cfg,
            output_dir=str(out), project_name=PROJECT, backend="Vivado", io_type=case.io_type)
        _check_formats(case, model)
        model.config.trace_output = True  # what ModelGraph.trace sets before it recompiles
        model.write()
        traced = {l.name: list(l.get_output_variable().shape) for l in model.get_layers()
                  if l.get_attr("function_cpp", None) and l.get_attr("trace", False)}
        n_outputs = len(model.get_output_variables())
        out_size = int(model.get_output_variables()[0].size())
    bridge = (out / f"{PROJECT}_bridge.cpp").read_text()
    n_alloc = bridge.count("trace_outputs->insert(")
    if n_alloc != len(traced):  # collect_trace_output writes one entry per allocation
        raise RuntimeError(f"hls4ml allocates {n_alloc} traces but lists {len(traced)} layers")
    # hls4ml's own build: the backend runs build_lib.sh (g++ -O3) in the project
    try:
        with contextlib.redirect_stdout(sink):
            lib = model.config.backend.compile(model)
    except Exception as exc:  # hls4ml raises a bare Exception and prints g++'s output
        raise RuntimeError(f"{case.label}: hls4ml's build failed ({exc}):\n"
                           f"{sink.getvalue()[-3000:]}") from None
    weights = sorted(str(p.relative_to(out)) for p in (out / "firmware" / "weights").glob("*.txt"))
    return {"library": os.path.relpath(lib, out), "n_outputs": n_outputs, "output_size": out_size,
            "traced": traced, "built_in": str(out), "weight_files": weights,
            "case": case.label, "spec": case.spec.to_dict()}


def _check_formats(case: Case, model) -> None:
    """hls4ml declares exactly fixsim's formats (no optimizer changed a precision)."""
    spec = case.spec
    want = {}
    for l in spec.layers:
        if l.type in ("conv2d", "dense"):
            want[l.name] = {"result": l.formats.result, "accum": l.formats.accum,
                            "weight": l.formats.weight}
            if l.activation.kind != "linear":
                want[f"{l.name}_act"] = {"result": l.formats.result}
        elif l.type != "linear":
            want[l.name] = {"result": l.out_format}
    for layer in model.get_layers():
        if layer.name in want and "weight" in want[layer.name]:
            rf = spec.layer(layer.name).options.reuse_factor
            if layer.get_attr("reuse_factor") != rf:  # hls4ml replaces reuse factors it rejects
                raise RuntimeError(f"hls4ml layer {layer.name!r} uses ReuseFactor "
                                   f"{layer.get_attr('reuse_factor')}, fixsim {rf}")
        for role, f in want.get(layer.name, {}).items():
            t = layer.get_output_variable().type if role == "result" else layer.get_attr(f"{role}_t")
            if t is None:
                continue
            got = t.precision.definition_cpp().replace(" ", "")
            if FixedType.parse(got) != f:
                raise RuntimeError(f"hls4ml layer {layer.name!r} declares {role} {got}, "
                                   f"fixsim {hls_type(f)}")


# ------------------------------------------------------------------ run (hls4ml's trace)
_run_lock = threading.Lock()  # the bridge keeps its trace storage in globals


def run_traced(built: Built, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """``(outputs, traces)`` of the double entry point, frame by frame, as ModelGraph.trace.

    ``x`` is ``(N, ...)`` float64 in the layout the build expects; traces are
    ``name -> (N, *shape)`` float64.
    """
    import numpy.ctypeslib as npc

    lib = ctypes.CDLL(str(built.library))
    top = getattr(lib, f"{PROJECT}_double")
    n_out = built.n_outputs
    x = np.ascontiguousarray(x, np.float64)
    n = x.shape[0]

    class TraceData(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]

    sizes = {k: int(np.prod(v)) for k, v in built.traced.items()}
    traces = {k: np.empty((n,) + tuple(v)) for k, v in built.traced.items()}
    slots = (TraceData * len(sizes))()
    lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
    lib.collect_trace_output.argtypes = [ctypes.POINTER(TraceData)]
    top.restype = None
    top.argtypes = [npc.ndpointer(np.float64, flags="C_CONTIGUOUS")] * (1 + n_out)
    outputs = []
    with _run_lock:
        lib.allocate_trace_storage(ctypes.sizeof(ctypes.c_double))
        try:
            for i in range(n):
                frame = np.ascontiguousarray(x[i]).reshape(-1)
                res = np.zeros(built.output_size)
                top(frame, res)
                outputs.append(res)
                lib.collect_trace_output(slots)
                for slot in slots:
                    name = slot.name.decode()
                    buf = ctypes.cast(slot.data, ctypes.POINTER(ctypes.c_double))
                    traces[name][i] = np.ctypeslib.as_array(buf, shape=(sizes[name],)).reshape(
                        built.traced[name])
        finally:
            lib.free_trace_storage()
    return np.asarray(outputs), traces


def to_raw(values: np.ndarray, fmt: FixedType, what: str) -> np.ndarray:
    """hls4ml's doubles as raw mantissas; every value must be a code of ``fmt``."""
    scaled = np.ldexp(np.asarray(values, np.float64), fmt.frac_bits)
    raw = np.rint(scaled)
    off = np.flatnonzero((raw != scaled).reshape(-1))
    assert off.size == 0, (f"{what}: {off.size} hls4ml values are not on the grid of {fmt}, "
                           f"e.g. {values.reshape(-1)[off[0]]!r}")
    raw = raw.astype(np.int64)
    bad = np.flatnonzero(((raw < fmt.raw_min) | (raw > fmt.raw_max)).reshape(-1))
    assert bad.size == 0, (f"{what}: {bad.size} hls4ml values outside {fmt}, "
                           f"e.g. {values.reshape(-1)[bad[0]]!r}")
    return raw


# ------------------------------------------------------------------ compare
@dataclass
class LayerResult:
    """One compared tap: the fixsim layer, the hls4ml array it was compared with, counts."""

    layer: str
    hls_name: str
    fmt: FixedType
    compared: int
    differing: int
    first: list  # (flat index, fixsim raw, hls4ml raw)


@dataclass
class Comparison:
    case: Case
    layers: list
    not_compared: list  # hls4ml traces without a fixsim tap, with the reason

    @property
    def compared(self) -> int:
        return sum(r.compared for r in self.layers)

    @property
    def differing(self) -> int:
        return sum(r.differing for r in self.layers)

    def report(self, show: int = 6) -> str:
        lines = [f"{self.case.label}: {self.differing} of {self.compared} values differ"]
        for r in self.layers:
            lines.append(f"  {r.layer:>10} vs hls4ml {r.hls_name:<28} {str(r.fmt):<36} "
                         f"{r.differing:>6} of {r.compared}")
            for idx, a, b in r.first[:show]:
                lines.append(f"      [{idx}] fixsim raw {a}  hls4ml raw {b}")
        for name, why in self.not_compared:
            lines.append(f"  (hls4ml {name}: not compared, {why})")
        lines.append(f"  reproduce (in tests/hls4ml): h4_harness.differential(draw_case({self.case.seed}, "
                     f"{self.case.io_type!r}, {self.case.strategy!r}, {self.case.reuse_factor}, "
                     f"{self.case.channels_last!r}))")
        return "\n".join(lines)


def hls_input(case: Case) -> np.ndarray:
    """The frames in the layout hls4ml's top function reads (NCHW for 'full', else NHWC)."""
    x = case.x
    return x if case.channels_last == "full" else x.transpose(0, 2, 3, 1)


def _hwc(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def compare(case: Case, taps: dict, traces: dict) -> Comparison:
    """Every fixsim tap with the hls4ml array that holds the same layer's output."""
    spec = case.spec
    n = case.x.shape[0]
    results, used = [], set()

    def check(layer: str, hls_name: str, fmt: FixedType, expected, actual_float):
        used.add(hls_name)
        actual = to_raw(actual_float, fmt, f"hls4ml {hls_name}").reshape(n, -1)
        exp = np.asarray(expected, np.int64).reshape(n, -1)
        assert exp.shape == actual.shape, f"{layer}: shape {exp.shape} vs hls4ml {actual.shape}"
        diff = np.flatnonzero((exp != actual).reshape(-1))
        first = [(int(i), int(exp.reshape(-1)[i]), int(actual.reshape(-1)[i])) for i in diff[:12]]
        results.append(LayerResult(layer, hls_name, fmt, exp.size, int(diff.size), first))

    # what hls4ml holds after each layer: (trace name, channels-last array)
    tname = f"transpose_input_for_{INPUT_NAME}"
    if tname in traces:
        check("input", tname, spec.input_format, _hwc(taps["input"]), traces[tname])
        held = (tname, traces[tname])
    else:  # "internal": the input arrives channels last and is not traced
        held = ("(input)", None)
    for l in spec.layers:
        tap = taps[l.name]
        if l.type in ("conv2d", "dense") and l.activation.kind != "linear":
            name = f"{l.name}_act"
        else:
            name = l.name
        if l.type == "flatten":
            tname = f"transpose_input_for_{l.name}"
            if tname in traces:  # chw: hls4ml's Transpose restores PyTorch's order
                assert l.order == "chw", f"hls4ml transposes before {l.name} but fixsim flattens {l.order}"
                check(l.name, tname, l.out_format, tap, traces[tname])
                held = (tname, traces[tname])
            else:  # the Reshape is an alias of the channels-last array (hwc)
                assert l.order == "hwc", f"hls4ml keeps {l.name} channels last, fixsim flattens {l.order}"
                if held[1] is not None:
                    check(l.name, f"{held[0]} (reshaped)", l.out_format, tap, held[1])
            continue
        if l.type == "linear":  # no hls4ml layer: the array passes on unchanged
            if held[1] is not None:
                check(l.name, f"{held[0]} (identity)", l.out_format, _hwc(tap), held[1])
            continue
        assert name in traces, f"hls4ml traced no layer {name!r} (traced: {sorted(traces)})"
        check(l.name, name, l.out_format, _hwc(tap), traces[name])
        held = (name, traces[name])
    fused = {l.name for l in spec.layers
             if l.type in ("conv2d", "dense") and l.activation.kind != "linear"}
    unused = [k for k in traces if k not in used]
    stray = [k for k in unused if k not in fused]
    assert not stray, f"hls4ml traces {stray} were not compared with any fixsim tap"
    not_compared = [(k, "the pre-activation output of a fused activation has no fixsim tap")
                    for k in unused]
    return Comparison(case, results, not_compared)


def run_fixsim(case: Case) -> dict:
    from fixsim.network import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)  # out-of-range inputs are intended
        return run(case.spec, case.weights, case.x, taps=True)


def differential(case: Case) -> Comparison:
    """Build (or reuse) hls4ml's C simulation of ``case``, run both, compare every layer."""
    built = build(case)
    _, traces = run_traced(built, hls_input(case))
    return compare(case, run_fixsim(case), traces)


# ------------------------------------------ networks of one layer family (own torch twin)
def sequential_module(mods: list):
    """A ``torch.nn.Module`` running ``(name, module)`` pairs in order; hls4ml names its
    layers after the attributes and its input layer after forward's argument ``x``."""
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.order = [n for n, _ in mods]
            for n, m in mods:
                self.add_module(n, m)

        def forward(self, x):
            for n in self.order:
                x = getattr(self, n)(x)
            return x

    return Net().eval()


def build_module(prefix: str, spec, weights: dict, module_fn, config: dict, io_type: str,
                 source: str, declared=None) -> Built:
    """hls4ml's compiled project of a network whose torch twin ``module_fn()`` makes,
    converted with ``config``, cached by content hash (as :func:`build`): the spec, the
    config, the io type, the tools, the weights and ``source`` (the test file's path: an
    edit rebuilds).  ``declared(model)`` checks hls4ml's declared types before writing."""
    import hls4ml

    from fixsim.csim.build import cache_dir

    h = hashlib.sha256(json.dumps({"spec": spec.to_dict(), "config": config, "io": io_type,
                                   "versions": _versions(),
                                   "test": hashlib.sha256(Path(source).read_bytes()).hexdigest()},
                                  sort_keys=True, default=list).encode())
    for name in sorted(weights):
        h.update(name.encode() + np.ascontiguousarray(weights[name], np.int64).tobytes())
    root = cache_dir() / "hls4ml"
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"{prefix}-{h.hexdigest()[:24]}"
    meta_path = out / "meta.json"
    with open(f"{out}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta.get("built_in") == str(out) and (out / meta["library"]).is_file():
                return Built(out, out / meta["library"], 1, meta["output_size"],
                             {k: tuple(v) for k, v in meta["traced"].items()}, True)
        shutil.rmtree(out, ignore_errors=True)
        sink = io.StringIO()
        with _convert_lock, contextlib.redirect_stdout(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = hls4ml.converters.convert_from_pytorch_model(
                module_fn(), hls_config=config, output_dir=str(out), project_name=PROJECT,
                backend="Vivado", io_type=io_type)
            if declared is not None:
                declared(model)
            model.config.trace_output = True
            model.write()
            traced = {l.name: list(l.get_output_variable().shape) for l in model.get_layers()
                      if l.get_attr("function_cpp", None) and l.get_attr("trace", False)}
            size = int(model.get_output_variables()[0].size())
            lib = model.config.backend.compile(model)
        meta = {"library": os.path.relpath(lib, out), "output_size": size, "traced": traced,
                "built_in": str(out)}
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, meta_path)
        return Built(out, lib, 1, size, {k: tuple(v) for k, v in traced.items()}, False)


def compare_layers(label: str, spec, weights: dict, x: np.ndarray, traces: dict,
                   skip=("flatten",)) -> tuple[int, list[str]]:
    """(values compared, one line per differing layer) of every layer not of a type in
    ``skip``: fixsim's tap against hls4ml's trace of the same name (maps channels last)."""
    from fixsim.network import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps = run(spec, weights, x)
    compared, bad = 0, []
    for l in spec.layers:
        if l.type in skip:
            continue
        assert l.name in traces, f"hls4ml traced no layer {l.name!r}: {sorted(traces)}"
        want = taps[l.name]
        got = traces[l.name]
        if want.ndim > 2:  # (N, C, ...) in fixsim, (N, ..., C) in hls4ml
            got = np.moveaxis(got.reshape(len(x), *want.shape[2:], want.shape[1]), -1, 1)
        raw = to_raw(got.reshape(want.shape), l.out_format, f"{label} {l.name}")
        compared += raw.size
        n = int(np.count_nonzero(raw != want))
        if n:
            bad.append(f"{l.name}: {n} of {raw.size} differ")
    return compared, bad


#: Every quantization mode hls4ml's precision parser knows.
QUANT = ("AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV", "AP_TRN",
         "AP_TRN_ZERO")


def family_format(rng, wmin: int, wmax: int, imin: int, imax: int,
                  ovf=("AP_SAT", "AP_SAT_SYM", "AP_WRAP"), quant=QUANT) -> FixedType:
    """A signed format: width in [wmin, wmax], integer bits in [imin, imax], any of the
    given modes (N = 0)."""
    w = int(rng.integers(wmin, wmax + 1))
    return FixedType(w, int(rng.integers(imin, imax + 1)), True, quant[rng.integers(len(quant))],
                     ovf[rng.integers(len(ovf))])


def check_family(case, built: Built, record_property=None) -> None:
    """``case`` (``spec``, ``weights``, ``x`` with saturating inputs, ``label``) equal to
    hls4ml's traced C simulation ``built`` at every layer but flatten (0 differing)."""
    f = case.spec.input_format
    assert np.count_nonzero((case.x < f.min) | (case.x > f.max)) > 0, "no input saturates"
    _, traces = run_traced(built, case.x)  # ChannelsLastConversion full: channels first in
    compared, bad = compare_layers(case.label, case.spec, case.weights, case.x, traces)
    if record_property is not None:
        record_property("values_compared", compared)
    assert compared > 0 and not bad, f"{case.label}: " + "; ".join(bad)


@dataclass(frozen=True)
class FamilyCase:
    """One seeded network of a one-family test (``family`` names it in reports)."""

    family: str
    seed: int
    io_type: str
    spec: object
    weights: dict = field(repr=False)
    x: np.ndarray = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.family}-{self.seed}-{self.io_type}"
