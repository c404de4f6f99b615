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
  (N,), ``cycle_source`` ("firmware", "model"; missing or anything else is "unknown"),
  ``spec`` (name), ``vectors_manifest_sha256`` and ``weights_sha256`` (what ran).  Raw
  values outside their layer's format are refused.
- **HIL report** ``.json`` written by ``fixsim hil run --out``: no per-frame outputs, but
  the run's verdict, the firmware cycle statistics, and what it ran (vector-set manifest,
  weight image and output sha256, backend, cycle source).

As latency evidence for ``fixsim certify --hw`` (:func:`hw_evidence`) either kind must be
bound to the design being certified: its outputs bit-exact against the certified vector
set, cycle counts only for frames with outputs, counted by firmware; every mismatch is
named (a FAIL), never silently accepted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
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
    for name, arr in taps.items():
        _check_raw(arr, spec.input_format if name == "input" else spec.layer(name).out_format,
                   f"{path}: {name!r}")
    source_kind = _label(data.get("cycle_source"))
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
        kind = _label(z.get("cycle_source"))
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
               "cycle_source": _label(hil.get("cycle_source")), "clock_mhz": hil.get("clock_mhz"),
               "verdict": hil.get("verdict")}
    if out["cycle_source"] != "firmware":
        raise InputError(f"{path}: cycle counts are {out['cycle_source']!r}, not measured by "
                         f"firmware: they cannot certify latency")
    out["path"] = str(path)
    return out


# --------------------------------------------------------------------------- certify --hw

def _label(value) -> str:
    """A cycle-source label: "firmware", "model", else "unknown" (missing or garbage)."""
    from ..hil.backend import cycle_source_label

    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "US":
        value = str(value)
    return cycle_source_label(value)


def _check_raw(arr: np.ndarray, fmt, what: str) -> None:
    """Integer raw values inside ``fmt``'s range, else InputError naming the first outlier."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iu":
        raise InputError(f"{what} must hold raw integers, got dtype {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < fmt.raw_min or hi > fmt.raw_max:
            raise InputError(f"{what}: raw value {lo if lo < fmt.raw_min else hi} is outside "
                             f"{fmt} [{fmt.raw_min}, {fmt.raw_max}]")


def _p99_max(cycles) -> tuple[int, int]:
    c = np.sort(np.asarray(cycles, dtype=np.int64))
    return int(c[max(0, int(np.ceil(0.99 * len(c))) - 1)]), int(c[-1])  # nearest rank


@dataclass
class Certified:
    """What ``certify`` certifies, for binding hardware evidence to it.

    ``expected`` is the certified vector set's last-layer raw outputs (N, ...) or None
    (no vector set); the sha256 fields are the manifest's and the weight image's.
    """

    spec: object
    expected: np.ndarray | None
    manifest_sha256: str | None
    weights_sha256: str | None
    clock_mhz: float


@dataclass
class HwEvidence:
    """A hardware result read for ``certify --hw``.

    ``problems`` lists ``(check name, detail)`` for every way the evidence is not the
    certified design's (each becomes a FAIL); ``p99``/``max`` certify latency only when
    there is none.  ``record`` is what the certificate stores.
    """

    kind: str
    cycle_source: str
    p99: int | None
    max: int | None
    n_cycles: int
    clock_mhz: float | None
    problems: list = field(default_factory=list)
    record: dict = field(default_factory=dict)


def _first_diff(got: np.ndarray, want: np.ndarray, ids: np.ndarray) -> tuple[int, str]:
    bad = np.flatnonzero((got != want).any(axis=1))
    if not bad.size:
        return 0, ""
    r = int(bad[0])
    i = int(np.flatnonzero(got[r] != want[r])[0])
    return int(bad.size), (f"first: frame {int(ids[r])} index {i}: expected {int(want[r, i])}, "
                           f"got {int(got[r, i])}")


def _capture_evidence(path: Path, target: Certified) -> HwEvidence:
    from .._files import read_npz

    z = read_npz(path, "hardware capture")
    spec = target.spec
    out = spec.layers[-1]
    problems = []
    if "spec" in z and str(z["spec"]) != spec.name:
        problems.append(("hw_design", f"the capture is of spec {str(z['spec'])!r}, the "
                         f"certified design is {spec.name!r}"))
    cycles = z.get("cycles")
    if cycles is None or cycles.ndim != 1 or cycles.dtype.kind not in "iu" or not len(cycles):
        raise InputError(f"{path}: the capture holds no 'cycles' array of integers")
    if int(cycles.min()) < 0:
        raise InputError(f"{path}: negative cycle count {int(cycles.min())}")
    source = _label(z.get("cycle_source"))
    outputs = z.get("outputs")
    if "layer" in z and str(z["layer"]) != out.name:
        problems.append(("hw_outputs", f"the capture's outputs are of layer {str(z['layer'])!r}, "
                         f"not the output layer {out.name!r}"))
        outputs = None
    n_out = 0
    if outputs is None:
        problems.append(("hw_outputs", f"the capture holds no outputs: its {len(cycles)} cycle "
                         f"counts are bound to no result (latency is certified only with "
                         f"bit-exact outputs)"))
    else:
        size = int(np.prod(out.out_shape))
        if outputs.ndim < 1 or outputs.size != len(outputs) * size:
            raise InputError(f"{path}: outputs of shape {outputs.shape}, expected (N, "
                             f"{', '.join(map(str, out.out_shape))}) of layer {out.name!r}")
        _check_raw(outputs, out.out_format, f"{path}: 'outputs'")
        n_out = len(outputs)
        got = outputs.reshape(n_out, size).astype(np.int64)
        ids = z.get("frame_ids")
        if ids is None:
            ids = np.arange(n_out)
        elif ids.shape != (n_out,) or ids.dtype.kind not in "iu":
            raise InputError(f"{path}: frame_ids must be {n_out} integers, one per output, got "
                             f"{ids.dtype} {ids.shape}")
        ids = ids.astype(np.int64)
        if len(cycles) != n_out:
            problems.append(("hw_frames", f"the capture holds cycle counts for {len(cycles)} "
                             f"frames but outputs for {n_out}: every frame with a cycle count "
                             f"needs its outputs"))
        if len(np.unique(ids)) != n_out:
            problems.append(("hw_frames", "the capture repeats frame ids"))
        if target.expected is None:
            problems.append(("hw_outputs", "no vector set to check the capture's outputs "
                             "against (give --vectors)"))
        elif n_out and (ids.min() < 0 or ids.max() >= len(target.expected)):
            problems.append(("hw_frames", f"frame ids {int(ids.min())}..{int(ids.max())} are not "
                             f"all frames of the certified vector set (0..{len(target.expected) - 1})"))
        else:
            want = np.asarray(target.expected).reshape(len(target.expected), -1)[ids]
            n_bad, first = _first_diff(got, want.astype(np.int64), ids)
            if n_bad:
                problems.append(("hw_outputs", f"{n_bad} of {n_out} captured frames differ from "
                                 f"the certified vector set's expected outputs; {first}"))
    for key, want, what in (("vectors_manifest_sha256", target.manifest_sha256, "vector set"),
                            ("weights_sha256", target.weights_sha256, "weight image")):
        if key in z and str(z[key]) != want:
            problems.append(("hw_vector_set" if key.startswith("vectors") else "hw_weights",
                             f"the capture ran {what} sha256 {str(z[key])[:12]}..., the "
                             f"certified one is {str(want)[:12]}..."))
    p99, mx = _p99_max(cycles)
    record = {"n_cycles": int(len(cycles)), "n_outputs": n_out, "cycle_source": source,
              "cycle_source_declared_by": "capture" if "cycle_source" in z else "nobody",
              "spec": str(z["spec"]) if "spec" in z else None}
    return HwEvidence("hw-capture", source, p99, mx, int(len(cycles)), None, problems, record)



def _hash_binding(problems: list, key: str, got, want, mismatch: str, missing: str) -> None:
    """Append ``(key, reason)`` unless the evidence's hash ``got`` is the certified ``want``."""
    if got is None or got != want:
        problems.append((key, mismatch.format(got=str(got)[:12], want=str(want)[:12])
                         if got else missing))


def _report_evidence(path: Path, target: Certified) -> HwEvidence:
    from .._files import read_text
    from ..hil.run import outputs_sha256

    try:
        rep = json.loads(read_text(path, "HIL report"))
    except ValueError as exc:
        raise InputError(f"{str(path)!r} is not a JSON HIL report ({exc})") from None
    if not isinstance(rep, dict) or "verdict" not in rep or "n_frames" not in rep:
        raise InputError(f"{str(path)!r} is not a fixsim hil report (no verdict/n_frames)")
    problems = []
    backend = rep.get("backend") if isinstance(rep.get("backend"), dict) else {}
    name = backend.get("name", "?")
    source = _label(rep.get("cycle_source"))
    by = rep.get("cycle_source_declared_by") or "nobody"
    vset = rep.get("vector_set") if isinstance(rep.get("vector_set"), dict) else {}
    sums = rep.get("sha256") if isinstance(rep.get("sha256"), dict) else {}
    manifest = vset.get("manifest_sha256") or sums.get("manifest.json")
    _hash_binding(problems, "hw_vector_set", manifest, target.manifest_sha256,
                  "the HIL run used vector set manifest sha256 {got}..., the certified vector "
                  "set's is {want}...", "the HIL report names no vector set (manifest sha256)")
    _hash_binding(problems, "hw_weights", rep.get("weights_sha256"), target.weights_sha256,
                  "the HIL run loaded weight image sha256 {got}..., the certified weight image "
                  "is {want}...", "the HIL report names no weight image (weights_sha256)")
    n = rep.get("n_frames")
    n_want = None if target.expected is None else len(target.expected)
    if not isinstance(n, int) or isinstance(n, bool) or n != n_want or rep.get("n_ok") != n:
        problems.append(("hw_frames", f"the HIL run checked {rep.get('n_ok')!r} of {n!r} frames "
                         f"bit-exact; the certified vector set has {n_want} frames"))
    fails = rep.get("failures") if isinstance(rep.get("failures"), list) else [rep.get("failures")]
    if rep.get("verdict") != "pass" or any(fails):
        problems.append(("hw_run", f"the HIL run did not pass (verdict {rep.get('verdict')!r}"
                         + (f"; {fails[0]}" if fails and fails[0] else "") + ")"))
    _hash_binding(problems, "hw_outputs", rep.get("outputs_sha256"),
                  None if target.expected is None else outputs_sha256(target.expected),
                  "the HIL report's outputs sha256 {got}... is not the certified expected "
                  "outputs' {want}...",
                  "the HIL report holds no outputs sha256 (not every frame came back intact)")
    clock = rep.get("clock_mhz")
    if clock != target.clock_mhz:
        problems.append(("hw_clock", f"cycles counted at {clock!r} MHz, the budget is at "
                         f"{target.clock_mhz:g} MHz"))
    lat = rep.get("firmware_latency_cycles")
    p99 = mx = None
    n_cycles = 0
    if isinstance(lat, dict) and all(isinstance(lat.get(k), (int, float)) and lat[k] >= 0
                                     for k in ("p99", "max")):
        p99, mx, n_cycles = int(lat["p99"]), int(lat["max"]), int(lat.get("n") or 0)
    else:
        problems.append(("hw_cycles", "the HIL report holds no cycle counts"))
    record = {"backend": name, "cycle_source": source, "cycle_source_declared_by": by,
              "n_frames": n, "n_ok": rep.get("n_ok"), "verdict": rep.get("verdict"),
              "vector_set_manifest_sha256": manifest, "weights_sha256": rep.get("weights_sha256"),
              "outputs_sha256": rep.get("outputs_sha256"), "clock_mhz": clock,
              "fixsim_version": rep.get("fixsim_version")}
    return HwEvidence("hil-report", source, p99, mx, n_cycles, clock, problems, record)


def hw_evidence(path, target: Certified) -> HwEvidence:
    """Read a hardware result for ``certify --hw`` and bind it to ``target``.

    Parameters
    ----------
    path : path
        A ``fixsim hil run --out`` report (.json) or a capture (.npz).
    target : Certified
        The design being certified.

    Returns
    -------
    HwEvidence
        With a problem for each mismatch: outputs not bit-exact (or absent), cycle counts
        without outputs, another vector set or weight image, too few frames, a failed run,
        another clock, cycles not counted by firmware.

    Raises
    ------
    InputError
        Unreadable or malformed file, no cycle counts in a capture, raw outputs outside
        their format's range.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"hardware result {str(path)!r} is not a file")
    ev = (_capture_evidence if path.suffix == ".npz" else _report_evidence)(path, target)
    if ev.cycle_source != "firmware":
        by = ev.record.get("cycle_source_declared_by")
        ev.problems.insert(0, ("hw_cycle_source", f"cycle counts are {ev.cycle_source!r} "
                               f"(declared by {by}), not counted by firmware: they never "
                               f"certify latency"))
    return ev


__all__ = ["read_tap_dir", "read_cosim_log", "read_hw_npz", "read_hil_report", "hw_latency",
           "hw_evidence", "HwEvidence", "Certified", "COSIM_HEADER", "COSIM_TAP"]
