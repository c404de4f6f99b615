"""Readers for results produced outside fixsim: tap directories, cosim logs, hardware captures.

Formats (documented in docs/compare_certify.md):

- **tap directory** (``fixsim csim --out DIR``, the rtl/ test bench, a C/RTL cosim run
  directory): ``tap_<layer>.bin``, int64 little-endian, (N, *shape) C order, any subset of
  ``input`` and the spec's layers, optional ``meta.json`` (``spec``, ``spec_sha256``,
  ``n``) as :func:`fixsim.csim.twin.write_inputs` writes it.  Files are memory-mapped.
- **cosim log** (text, version 1): the test bench prints one line per frame and tap,
  ``FIXSIM_TAP <layer> <frame_id> <v0> <v1> ...`` (decimal raw values, C order), after an
  optional header ``FIXSIM_COSIM 1 spec=<name> spec_sha256=<hex>``; every other line (the
  simulator's own output) is ignored.
- **hardware capture** ``.npz``: ``outputs`` (N, ...) raw integers of the last layer (or
  of ``layer``), and/or ``tap_<layer>`` arrays; optional ``frame_ids`` (N,), ``cycles``
  (N,), ``cycle_source`` ("firmware" default, or "model"), ``spec`` (name).
- **HIL report** ``.json`` written by ``fixsim hil run --out``: no per-frame outputs, but
  the run's verdict and the firmware cycle statistics.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import InputError, closest
from .result import Result

COSIM_HEADER = "FIXSIM_COSIM"
COSIM_TAP = "FIXSIM_TAP"
_TAP_FILE = re.compile(r"^tap_([A-Za-z_][A-Za-z0-9_]*)\.bin$")


def _spec(given, name_in_file, sha_in_file, where: str):
    """The spec: the one given, else the one the file names; hashes must agree."""
    from ..network.spec import load_spec

    if given is None and name_in_file is None:
        raise InputError(f"{where} does not name its network; give --model")
    spec = load_spec(given if given is not None else name_in_file)
    if sha_in_file and sha_in_file != spec.spec_hash():
        raise InputError(f"{where} was made for spec {name_in_file!r} with sha256 "
                         f"{sha_in_file[:12]}..., not {spec.name!r} ({spec.spec_hash()[:12]}...)")
    return spec


def _tap_names(spec, names, where: str) -> None:
    valid = ["input"] + [l.name for l in spec.layers]
    for name in names:
        if name not in valid:
            raise InputError(f"{where}: tap {name!r} is not a layer of {spec.name!r}"
                             f"{closest(name, valid)}")


def _tap_size(spec, name: str) -> tuple[int, ...]:
    return tuple(spec.input_shape) if name == "input" else tuple(spec.layer(name).out_shape)


def read_tap_dir(path, kind: str, source: str, spec=None) -> Result:
    """A directory of ``tap_<layer>.bin`` files (memory-mapped, int64 little-endian).

    Raises
    ------
    InputError
        No tap files, unknown layer names, a file size that is not a whole number of
        frames (or disagrees with ``meta.json`` or the other taps), a bad ``meta.json``.
    """
    path = Path(path)
    meta = {}
    if (path / "meta.json").is_file():
        try:
            meta = json.loads((path / "meta.json").read_text())
        except (ValueError, OSError) as exc:
            raise InputError(f"{path / 'meta.json'}: not valid JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise InputError(f"{path / 'meta.json'}: expected a JSON object")
    files = {m.group(1): p for p in sorted(path.iterdir()) if (m := _TAP_FILE.match(p.name))}
    if not files:
        raise InputError(f"{str(path)!r} holds no tap_<layer>.bin files")
    spec = _spec(spec, meta.get("spec"), meta.get("spec_sha256"), str(path))
    _tap_names(spec, files, str(path))
    taps, n = {}, meta.get("n")
    for name, f in files.items():
        shape = _tap_size(spec, name)
        size = int(np.prod(shape)) * 8
        nbytes = f.stat().st_size
        if nbytes % size:
            raise InputError(f"{f}: {nbytes} bytes is not a whole number of {name} frames "
                             f"({size} bytes each)")
        frames = nbytes // size
        if n is None:
            n = frames
        if frames != n:
            raise InputError(f"{f}: holds {frames} frames, expected {n}")
        taps[name] = (np.memmap(f, dtype="<i8", mode="r", shape=(frames,) + shape) if frames
                      else np.zeros((0,) + shape, np.int64))
    return Result(source, kind, spec, taps, True, info={"path": str(path), "meta": meta})


def read_cosim_log(path, source: str, spec=None) -> Result:
    """Parse a cosim log (``FIXSIM_TAP`` lines); frames ordered by id.

    Raises
    ------
    InputError
        No ``FIXSIM_TAP`` line, a malformed line, a wrong number of values, a repeated
        (layer, frame), layers holding different frame ids.
    """
    path = Path(path)
    rows: dict[str, dict[int, np.ndarray]] = {}
    header: dict[str, str] = {}
    try:
        fh = open(path, "r", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read cosim log {str(path)!r}: {exc.strerror}") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith(COSIM_HEADER):
                parts = line.split()
                if len(parts) < 2 or parts[1] != "1":
                    raise InputError(f"{path}:{lineno}: unsupported cosim log version "
                                     f"{parts[1] if len(parts) > 1 else None!r} (expected 1)")
                header.update(p.split("=", 1) for p in parts[2:] if "=" in p)
                continue
            if not line.startswith(COSIM_TAP):
                continue
            parts = line.split(maxsplit=3)
            if len(parts) < 4:
                raise InputError(f"{path}:{lineno}: expected 'FIXSIM_TAP <layer> <frame> <values...>'")
            try:
                frame = int(parts[2])
                values = np.array(parts[3].split(), dtype=np.int64)
            except (ValueError, OverflowError):
                raise InputError(f"{path}:{lineno}: frame id and values must be decimal integers") from None
            layer = rows.setdefault(parts[1], {})
            if frame in layer:
                raise InputError(f"{path}:{lineno}: tap {parts[1]!r} of frame {frame} appears twice")
            layer[frame] = values
    if not rows:
        raise InputError(f"{str(path)!r} holds no {COSIM_TAP} lines (not a fixsim cosim log)")
    spec = _spec(spec, header.get("spec"), header.get("spec_sha256"), str(path))
    _tap_names(spec, rows, str(path))
    ids = None
    taps = {}
    for name, frames in rows.items():
        order = np.array(sorted(frames), dtype=np.int64)
        if ids is None:
            ids = order
        elif not np.array_equal(ids, order):
            raise InputError(f"{path}: tap {name!r} holds other frame ids than the others")
        shape = _tap_size(spec, name)
        size = int(np.prod(shape))
        for fid in order:
            if frames[fid].size != size:
                raise InputError(f"{path}: tap {name!r} of frame {fid} has {frames[fid].size} "
                                 f"values, expected {size}")
        taps[name] = np.stack([frames[f] for f in order]).reshape((len(order),) + shape)
    return Result(source, "cosim", spec, taps, True, frame_ids=ids,
                  info={"path": str(path), "header": header})


def read_hw_npz(path, source: str, spec=None) -> Result:
    """A hardware capture ``.npz`` (see the module docstring).

    Raises
    ------
    InputError
        Unreadable file, no outputs, a non-integer array, unknown layer names.
    """
    path = Path(path)
    from .._files import read_npz

    data = read_npz(path, "hardware capture")  # never unpickles; one-line errors
    name = str(data["spec"]) if "spec" in data else None
    spec = _spec(spec, name, None, str(path))
    taps = {k[4:]: v for k, v in data.items() if k.startswith("tap_")}
    if "outputs" in data:
        layer = str(data["layer"]) if "layer" in data else spec.layers[-1].name
        taps[layer] = data["outputs"]
    if not taps:
        raise InputError(f"{str(path)!r} holds neither 'outputs' nor 'tap_<layer>' arrays")
    _tap_names(spec, taps, str(path))
    source_kind = str(data["cycle_source"]) if "cycle_source" in data else "firmware"
    if source_kind not in ("firmware", "model"):
        raise InputError(f"{path}: cycle_source must be 'firmware' or 'model', got {source_kind!r}")
    cycles = data.get("cycles")
    return Result(source, "hw", spec, taps, True, frame_ids=data.get("frame_ids"),
                  cycles=cycles, cycle_source=source_kind if cycles is not None else None,
                  info={"path": str(path)})


def read_hil_report(path, source: str, spec=None) -> Result:
    """A ``fixsim hil run`` JSON report: no taps; its verdict and cycle statistics as info.

    Raises
    ------
    InputError
        Not JSON, or not a HIL report (no ``verdict``/``n_frames``).
    """
    path = Path(path)
    try:
        rep = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise InputError(f"{str(path)!r} is not a JSON HIL report ({exc})") from None
    if not isinstance(rep, dict) or "verdict" not in rep or "n_frames" not in rep:
        raise InputError(f"{str(path)!r} is not a fixsim hil report (no verdict/n_frames)")
    keep = ("verdict", "n_frames", "n_ok", "failures", "cycle_source", "clock_mhz",
            "firmware_latency_cycles", "firmware_latency_us", "backend", "fixsim_version")
    return Result(source, "hw", spec, {}, True, info={"path": str(path),
                                                      "hil": {k: rep.get(k) for k in keep}})


def hw_latency(path) -> dict:
    """Firmware latency evidence from a HIL report (.json) or a capture (.npz).

    Returns
    -------
    dict
        ``p99``, ``max`` (ints, cycles), ``n``, ``cycle_source``, ``clock_mhz`` (None for
        a capture), ``path``.

    Raises
    ------
    InputError
        Unreadable file, no cycle data, or modelled (not measured) cycles.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"hardware result {str(path)!r} is not a file")
    if path.suffix == ".npz":
        from .._files import read_npz

        z = read_npz(path, "hardware capture")  # never unpickles; one-line errors
        cycles = z["cycles"] if "cycles" in z else None
        kind = str(z["cycle_source"]) if "cycle_source" in z else "firmware"
        if cycles is None or cycles.ndim != 1 or cycles.dtype.kind not in "iu" or not len(cycles):
            raise InputError(f"{path}: the capture holds no 'cycles' array of integers")
        c = np.sort(cycles.astype(np.int64))
        p99 = int(c[max(0, int(np.ceil(0.99 * len(c))) - 1)])  # nearest rank, an observed value
        out = {"p99": p99, "max": int(c[-1]), "n": int(len(c)), "cycle_source": kind,
               "clock_mhz": None}
    else:
        hil = read_hil_report(path, f"hw:{path}").info["hil"]
        lat = hil.get("firmware_latency_cycles")
        if not lat:
            raise InputError(f"{path}: the HIL report holds no firmware latency")
        out = {"p99": int(lat["p99"]), "max": int(lat["max"]), "n": int(lat.get("n", 0)),
               "cycle_source": hil.get("cycle_source"), "clock_mhz": hil.get("clock_mhz"),
               "verdict": hil.get("verdict")}
    if out["cycle_source"] != "firmware":
        raise InputError(f"{path}: cycle counts are {out['cycle_source']!r}, not measured by "
                         f"firmware: they cannot certify latency")
    out["path"] = str(path)
    return out


__all__ = ["read_tap_dir", "read_cosim_log", "read_hw_npz", "read_hil_report", "hw_latency",
           "COSIM_HEADER", "COSIM_TAP"]
