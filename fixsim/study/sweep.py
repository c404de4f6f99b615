"""The sweep: grid points and the per-tensor search, run through an executor; the choice.

:func:`sweep` evaluates the base spec's own formats, the grid and (optionally) the
search, and returns every row with the cheapest point meeting the :class:`Targets`.

Search (``search=True``): starting from a point that meets the targets (the cheapest
grid point meeting them, else the base spec), each tensor's width is bisected on its own
(integer bits and modes kept; every other tensor at the start's format) down to the
narrowest width that still meets the targets, assuming the targets hold for every width
above a passing one.  The probes of one round (one per tensor still open) run together,
so the search uses every worker; the probes depend only on the results, never on the
executor.  The per-tensor minima are then combined; if the combination fails (tensors
interact), every tensor is widened by one bit at a time (capped at the start's width)
until it meets the targets.  The rows of the search carry ``stage`` "search" (probes) and
"combined".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import InputError
from .evaluate import Context
from .executors import ExecutorSpec, PointCache, Runner, run_points
from .points import Point, base_point


@dataclass(frozen=True)
class Targets:
    """What a point must reach: accuracy, gap to float, cycles, optionally DSPs."""

    min_accuracy: float = 0.90
    max_gap_pp: float = 1.0
    max_cycles: int = 9000
    max_dsp: int | None = None

    def __post_init__(self):
        if not 0 <= self.min_accuracy <= 1:
            raise InputError(f"--min-accuracy must be in [0, 1], got {self.min_accuracy!r}")
        if not 0 <= self.max_gap_pp <= 100:
            raise InputError(f"--max-gap must be in [0, 100] points, got {self.max_gap_pp!r}")

    def meets(self, row: dict) -> bool:
        """True when the row reaches every target (no accuracy or cycles: False)."""
        if row.get("accuracy") is None or row.get("cycles") is None:
            return False
        return (row["accuracy"] >= self.min_accuracy - 1e-12
                and abs(row["gap_pp"]) <= self.max_gap_pp + 1e-9
                and row["cycles"] <= self.max_cycles
                and (self.max_dsp is None or row["dsp"] <= self.max_dsp))

    def to_dict(self) -> dict:
        return {"min_accuracy": self.min_accuracy, "max_gap_pp": self.max_gap_pp,
                "max_cycles": self.max_cycles, "max_dsp": self.max_dsp}


def cost_key(row: dict) -> tuple:
    """Cheaper first: DSPs, then weight bits, LUTs, FFs, then the point key (a total order)."""
    return (row["dsp"], row["weight_bits"], row["lut"], row["ff"], row["key"])


def cheapest(rows, targets: Targets) -> dict | None:
    ok = [r for r in rows if targets.meets(r)]
    return min(ok, key=cost_key) if ok else None


def _width_of(fmt: str) -> int:
    from ..fixed import FixedType

    return FixedType.parse(fmt).width


def _with_width(point: Point, tensor: str, width: int, label: tuple) -> Point:
    from ..fixed import FixedType

    return point.with_format(tensor, FixedType.parse(point.format_of(tensor)).replace(width=width),
                             label)


def search(ctx: Context, start: Point, targets: Targets, run, *, min_width: int = 2,
           tensors: list | None = None) -> tuple[dict, Point | None]:
    """Per-tensor bisection from ``start`` (module docstring); returns (minimal widths,
    the combined point meeting the targets or None)."""
    names = [t for t, _ in start.formats] if tensors is None else list(tensors)
    lo = {t: min(min_width, _width_of(start.format_of(t))) for t in names}
    hi = {t: _width_of(start.format_of(t)) for t in names}  # hi passes by assumption
    while True:
        probes = {}
        for t in names:
            if lo[t] < hi[t]:
                mid = (lo[t] + hi[t]) // 2
                probes[t] = _with_width(start, t, mid, (("stage", "search"), ("tensor", t),
                                                        ("width", mid)))
        if not probes:
            break
        rows = run(list(probes.values()))
        for t, p in probes.items():
            mid = _width_of(p.format_of(t))
            if targets.meets(rows[p.key]):
                hi[t] = mid
            else:
                lo[t] = mid + 1
    widths = dict(hi)
    cap = {t: _width_of(start.format_of(t)) for t in names}
    for margin in range(0, max(cap.values(), default=0) + 1):
        p = start
        for t in names:
            p = _with_width(p, t, min(cap[t], widths[t] + margin), ())
        p = Point(p.formats, (("stage", "combined"), ("margin", margin)))
        row = run([p])[p.key]
        if targets.meets(row):
            return widths, p
        if all(widths[t] + margin >= cap[t] for t in names):
            break
    return widths, None


def sweep(ctx: Context, grid: list, targets: Targets, *, executor: ExecutorSpec | None = None,
          cache: PointCache | None = None, do_search: bool = False, min_width: int = 2,
          search_tensors: list | None = None,
          on_row: Callable[[Point, dict, bool], None] = lambda p, r, c: None) -> dict:
    """Evaluate the base point, the grid and optionally the search.

    Returns
    -------
    dict
        ``rows`` (every distinct point, in no particular order), ``best`` (the cheapest row
        meeting the targets, or None), ``base`` (the base spec's row), ``minimal_widths``
        (search only), ``computed`` and ``cached`` counts.
    """
    if not grid and not do_search:
        raise InputError("the grid is empty and no search is asked: nothing to sweep")

    with Runner(ctx, executor or ExecutorSpec()) as runner:
        return _sweep(ctx, grid, targets, runner, cache, do_search, min_width, search_tensors,
                      on_row)


def _sweep(ctx, grid, targets, runner, cache, do_search, min_width, search_tensors, on_row):
    all_rows: dict = {}
    counts = {"computed": 0, "cached": 0}

    def run(points):
        res = run_points(ctx, points, runner, cache, on_row)
        counts["computed"] += res["computed"]
        counts["cached"] += res["cached"]
        for k, r in res["rows"].items():
            all_rows.setdefault(k, r)
        return res["rows"]

    base = base_point(ctx.spec())
    base_row = run(list(grid) + [base])[base.key]  # a grid point equal to the base keeps
    # its grid label (the width curve has no gap)
    out = {"base": base_row, "minimal_widths": None}
    if do_search:
        start_row = cheapest(all_rows.values(), targets)
        start = base if start_row is None else Point(
            tuple((t, start_row["formats"][t]) for t, _ in base.formats))
        if not targets.meets(all_rows[start.key]):
            raise InputError("no evaluated point meets the targets: the search needs a start "
                             "that does (lower the targets or widen the grid)")
        widths, _ = search(ctx, start, targets, run, min_width=min_width, tensors=search_tensors)
        out["minimal_widths"] = widths
    out.update(rows=list(all_rows.values()), best=cheapest(all_rows.values(), targets), **counts)
    return out


__all__ = ["Targets", "sweep", "search", "cheapest", "cost_key"]
