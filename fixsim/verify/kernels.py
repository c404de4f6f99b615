"""Numba kernels of the comparison: one pass over two (n, m) chunks, no temporaries.

Both kernels are serial and release the GIL; :mod:`fixsim.verify.compare` runs chunks of
frames in threads and merges the partial results (counts add, maxima and first
positions take the min/max), so the outcome cannot depend on the thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Upper edges of the |error| histogram in LSBs: (0, 0.5], (0.5, 1], (1, 2], ... , > 1024.
HIST_EDGES = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, math.inf)
N_BINS = len(HIST_EDGES)


@njit(cache=True, nogil=True)
def _abs_diff(x, y):
    """|x - y| of two int64 as uint64 (exact even when x - y overflows int64)."""
    if x >= y:
        return np.uint64(x) - np.uint64(y)
    return np.uint64(y) - np.uint64(x)


@njit(cache=True, nogil=True)
def diff_stats(a, b):
    """Mismatches of two integer chunks (n, m): count, frames with one, first (i, j), max |a-b|.

    Returns (count, bad_rows, first_i, first_j, max_abs) with first = (-1, -1) when equal;
    max_abs is a uint64 (raw LSBs).
    """
    n, m = a.shape
    count = 0
    bad_rows = 0
    first_i = -1
    first_j = -1
    max_abs = np.uint64(0)
    for i in range(n):
        row_bad = 0
        for j in range(m):
            x = np.int64(a[i, j])
            y = np.int64(b[i, j])
            if x != y:
                row_bad += 1
                d = _abs_diff(x, y)
                if d > max_abs:
                    max_abs = d
        if row_bad:
            count += row_bad
            bad_rows += 1
            if first_i < 0:
                first_i = i
                for j in range(m):
                    if np.int64(a[i, j]) != np.int64(b[i, j]):
                        first_j = j
                        break
    return count, bad_rows, first_i, first_j, max_abs


@njit(cache=True, nogil=True)
def error_stats(a, b, scale_a, scale_b, hist):
    """Error e = a*scale_a - b*scale_b (in LSBs) of two chunks (n, m); hist (N_BINS,) += counts of |e|.

    Returns (max_abs, arg_i, arg_j, sum_abs, sum_sq, sum_signed, nonfinite); arg = (-1, -1)
    when every error is 0 or non-finite.  Non-finite errors (NaN/inf in a float source)
    are counted apart and excluded from the sums and the histogram.
    """
    n, m = a.shape
    max_abs = 0.0
    arg_i = -1
    arg_j = -1
    sum_abs = 0.0
    sum_sq = 0.0
    sum_signed = 0.0
    nonfinite = 0
    top = N_BINS - 1
    for i in range(n):
        for j in range(m):
            e = np.float64(a[i, j]) * scale_a - np.float64(b[i, j]) * scale_b
            if not math.isfinite(e):
                nonfinite += 1
                continue
            ae = abs(e)
            sum_abs += ae
            sum_sq += e * e
            sum_signed += e
            if ae > max_abs:
                max_abs = ae
                arg_i = i
                arg_j = j
            if ae <= 0.5:
                hist[0] += 1
            else:
                # bin k >= 1 holds (2^(k-2), 2^(k-1)]; log2 may be off by one ulp
                k = int(math.ceil(math.log2(ae))) + 1
                if k < top and ae > 2.0 ** (k - 1):
                    k += 1
                elif k > 1 and ae <= 2.0 ** (k - 2):
                    k -= 1
                hist[k if k < top else top] += 1
    return max_abs, arg_i, arg_j, sum_abs, sum_sq, sum_signed, nonfinite


__all__ = ["diff_stats", "error_stats", "HIST_EDGES", "N_BINS"]
