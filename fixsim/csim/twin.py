"""The C++ twin: the rtl/ HLS design of a network, compiled with g++ and run as C simulation.

:func:`build` compiles the test bench of one or several specs (layer templates from
``rtl/``, per-network code from :mod:`fixsim.csim.codegen`) against the ap_types headers,
cached by content; weights are read at run time (per-tensor files, or a weight image of
:mod:`fixsim.vectors.weight_image` that the C++ checks: magic, CRC32, spec hash, formats),
so one binary serves any weights of its architectures.  :func:`run` writes the inputs and
weights, runs the binary and reads every layer's output back with the shapes
:func:`fixsim.network.run` returns (the doctests skip the run: it needs g++ and a first
build; tests/rtl/test_specklenn.py runs it):

>>> from fixsim.network import load_spec
>>> spec = load_spec("specklenn-snl")
>>> taps = run(spec, weights, frames)                       # doctest: +SKIP
>>> taps["conv1"].shape                                     # doctest: +SKIP
(100, 7, 61, 61)

Raw data crosses the process boundary as little-endian int64 (float64 for inputs that
the C++ input layer quantizes); see docs/rtl.md for the file formats.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .._version import __version__
from .._files import sha256_file
from ..errors import InputError, ToolError
from .build import compile_program
from .codegen import Tap, generate_testbench, namespace_of, taps_of

#: Optimisation level of the C simulation (taps are compiled in).
DEFAULT_OPT = "-O2"


def _load_spec(spec):
    from ..network.spec import load_spec

    return load_spec(spec)


@dataclass(frozen=True)
class Testbench:
    """A compiled test-bench binary and the networks (namespace -> spec) it serves."""

    exe: Path
    specs: dict

    def spec(self, network: str):
        try:
            return self.specs[network]
        except KeyError:
            raise InputError(f"network {network!r} is not in this test bench; it has "
                             f"{', '.join(self.specs)}") from None


def build(specs, *, namespaces: Sequence[str] | None = None, opt: str = DEFAULT_OPT,
          per_file: int = 1) -> Testbench:
    """Compile (or fetch from the cache) the C simulation of one or several specs.

    Parameters
    ----------
    specs : ModelSpec, name/path, or a sequence of them
    namespaces : sequence of str, optional
        C++ namespace (and network name in the binary) of each spec; default from the
        spec names, which must then be unique.
    opt : str
        g++ optimisation flag.
    per_file : int
        Networks per translation unit (see :func:`fixsim.csim.codegen.generate_testbench`).

    Returns
    -------
    Testbench

    Raises
    ------
    ToolError
        g++ or the ap_types headers are missing, or compilation fails.
    """
    if not isinstance(specs, (list, tuple)):
        specs = [specs]
    specs = [_load_spec(s) for s in specs]
    names = list(namespaces) if namespaces is not None else [namespace_of(s.name) for s in specs]
    sources = generate_testbench(specs, names, per_file=per_file)
    exe = compile_program(sources, main="fixsim_tb", opt=opt, defines=["-DFIXSIM_TAPS"],
                          tag="rtl-tb")
    return Testbench(exe=exe, specs=dict(zip(names, specs, strict=True)))


def check_weights(spec, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate a raw weight dict against ``spec``: names, shapes, raw ranges.

    Returns the arrays as contiguous int64 in PyTorch order.

    Raises
    ------
    InputError
        Missing or unknown tensors, wrong shapes, non-integer arrays, raw values outside
        their format's range.
    """
    from ..fixed import check_raw

    shapes, formats = spec.weight_shapes(), spec.weight_formats()
    missing = [k for k in shapes if k not in weights]
    if missing:
        raise InputError(f"weights are missing {missing[0]!r} (spec {spec.name!r} needs "
                         f"{', '.join(shapes)})")
    extra = [k for k in weights if k not in shapes]
    if extra:
        raise InputError(f"unknown weight tensor {extra[0]!r} for spec {spec.name!r}; "
                         f"expected {', '.join(shapes)}")
    out = {}
    for key, shape in shapes.items():
        arr = np.asarray(weights[key])
        if arr.dtype.kind not in "iu":
            raise InputError(f"weight {key!r} must hold raw integer mantissas, got dtype "
                             f"{arr.dtype} (quantize float weights first)")
        if arr.shape != tuple(shape):
            raise InputError(f"weight {key!r} has shape {arr.shape}, expected {tuple(shape)}")
        out[key] = np.ascontiguousarray(check_raw(arr, formats[key], name=key), dtype=np.int64)
    return out


def _frames(spec, x) -> tuple[np.ndarray, bool]:
    """Inputs as (N, *input_shape): float64 values to quantize, or int64 raw mantissas."""
    arr = np.asarray(x)
    shape = tuple(spec.input_shape)
    if arr.shape == shape:
        arr = arr[None]
    if arr.ndim != 1 + len(shape) or arr.shape[1:] != shape:
        raise InputError(f"inputs have shape {arr.shape}, expected (N, {', '.join(map(str, shape))})")
    if arr.dtype.kind == "f":
        return np.ascontiguousarray(arr, dtype=np.float64), True
    if arr.dtype.kind in "iu":
        from ..fixed import check_raw

        return np.ascontiguousarray(check_raw(arr, spec.input_format, name="inputs"),
                                    dtype=np.int64), False
    raise InputError(f"inputs must be float values or raw integers, got dtype {arr.dtype}")




def _image_path(weights, workdir: Path) -> Path | None:
    """The weight-image file for ``weights`` given as image bytes or an image path; None for
    a dict of arrays.  The image is checked by the C++ test bench, not here."""
    if isinstance(weights, (bytes, bytearray, memoryview)):
        path = Path(workdir) / "weights.img"
        path.write_bytes(bytes(weights))
        return path.resolve()
    if isinstance(weights, (str, os.PathLike)):
        path = Path(weights)
        if not path.is_file():
            raise InputError(f"weight image {str(path)!r} does not exist")
        return path.resolve()
    return None


def write_inputs(workdir: Path, spec, weights, x) -> tuple[int, bool]:
    """Write ``inputs.bin``/``inputs_f64.bin``, ``<tensor>.bin`` and ``meta.json`` into ``workdir``.

    ``weights`` is a dict of raw arrays (written as ``<tensor>.bin``) or a weight image
    (bytes or a path; written as ``weights.img`` or left where it is).

    Returns (number of frames, whether the inputs are floats).
    """
    frames, is_float = _frames(spec, x)
    workdir = Path(workdir)
    image = _image_path(weights, workdir)
    raw_weights = {} if image is not None else check_weights(spec, weights)
    files = {}
    name = "inputs_f64.bin" if is_float else "inputs.bin"
    (workdir / name).write_bytes(frames.astype("<f8" if is_float else "<i8").tobytes())
    files[name] = sha256_file(workdir / name)
    for key, arr in raw_weights.items():
        (workdir / f"{key}.bin").write_bytes(arr.astype("<i8").tobytes())
        files[f"{key}.bin"] = sha256_file(workdir / f"{key}.bin")
    if image is not None:
        files[image.name] = sha256_file(image)
    meta = {"generator": f"fixsim {__version__}", "spec": spec.name,
            "spec_sha256": spec.spec_hash(), "n": int(frames.shape[0]),
            "input_kind": "f64" if is_float else "raw",
            "input_shape": list(spec.input_shape),
            "weights": ({"image": str(image)} if image is not None else
                        {k: list(v.shape) for k, v in raw_weights.items()}),
            "taps": {t.name: list(t.shape) for t in taps_of(spec)}, "sha256": files}
    (workdir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return int(frames.shape[0]), is_float


def read_taps(workdir: Path, taps: Sequence[Tap], n: int) -> dict[str, np.ndarray]:
    """Read ``tap_<layer>.bin`` files as int64 arrays of shape (n, *tap.shape)."""
    out = {}
    for tap in taps:
        path = Path(workdir) / f"tap_{tap.name}.bin"
        data = np.fromfile(path, dtype="<i8")
        if data.size != n * tap.size:
            raise ToolError(f"{path.name} holds {data.size} values, expected {n * tap.size}")
        out[tap.name] = data.astype(np.int64).reshape((n,) + tap.shape)
    return out


def run_testbench(tb: Testbench, network: str, weights, x, *, workdir=None,
                  timeout: float | None = None) -> dict[str, np.ndarray]:
    """Run one network of a compiled test bench on frames ``x`` with ``weights``.

    Parameters
    ----------
    tb : Testbench
    network : str
        Namespace of the network in the binary.
    weights : mapping, bytes or path
        ``"<layer>.weight"``/``"<layer>.bias"`` -> raw integer arrays (PyTorch layout),
        or a weight image (its bytes, or the path of an image file) that the test bench
        loads and checks itself (magic, CRC32, spec hash, formats, raw ranges).
    x : array_like
        (N, *input_shape) or one frame: floats (quantized by the C++ input layer) or raw
        integer mantissas of the input format.
    workdir : path, optional
        Keep the exchanged files there (default: a temporary directory, removed).
    timeout : float, optional
        Seconds before the simulation is killed.

    Returns
    -------
    dict
        Tap name (``"input"`` then every layer) -> int64 array (N, *shape), PyTorch order.

    Raises
    ------
    InputError
        Bad weights or inputs.
    ToolError
        The simulation failed.
    """
    spec = tb.spec(network)
    with tempfile.TemporaryDirectory(prefix="fixsim-csim-") as tmp:
        wd = Path(workdir) if workdir is not None else Path(tmp)
        wd.mkdir(parents=True, exist_ok=True)
        n, is_float = write_inputs(wd, spec, weights, x)
        image = _image_path(weights, wd) if not isinstance(weights, Mapping) else None
        argv = [str(tb.exe), network, str(wd), str(n), "f64" if is_float else "raw"]
        try:
            proc = subprocess.run(argv + ([str(image)] if image is not None else []),
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolError(f"C simulation of {network!r} timed out after {timeout} s") from None
        if proc.returncode != 0:
            msg = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise ToolError(f"C simulation of {network!r} failed: {msg}")
        return read_taps(wd, taps_of(spec), n)


def serve_args(tb: Testbench, network: str, weights, workdir) -> list[str]:
    """Arguments that make the test bench a device for :class:`fixsim.hil.csim.CsimProcess`.

    Writes the weights (validated) to ``workdir``, or a weight image (bytes or path);
    the program loads them at start-up and then answers INFER requests (one raw input
    frame, (c, h, w) order) with the last layer's raw output, and WEIGHTS requests (a
    weight image) by replacing its weights, as the csim device protocol of
    :mod:`fixsim.hil.csim` defines.  Skipped by the doctests (it needs a built test bench;
    tests/vectors/test_csim_image.py runs it):

    >>> proc = CsimProcess(tb.exe, serve_args(tb, "specklenn_snl", w, d)).start()  # doctest: +SKIP
    """
    spec = tb.spec(network)
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    image = _image_path(weights, wd) if not isinstance(weights, Mapping) else None
    if image is not None:
        return ["--serve", network, "--image", str(image)]
    for key, arr in check_weights(spec, weights).items():
        (wd / f"{key}.bin").write_bytes(arr.astype("<i8").tobytes())
    return ["--serve", network, str(wd)]


def run(spec, weights, x, *, opt: str = DEFAULT_OPT, workdir=None,
        timeout: float | None = None) -> dict[str, np.ndarray]:
    """Build (cached) and run the C simulation of ``spec``; same taps as ``fixsim.network.run``.

    See :func:`run_testbench` for the parameters and the result.
    """
    spec = _load_spec(spec)
    tb = build(spec, opt=opt)
    return run_testbench(tb, namespace_of(spec.name), weights, x, workdir=workdir, timeout=timeout)


__all__ = ["Testbench", "build", "run", "run_testbench", "serve_args", "check_weights", "write_inputs",
           "read_taps", "DEFAULT_OPT"]
