"""Thread-count argument shared by the multi-threaded paths."""

from __future__ import annotations

import os

from .errors import InputError


def resolve_threads(threads) -> int:
    """``None`` -> the CPUs this process may use; otherwise a validated positive int."""
    if threads is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else (os.cpu_count() or 1))
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    return threads
