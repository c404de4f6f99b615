"""Compare two results layer by layer: where, by how much, and does the decision change.

:func:`compare` takes two :class:`~fixsim.verify.result.Result` (A is the reference,
"expected"; B the one under test, "actual") and streams their common taps in chunks of
frames through one-pass Numba kernels, in threads:

- **fixed vs fixed** (same format per layer): mismatching values and frames per layer,
  the largest difference in LSBs, each layer's first mismatch, and the overall first
  mismatch: the first frame that differs anywhere, in it the earliest layer in dataflow
  order (where that frame's disagreement starts), in that layer the lowest flat index;
  values in decimal and in hex as W-bit two's complement.
- **fixed vs float**: the error ``fixed - float`` in LSBs of the fixed format per layer:
  max, mean |e|, RMS, mean (bias), a histogram of |e| and where the max is.
  **float vs float**: ``B - A`` in LSBs of the spec's format of the layer.
- **both**: distances between the final embeddings (L2 and relative to |A|) and the
  classification agreement (:mod:`fixsim.verify.classify`).

Frames are aligned by frame id; frames present on one side only make the results
different.  The status is ``equal`` (bit-identical, every frame), ``within_tolerance``
(every layer's max |difference| <= ``tolerance_lsb``), or ``different``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ..errors import InputError, closest
from . import classify
from .kernels import HIST_EDGES, N_BINS, diff_stats, error_stats
from .result import Result
from .._threads import resolve_threads

#: Bytes of one side's data per work item: large enough to amortize the call, small
#: enough that two sides times two threads stay in a few hundred MB.
CHUNK_BYTES = 32 << 20

EQUAL, WITHIN, DIFFERENT = "equal", "within_tolerance", "different"


def hex_raw(value: int, width: int) -> str:
    """``value`` as W-bit two's complement hex, e.g. ``hex_raw(-1, 16) == "0xffff"``."""
    digits = -(-width // 4)
    return f"0x{int(value) & ((1 << width) - 1):0{digits}x}"


@dataclass
class Mismatch:
    """One differing value: where (frame, layer, flat and multi-index) and both values."""

    frame: int
    row: int
    layer: str
    index: int
    multi_index: list
    expected: int
    actual: int
    expected_hex: str
    actual_hex: str
    diff_lsb: int

    def line(self) -> str:
        return (f"frame {self.frame} layer {self.layer} index {self.index} "
                f"{tuple(self.multi_index)}: expected {self.expected} ({self.expected_hex}) "
                f"actual {self.actual} ({self.actual_hex}), diff {self.diff_lsb:+d} LSB")


@dataclass
class LayerDiff:
    """Fixed vs fixed statistics of one layer."""

    layer: str
    format: str
    values: int
    mismatches: int = 0
    frames_with_mismatch: int = 0
    max_diff_lsb: int = 0
    first: Mismatch | None = None

    def within(self, tol: float) -> bool:
        return self.max_diff_lsb <= tol


@dataclass
class LayerError:
    """Error statistics of one layer (fixed vs float, or float vs float), in LSBs."""

    layer: str
    format: str | None
    unit: str
    values: int
    max_abs_lsb: float = 0.0
    mean_abs_lsb: float = 0.0
    rms_lsb: float = 0.0
    mean_lsb: float = 0.0
    nonfinite: int = 0
    hist_edges: list = field(default_factory=lambda: [float(e) for e in HIST_EDGES])
    hist: list = field(default_factory=lambda: [0] * N_BINS)
    max_at: dict | None = None

    def within(self, tol: float) -> bool:
        return self.nonfinite == 0 and self.max_abs_lsb <= tol


@dataclass
class Comparison:
    """The outcome of :func:`compare`; ``to_dict()`` is JSON-able, ``to_text()`` a report."""

    a: dict
    b: dict
    mode: str
    tolerance_lsb: float
    frames: int
    only_a: list
    only_b: list
    layers: list
    first_mismatch: Mismatch | None = None
    embedding: dict | None = None
    classification: dict | None = None
    #: Per-frame embedding L2 distances (for plots; not in the JSON).
    l2: np.ndarray | None = None

    @property
    def status(self) -> str:
        if self.only_a or self.only_b:
            return DIFFERENT
        if self.mode == "fixed-fixed" and all(l.mismatches == 0 for l in self.layers):
            return EQUAL
        ok = all(l.within(self.tolerance_lsb) for l in self.layers)
        return WITHIN if ok else DIFFERENT

    @property
    def exit_code(self) -> int:
        """0 equal or within tolerance, 1 different."""
        return 1 if self.status == DIFFERENT else 0

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "l2"}
        d["status"] = self.status
        d["only_a"] = d["only_a"][:classify.SHOW]
        d["only_b"] = d["only_b"][:classify.SHOW]
        d["n_only_a"], d["n_only_b"] = len(self.only_a), len(self.only_b)
        return d

    def to_text(self) -> str:
        from .report import comparison_text

        return comparison_text(self)


def _rows(a: Result, b: Result):
    """Row selectors of the common frames and the ids on one side only."""
    ida, idb = a.ids, b.ids
    if len(ida) == len(idb) and np.array_equal(ida, idb):
        return slice(None), slice(None), ida, [], []
    common, ra, rb = np.intersect1d(ida, idb, assume_unique=True, return_indices=True)
    only_a = np.setdiff1d(ida, idb, assume_unique=True).tolist()
    only_b = np.setdiff1d(idb, ida, assume_unique=True).tolist()
    return ra, rb, common, only_a, only_b


def _layers(a: Result, b: Result, wanted) -> list[str]:
    common = [name for name in a.layer_names if name in b.taps]
    if wanted:
        for name in wanted:
            if name not in a.taps or name not in b.taps:
                have = sorted(set(a.taps) | set(b.taps))
                side = "A" if name not in a.taps else "B"
                raise InputError(f"layer {name!r} is not in {side} "
                                 f"({a.source if side == 'A' else b.source}){closest(name, have)}")
        return [name for name in common if name in wanted]
    if not common:
        for r in (a, b):
            hil = r.info.get("hil") if not r.taps else None
            if hil:
                raise InputError(f"{r.source} is a HIL run report without per-frame outputs "
                                 f"(its verdict: {hil.get('verdict')}, {hil.get('n_ok')}/"
                                 f"{hil.get('n_frames')} frames bit-exact); capture the outputs "
                                 f"as .npz to compare them")
        raise InputError(f"{a.source} and {b.source} have no layer in common (A: "
                         f"{', '.join(a.layer_names) or 'none'}; B: {', '.join(b.layer_names) or 'none'})")
    return common


def _format(a: Result, b: Result, name: str):
    fa, fb = a.format_of(name), b.format_of(name)
    if a.fixed and b.fixed and fa is not None and fb is not None and fa != fb:
        raise InputError(f"layer {name!r}: formats differ ({fa} in A, {fb} in B); "
                         f"fixed taps can only be compared in the same format")
    return fa if fa is not None else fb


def _view(arr, rows, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of the selected frames as a 2-D (rows, values) array."""
    if isinstance(rows, slice):
        part = arr[start:stop]
    else:
        part = arr[rows[start:stop]]
    part = np.asarray(part)
    return part.reshape(len(part), -1)


def _tasks(arr, n: int) -> list[tuple[int, int]]:
    per = max(1, CHUNK_BYTES // max(1, int(np.prod(arr.shape[1:])) * arr.dtype.itemsize))
    return [(s, min(s + per, n)) for s in range(0, n, per)]


def compare(a: Result, b: Result, *, layers=None, tolerance_lsb: float = 0.0,
            support: classify.SupportSet | None = None, threads: int | None = None,
            progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Compare result B against reference A.

    Parameters
    ----------
    a, b : Result
        A is the reference (expected), B the result under test (actual).
    layers : sequence of str, optional
        Only these taps (default: every tap both have).
    tolerance_lsb : float
        Largest |difference| in LSBs for ``within_tolerance``.
    support : SupportSet, optional
        Supports for the classification agreement (see :mod:`fixsim.verify.classify`).
    threads : int, optional
        Worker threads (default: the CPUs this process may use); no effect on results.
    progress : callable, optional
        ``progress(done, total)`` after each chunk.

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        No common layer (or an unknown one asked for), differing fixed formats, fixed taps
        without a spec, a negative tolerance.
    """
    if not (isinstance(tolerance_lsb, (int, float)) and tolerance_lsb >= 0):
        raise InputError(f"tolerance must be a non-negative number of LSBs, got {tolerance_lsb!r}")
    names = _layers(a, b, layers)
    ra, rb, ids, only_a, only_b = _rows(a, b)
    n = len(ids)
    mode = ("fixed-fixed" if a.fixed and b.fixed else
            "fixed-float" if a.fixed or b.fixed else "float-float")
    stats, work = [], []
    for name in names:
        fmt = _format(a, b, name)
        if (a.fixed or b.fixed) and fmt is None:
            raise InputError(f"layer {name!r}: the format of the fixed taps is unknown (give --model)")
        size = int(np.prod(a.taps[name].shape[1:]))
        if mode == "fixed-fixed":
            stats.append(LayerDiff(name, str(fmt), n * size))
        else:
            stats.append(LayerError(name, None if fmt is None else str(fmt),
                                    "LSB" if fmt is not None else "absolute", n * size))
        work += [(len(stats) - 1, s, e) for s, e in _tasks(a.taps[name], n)]

    def run(task):
        k, s, e = task
        name = names[k]
        xa, xb = _view(a.taps[name], ra, s, e), _view(b.taps[name], rb, s, e)
        if mode == "fixed-fixed":
            return diff_stats(xa, xb)
        hist = np.zeros(N_BINS, np.int64)
        fmt = a.format_of(name) or b.format_of(name)
        inv = 1.0 if fmt is None else 2.0 ** fmt.frac_bits
        if mode == "fixed-float":  # e = fixed - float, in LSBs of the fixed format
            fx, fl = (xa, xb) if a.fixed else (xb, xa)
            return error_stats(fx, fl, 1.0, inv, hist) + (hist,)
        return error_stats(xb, xa, inv, inv, hist) + (hist,)  # B - A

    nthreads = min(resolve_threads(threads), max(1, len(work)))
    first_rows: dict[int, tuple] = {}
    sums: dict[int, list] = {}
    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        for done, (task, out) in enumerate(zip(work, pool.map(run, work), strict=True), 1):
            k, s, _ = task
            st = stats[k]
            if mode == "fixed-fixed":
                count, bad, fi, fj, mx = out
                st.mismatches += int(count)
                st.frames_with_mismatch += int(bad)
                st.max_diff_lsb = max(st.max_diff_lsb, int(mx))
                if fi >= 0 and k not in first_rows:
                    first_rows[k] = (s + int(fi), int(fj))
            else:
                mx, ai, aj, sa, sq, sg, nf, hist = out
                acc = sums.setdefault(k, [0.0, 0.0, 0.0])
                acc[0] += sa
                acc[1] += sq
                acc[2] += sg
                st.nonfinite += int(nf)
                st.hist = [int(x) + int(y) for x, y in zip(st.hist, hist, strict=True)]
                if ai >= 0 and (st.max_at is None or mx > st.max_abs_lsb):
                    st.max_abs_lsb = float(mx)
                    st.max_at = {"row": s + int(ai), "index": int(aj)}
            if progress is not None:
                progress(done, len(work))
    finite = lambda st: max(1, st.values - st.nonfinite)  # noqa: E731
    for k, (sa, sq, sg) in sums.items():
        st = stats[k]
        st.mean_abs_lsb = sa / finite(st)
        st.rms_lsb = float(np.sqrt(sq / finite(st)))
        st.mean_lsb = sg / finite(st)
    first = None
    for k, (row, j) in first_rows.items():
        stats[k].first = _mismatch(a, b, names[k], ra, rb, ids, row, j)
        if first is None or row < first.row:  # names are in dataflow order: ties keep the earliest
            first = stats[k].first
    for st in stats:
        if isinstance(st, LayerError) and st.max_at is not None:
            row = st.max_at["row"]
            shape = a.taps[st.layer].shape[1:]
            st.max_at.update(frame=int(ids[row]),
                             multi_index=[int(x) for x in np.unravel_index(st.max_at["index"], shape)])
    cmp = Comparison(a.describe(), b.describe(), mode, float(tolerance_lsb), n, only_a, only_b,
                     stats, first)
    _embedding(cmp, a, b, ra, rb, ids, support)
    return cmp


def _mismatch(a: Result, b: Result, name: str, ra, rb, ids, row: int, j: int) -> Mismatch:
    fmt = a.format_of(name) or b.format_of(name)
    ea = int(_view(a.taps[name], ra, row, row + 1)[0, j])
    eb = int(_view(b.taps[name], rb, row, row + 1)[0, j])
    shape = a.taps[name].shape[1:]
    return Mismatch(int(ids[row]), row, name, j, [int(x) for x in np.unravel_index(j, shape)],
                    ea, eb, hex_raw(ea, fmt.width), hex_raw(eb, fmt.width), eb - ea)


def _select(result: Result, name: str, rows) -> np.ndarray:
    return result.values(name, rows if not isinstance(rows, slice) else slice(None))


def _embedding(cmp: Comparison, a: Result, b: Result, ra, rb, ids, support) -> None:
    """Embedding distances and classification agreement on the output layer, if both have it."""
    out = a.output_layer or b.output_layer
    if out is None or out not in a.taps or out not in b.taps or cmp.frames == 0:
        return
    ea = _select(a, out, ra).reshape(cmp.frames, -1)
    eb = _select(b, out, rb).reshape(cmp.frames, -1)
    l2 = np.linalg.norm(eb - ea, axis=1)
    rel = l2 / np.maximum(np.linalg.norm(ea, axis=1), 1e-12)
    q = lambda v, p: float(np.percentile(v, p))  # noqa: E731
    cmp.l2 = l2
    cmp.embedding = {
        "layer": out, "dim": int(ea.shape[1]), "reference": "A",
        "l2": {"mean": float(l2.mean()), "p50": q(l2, 50), "p99": q(l2, 99), "max": float(l2.max())},
        "relative": {"mean": float(rel.mean()), "p50": q(rel, 50), "p99": q(rel, 99),
                     "max": float(rel.max())},
        "max_frame": int(ids[int(l2.argmax())]),
    }
    labels = None
    for res, rows in ((a, ra), (b, rb)):
        if res.labels is not None:
            labels = res.labels[rows]
            break
    names = a.class_names or b.class_names
    cmp.classification = classify.agreement(ea, eb, labels=labels, support=support,
                                            frame_ids=ids, class_names=names)


__all__ = ["compare", "Comparison", "LayerDiff", "LayerError", "Mismatch", "hex_raw",
           "EQUAL", "WITHIN", "DIFFERENT", "CHUNK_BYTES"]
