"""Where points run: in process, on a process pool, or on Dask; with the point cache.

Every executor calls the same pure :func:`fixsim.study.evaluate.evaluate_point` on the
same context, so the rows are the same wherever they ran.  Only the driver touches the
cache: a row is written (atomically, one JSON file per point, named by the point's
content hash :meth:`Context.point_key`) as soon as it arrives, so a sweep killed at any
moment loses at most the points in flight, and the next run with the same model, data,
formats and fixsim version skips every point already in the cache.

Dask: ``dask_local=N`` starts a ``distributed.LocalCluster`` of N one-thread worker
processes; ``scheduler="tcp://HOST:PORT"`` connects to a running scheduler (for example a
dask-jobqueue ``SLURMCluster``, docs/study.md).  The context is scattered to the workers
once (broadcast); the workers need fixsim installed, not the files.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .._files import write_text_atomic
from ..errors import InputError
from .evaluate import Context, evaluate_point
from .points import Point

#: Seconds the driver sleeps after storing each computed point (tests only: it makes
#: the moment a test kills a sweep independent of the machine's speed).
THROTTLE_ENV = "FIXSIM_STUDY_THROTTLE"


class PointCache:
    """Rows by content hash under ``root/points/<2 hex>/<hash>.json``."""

    def __init__(self, root):
        self.root = Path(root)
        try:
            (self.root / "points").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create cache directory {str(self.root)!r}: "
                             f"{exc.strerror}") from None

    def path(self, key: str) -> Path:
        return self.root / "points" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            entry = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed
        return entry.get("row") if entry.get("key") == key else None

    def put(self, key: str, row: dict) -> None:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(p, json.dumps({"key": key, "row": row}, sort_keys=True))

    def keys(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "points").glob("*/*.json"))


@dataclass(frozen=True)
class ExecutorSpec:
    """How to run points: ``kind`` "inprocess", "pool" (``workers``) or "dask"
    (``workers`` local processes, or ``scheduler`` address)."""

    kind: str = "inprocess"
    workers: int = 1
    scheduler: str | None = None

    def describe(self) -> str:
        if self.kind == "pool":
            return f"process pool of {self.workers}"
        if self.kind == "dask":
            return (f"Dask scheduler {self.scheduler}" if self.scheduler else
                    f"Dask LocalCluster of {self.workers} workers")
        return "in process"


# ------------------------------------------------------------------ runners
_CTX: dict = {}


def _init_worker(ctx: Context) -> None:
    _CTX["ctx"] = ctx


def _pool_eval(point: Point) -> dict:
    return evaluate_point(_CTX["ctx"], point)


class Runner:
    """An open executor for one sweep (workers start once, on the first batch of points).

    ``with Runner(ctx, spec) as r: r.stream(points)`` yields ``(point, row)`` in the
    order the rows arrive.
    """

    def __init__(self, ctx: Context, spec: ExecutorSpec):
        self.ctx, self.spec = ctx, spec
        self._pool = self._client = self._cluster = self._ctx_f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def stream(self, points: list) -> Iterable:
        if not points:
            return iter(())
        if self.spec.kind == "pool" and self.spec.workers > 1:
            return self._pool_stream(points)
        if self.spec.kind == "dask":
            return self._dask_stream(points)
        return ((p, evaluate_point(self.ctx, p)) for p in points)

    def _pool_stream(self, points: list) -> Iterable:
        import multiprocessing

        if self._pool is None:
            # spawn: no fork of a process holding Numba's and BLAS's threads
            self._pool = ProcessPoolExecutor(
                max_workers=self.spec.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self.ctx,))
        futures = {self._pool.submit(_pool_eval, p): p for p in points}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def _dask_stream(self, points: list) -> Iterable:
        from distributed import as_completed as dask_completed

        if self._client is None:
            self._client, self._cluster = _dask_client(self.spec)
            self._ctx_f = self._client.scatter(self.ctx, broadcast=True)
        futures = self._client.map(evaluate_point, [self._ctx_f] * len(points), points,
                                   key=[f"fixsim-point-{self.ctx.point_key(p)}" for p in points])
        by_key = {f.key: p for f, p in zip(futures, points, strict=True)}
        try:
            for fut in dask_completed(futures):
                yield by_key[fut.key], fut.result()
        finally:
            for fut in futures:
                fut.cancel()


def _dask_client(spec: ExecutorSpec):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("Dask is not installed: pip install 'fixsim[cluster]'") from None
    if spec.scheduler:
        try:
            return Client(spec.scheduler, timeout="20s"), None
        except OSError as exc:
            raise InputError(f"cannot connect to the Dask scheduler {spec.scheduler!r}: "
                             f"{exc}") from None
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)  # worker shutdown chatter
    cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


# ------------------------------------------------------------------ driver
def run_points(ctx: Context, points: list, runner: Runner, cache: PointCache | None,
               on_row: Callable[[Point, dict, bool], None] = lambda p, r, c: None) -> dict:
    """Rows of ``points`` (dict point key -> row), cached ones first, the others computed.

    ``on_row(point, row, cached)`` is called for every row as it becomes available.
    Returns ``{"rows": {point.key: row}, "computed": n, "cached": n}``.
    """
    rows, pending, seen = {}, [], set()
    for p in points:
        if p.key in seen:
            continue
        seen.add(p.key)
        row = cache.get(ctx.point_key(p)) if cache is not None else None
        if row is not None:
            row = {**row, "key": p.key, "label": p.labels()}
            rows[p.key] = row
            on_row(p, row, True)
        else:
            pending.append(p)
    throttle = float(os.environ.get(THROTTLE_ENV, "0") or 0)
    for p, row in runner.stream(pending):
        row = {**row, "key": p.key, "label": p.labels()}
        if cache is not None:
            cache.put(ctx.point_key(p), row)
        rows[p.key] = row
        on_row(p, row, False)
        if throttle:
            time.sleep(throttle)
    return {"rows": rows, "computed": len(pending), "cached": len(seen) - len(pending)}


__all__ = ["PointCache", "ExecutorSpec", "Runner", "run_points", "THROTTLE_ENV"]
