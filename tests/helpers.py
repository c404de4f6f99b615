"""Test helpers shared by all suites."""

from __future__ import annotations

import numpy as np


def assert_bits_equal(expected, actual, *, inputs=None, context: str = "", show: int = 8):
    """Assert two raw arrays are identical; report count, first mismatches and context."""
    # Lists (from the naive references) are compared as exact Python ints.
    e = np.asarray(expected, dtype=object) if isinstance(expected, list) else np.asarray(expected)
    a = np.asarray(actual, dtype=object) if isinstance(actual, list) else np.asarray(actual)
    assert e.shape == a.shape, f"{context}: shape {e.shape} != {a.shape}"
    bad = np.flatnonzero(np.array([int(x) != int(y) if not (isinstance(x, float) or isinstance(y, float)) else
                                   (x != y and not (x != x and y != y)) for x, y in
                                   zip(e.reshape(-1).tolist(), a.reshape(-1).tolist())], dtype=bool))
    if bad.size:
        ins = None if inputs is None else np.asarray(inputs).reshape(-1)
        rows = []
        for k in bad[:show]:
            src = "" if ins is None else f"input={ins[k]!r} "
            rows.append(f"  [{k}] {src}expected={e.reshape(-1)[k]!r} actual={a.reshape(-1)[k]!r}")
        raise AssertionError(
            f"{context}: {bad.size} of {e.size} mismatches\n" + "\n".join(rows))
