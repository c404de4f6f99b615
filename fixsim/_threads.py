"""Threads: the thread-count argument, fixsim's own worker pool, and BLAS kept single-threaded.

fixsim parallelizes over slices of a batch in its own pool (one per thread count, kept
for the life of the process, so a call pays no thread start).  Inside that work every
kernel is serial; a BLAS call that spawned its own threads on top would oversubscribe
the cores (on a loaded 2-core machine the small dense GEMMs ran up to 13x slower), so
:func:`blas_single_thread` limits BLAS to one thread while fixsim computes
(threadpoolctl; without it the limit falls back to ``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``, which only act when set before numpy loads).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from ._validate import check_int

_local = threading.local()
_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}
_blas = {"users": 0, "limiter": None, "controller": None}


def resolve_threads(threads) -> int:
    """``None`` -> the CPUs this process may use; otherwise a validated positive int."""
    if threads is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else (os.cpu_count() or 1))
    return check_int("threads", threads, minimum=1)


def _mark_worker() -> None:
    _local.worker = True


def in_worker() -> bool:
    """True inside one of fixsim's pool threads (nested parallel calls then run serially)."""
    return getattr(_local, "worker", False)


def pool_map(fn, items: list, threads: int) -> list:
    """``[fn(i) for i in items]``, in fixsim's pool of ``threads`` workers when that helps.

    Serial for one thread or one item, and inside a pool thread (a nested call waiting
    for its own pool could otherwise deadlock it).
    """
    if threads <= 1 or len(items) <= 1 or in_worker():
        return [fn(i) for i in items]
    with _lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(
                max_workers=threads, thread_name_prefix=f"fixsim{threads}",
                initializer=_mark_worker)
    return list(pool.map(fn, items))


def _controller():
    if _blas["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas["controller"] = False
        else:
            _blas["controller"] = ThreadpoolController()
    return _blas["controller"] or None


@contextmanager
def blas_single_thread():
    """BLAS limited to one thread while the block runs (reference-counted across threads).

    The limit is process-wide (BLAS libraries have one thread setting), so it is set by
    the first concurrent user and restored by the last.
    """
    with _lock:
        if _blas["users"] == 0:
            ctl = _controller()
            _blas["limiter"] = ctl.limit(limits=1, user_api="blas") if ctl is not None else None
        _blas["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _blas["users"] -= 1
            if _blas["users"] == 0 and _blas["limiter"] is not None:
                _blas["limiter"].restore_original_limits()
                _blas["limiter"] = None


def blas_threads() -> int | None:
    """Threads the loaded BLAS would use now (None without threadpoolctl or BLAS)."""
    ctl = _controller()
    if ctl is None:
        return None
    infos = [i for i in ctl.info() if i.get("user_api") == "blas"]
    return min(i["num_threads"] for i in infos) if infos else None
