"""Numba kernels of the SPI simulator (floating point).

Each kernel sees only arrays and plain numbers; validation and unit handling live in
:mod:`fixsim.data.particles` and :mod:`fixsim.data.simulate`.  Kernels are serial and
release the GIL (``nogil=True``): the simulator runs blocks of whole frames on worker
threads, which scales better than splitting one small frame over threads (no barrier per
frame, and the numpy parts of different frames overlap too).  Every output element is
computed in a fixed order, so results do not depend on the number of workers.

The simulator's output for a seed is frozen bit for bit (tests/data/test_sim_reference.py):
a faster kernel may reorder loops and unroll, never change a rounded operation or its
order, and no ``fastmath`` (no contraction into FMA).  Kernels that replace a numpy
expression reproduce numpy's summation order (tests/data/test_sim_kernels.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Pixels per work block of the lattice kernel: phasor tables of one block stay in L1.
_BLOCK = 64


@njit(nogil=True, cache=True, inline="always")
def _phasor_tables(qa, p0, m, d, centre, n, c, s, re, im, dr, di):
    """c[i, t] + i s[i, t] = exp(i theta_t (i - centre)), theta_t = qa[p0 + t, d], i < n.

    By complex recurrence from two sin/cos pairs per pixel (rounding error ~ n * eps,
    1e-15 here), stepped for all pixels of the block at once so the recurrence
    vectorizes; each pixel's sequence of operations is that of a scalar loop.  Pixels
    ``t >= m`` of a short last block keep finite values from earlier blocks (unused).
    """
    for t in range(m):
        theta = qa[p0 + t, d]
        a = -theta * centre
        re[t] = math.cos(a)
        im[t] = math.sin(a)
        dr[t] = math.cos(theta)
        di[t] = math.sin(theta)
    for i in range(n):
        ci = c[i]
        si = s[i]
        for t in range(_BLOCK):
            r = re[t]
            q = im[t]
            ci[t] = r
            si[t] = q
            re[t] = r * dr[t] - q * di[t]
            im[t] = r * di[t] + q * dr[t]


@njit(nogil=True, cache=True)
def _lattice_amplitude(q, rot, voxel, w, col_j, col_k, col_i0, col_i1, cx0, cy0, cz0,
                       out_re, out_im):
    """F_p = box(qa_p) sum_ijk w[k,j,i] exp(i (qa_p0 (i-cx0) + qa_p1 (j-cy0) + qa_p2 (k-cz0))).

    ``qa = voxel * rot^T q`` is q in the particle frame times the voxel edge and
    ``box = prod_d sinc(qa_d / 2)`` the form factor of a uniformly filled voxel.  The
    sum runs over the x-runs ``i0 <= i < i1`` of each occupied (j, k) column, columns in
    the given order.  Phasors per axis are tabulated per pixel block, so the inner loop
    is a real-by-complex multiply-add vectorised across pixels; it takes four voxels of
    a run per pass (one load and store of the partial sums instead of four), adding them
    one after the other: every pixel sees the same rounded operations in the same order
    whatever the unrolling.
    """
    npix = q.shape[0]
    qa = np.empty((npix, 3))
    box = np.empty(npix)
    for p in range(npix):
        bx = 1.0
        for d in range(3):
            v = voxel * (rot[0, d] * q[p, 0] + rot[1, d] * q[p, 1] + rot[2, d] * q[p, 2])
            qa[p, d] = v
            if v != 0.0:
                bx *= math.sin(v / 2) / (v / 2)
        box[p] = bx
    nz, ny, nx = w.shape
    ncol = col_j.shape[0]
    nblocks = (npix + _BLOCK - 1) // _BLOCK
    cx = np.zeros((nx, _BLOCK))
    sx = np.zeros((nx, _BLOCK))
    cy = np.zeros((ny, _BLOCK))
    sy = np.zeros((ny, _BLOCK))
    cz = np.zeros((nz, _BLOCK))
    sz = np.zeros((nz, _BLOCK))
    re = np.zeros(_BLOCK)
    im = np.zeros(_BLOCK)
    dr = np.zeros(_BLOCK)
    di = np.zeros(_BLOCK)
    fr = np.empty(_BLOCK)
    fi = np.empty(_BLOCK)
    sr = np.empty(_BLOCK)
    si = np.empty(_BLOCK)
    for b in range(nblocks):
        p0 = b * _BLOCK
        m = min(_BLOCK, npix - p0)
        _phasor_tables(qa, p0, m, 0, cx0, nx, cx, sx, re, im, dr, di)
        _phasor_tables(qa, p0, m, 1, cy0, ny, cy, sy, re, im, dr, di)
        _phasor_tables(qa, p0, m, 2, cz0, nz, cz, sz, re, im, dr, di)
        for t in range(_BLOCK):
            fr[t] = 0.0
            fi[t] = 0.0
        for c in range(ncol):
            j = col_j[c]
            k = col_k[c]
            i0 = col_i0[c]
            i1 = col_i1[c]
            # sr = 0.0 + w c: the sum starts at +0.0, as a plain loop's would
            wv = w[k, j, i0]
            c0 = cx[i0]
            s0 = sx[i0]
            for t in range(_BLOCK):
                sr[t] = 0.0 + wv * c0[t]
                si[t] = 0.0 + wv * s0[t]
            i = i0 + 1
            while i + 4 <= i1:
                w0 = w[k, j, i]
                w1 = w[k, j, i + 1]
                w2 = w[k, j, i + 2]
                w3 = w[k, j, i + 3]
                c0 = cx[i]
                c1 = cx[i + 1]
                c2 = cx[i + 2]
                c3 = cx[i + 3]
                for t in range(_BLOCK):
                    sr[t] = (((sr[t] + w0 * c0[t]) + w1 * c1[t]) + w2 * c2[t]) + w3 * c3[t]
                c0 = sx[i]
                c1 = sx[i + 1]
                c2 = sx[i + 2]
                c3 = sx[i + 3]
                for t in range(_BLOCK):
                    si[t] = (((si[t] + w0 * c0[t]) + w1 * c1[t]) + w2 * c2[t]) + w3 * c3[t]
                i += 4
            while i < i1:
                wv = w[k, j, i]
                c0 = cx[i]
                s0 = sx[i]
                for t in range(_BLOCK):
                    sr[t] += wv * c0[t]
                    si[t] += wv * s0[t]
                i += 1
            cyj = cy[j]
            syj = sy[j]
            czk = cz[k]
            szk = sz[k]
            for t in range(_BLOCK):
                pr = cyj[t] * czk[t] - syj[t] * szk[t]
                pi = cyj[t] * szk[t] + syj[t] * czk[t]
                fr[t] += sr[t] * pr - si[t] * pi
                fi[t] += sr[t] * pi + si[t] * pr
        for t in range(m):
            out_re[p0 + t] = fr[t] * box[p0 + t]
            out_im[p0 + t] = fi[t] * box[p0 + t]


@njit(nogil=True, cache=True)
def _ellipsoid_fraction(ax, ay, az, voxel, n, sub):
    """Fraction of each voxel of an n^3 grid (centred) inside x^2/ax^2+y^2/ay^2+z^2/az^2<=1.

    Estimated on sub^3 points per voxel; returns (n, n, n) indexed [k, j, i].  The
    squared terms of each axis are tabulated once (n centres, n * sub sample points) and
    summed as (x + y) + z, the order of the direct expression.
    """
    out = np.zeros((n, n, n))
    c = (n - 1) / 2.0
    inv = 1.0 / (sub * sub * sub)
    slack = voxel * math.sqrt(3.0) / 2.0 / min(ax, min(ay, az))
    cen = np.empty((3, n))
    pts = np.empty((3, n, sub))
    for d in range(3):
        a = ax if d == 0 else (ay if d == 1 else az)
        for i in range(n):
            x0 = (i - c) * voxel
            cen[d, i] = (x0 / a) ** 2
            for ii in range(sub):
                x = x0 + ((ii + 0.5) / sub - 0.5) * voxel
                pts[d, i, ii] = (x / a) ** 2
    for k in range(n):
        for j in range(n):
            for i in range(n):
                # ||D^-1 (p + d)|| is within h/amin of ||D^-1 p|| for |d| <= h: decide
                # voxels far from the surface without sub-sampling
                dist = math.sqrt(cen[0, i] + cen[1, j] + cen[2, k])
                if dist - slack > 1.0:
                    continue
                if dist + slack <= 1.0:
                    out[k, j, i] = 1.0
                    continue
                cnt = 0
                for kk in range(sub):
                    z = pts[2, k, kk]
                    for jj in range(sub):
                        y = pts[1, j, jj]
                        for ii in range(sub):
                            if pts[0, i, ii] + y + z <= 1.0:
                                cnt += 1
                out[k, j, i] = cnt * inv
    return out


@njit(nogil=True, cache=True)
def _column_runs(w):
    """(j, k, first, last + 1) of each (j, k) column of w[k, j, i] holding a nonzero, k-major.

    The order and values of ``np.nonzero((w != 0).any(axis=2))`` with the first and one
    past the last nonzero ``i`` of each column (zeros inside a run stay in it).
    """
    nz, ny, nx = w.shape
    col_j = np.empty(nz * ny, dtype=np.int64)
    col_k = np.empty(nz * ny, dtype=np.int64)
    first = np.empty(nz * ny, dtype=np.int64)
    stop = np.empty(nz * ny, dtype=np.int64)
    ncol = 0
    for k in range(nz):
        for j in range(ny):
            lo = -1
            hi = -1
            for i in range(nx):
                if w[k, j, i] != 0:
                    if lo < 0:
                        lo = i
                    hi = i
            if lo >= 0:
                col_j[ncol] = j
                col_k[ncol] = k
                first[ncol] = lo
                stop[ncol] = hi + 1
                ncol += 1
    return col_j[:ncol], col_k[:ncol], first[:ncol], stop[:ncol]


@njit(nogil=True, cache=True)
def _ellipsoid_amplitude(q, rot, ax, ay, az, electrons, out):
    """Homogeneous ellipsoid: F = N_e * 3 (sin u - u cos u) / u^3, u = |diag(a) rot^T q|."""
    npix = q.shape[0]
    for p in range(npix):
        bx = rot[0, 0] * q[p, 0] + rot[1, 0] * q[p, 1] + rot[2, 0] * q[p, 2]
        by = rot[0, 1] * q[p, 0] + rot[1, 1] * q[p, 1] + rot[2, 1] * q[p, 2]
        bz = rot[0, 2] * q[p, 0] + rot[1, 2] * q[p, 1] + rot[2, 2] * q[p, 2]
        u = math.sqrt((ax * bx) ** 2 + (ay * by) ** 2 + (az * bz) ** 2)
        if u < 1e-3:
            # series 1 - u^2/10 avoids cancellation at the forward direction
            out[p] = electrons * (1.0 - u * u / 10.0)
        else:
            out[p] = electrons * 3.0 * (math.sin(u) - u * math.cos(u)) / (u * u * u)


@njit(nogil=True, cache=True)
def _phase_factor(qx, qy, qz, d0, d1, d2):
    """exp(i ((qx d0 + qy d1) + qz d2)) per pixel, complex128.

    numpy's ``np.exp(1j * x)`` bit for bit: ``1j * x`` is ``(+-0) + i (0 + x)`` (so -0.0
    becomes +0.0), and glibc's ``cexp`` of a zero real part returns ``(1 * cos y, 1 * sin
    y)`` from one ``sincos`` call, which is what ``math.cos`` and ``math.sin`` of one
    argument compile to (checked in tests/data/test_sim_kernels.py).
    """
    n = qx.shape[0]
    out = np.empty(n, dtype=np.complex128)
    for p in range(n):
        y = 0.0 + ((qx[p] * d0 + qy[p] * d1) + qz[p] * d2)
        out[p] = complex(math.cos(y), math.sin(y))
    return out


#: numpy sums a reduced axis shorter than 8 in order (longer ones pairwise), so
#: :func:`_binned_intensity` equals its block sum below this many sub-pixels per side
#: (for n > 1: with n = 1 the two summed axes are adjacent and numpy merges them).
SEQUENTIAL_BIN_MAX = 8


@njit(nogil=True, cache=True)
def _binned_intensity(scale, weight, a, b, n, s, out):
    """out[u, v] = sum_bb (sum_dd ((scale * weight[p]) * a[p]) * b[p]), p = sub-pixel (bb, dd).

    ``weight``, ``a``, ``b``: (n s)^2 sub-pixel values, row-major; out (n, n).  Each sum
    starts at 0.0 and runs in order, inner over the columns of a sub-row: the order of
    numpy's ``x.reshape(n, s, n, s).sum(axis=(1, 3))`` for s < ``SEQUENTIAL_BIN_MAX``
    and n > 1 (checked against numpy in tests/data/test_sim_kernels.py).
    """
    ns = n * s
    for u in range(n):
        for v in range(n):
            acc = 0.0
            for bb in range(s):
                row = (u * s + bb) * ns + v * s
                t = 0.0
                for dd in range(s):
                    p = row + dd
                    t += ((scale * weight[p]) * a[p]) * b[p]
                acc += t
            out[u, v] = acc


@njit(nogil=True, cache=True)
def _pairwise_leaf(a, lo, n):
    """numpy's sum of ``a[lo:lo + n]`` for n <= 128 (see :func:`_pairwise_sum`)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(nogil=True, cache=True)
def _pairwise_sum(a, lo, n):
    """numpy's float64 sum of the contiguous ``a[lo:lo + n]`` (``DOUBLE_pairwise_sum``).

    In order below 8 terms; up to 128 in eight interleaved partial sums combined as
    ((0+1)+(2+3))+((4+5)+(6+7)), the remainder added in order; above, the two halves
    (the first a multiple of 8 long) summed alike and added.  ``0.0 + _pairwise_sum``
    is ``x.sum()`` of a whole contiguous array (checked in tests/data/test_sim_kernels.py).
    The halving runs on an explicit stack: Numba's cache mis-links a cached function
    that calls a recursive one (the caller crashes when loaded from the cache).
    """
    if n <= 128:
        return _pairwise_leaf(a, lo, n)
    cap = 3 * 64                       # > 3 entries per halving of a 63-bit length
    node_lo = np.empty(cap, dtype=np.int64)
    node_n = np.empty(cap, dtype=np.int64)
    node_split = np.zeros(cap, dtype=np.bool_)
    vals = np.empty(cap)
    sp = 1
    vp = 0
    node_lo[0] = lo
    node_n[0] = n
    while sp > 0:
        sp -= 1
        l0 = node_lo[sp]
        m = node_n[sp]
        if m <= 128:
            vals[vp] = _pairwise_leaf(a, l0, m)
            vp += 1
        elif node_split[sp]:           # both halves done: left below right
            vals[vp - 2] = vals[vp - 2] + vals[vp - 1]
            vp -= 1
        else:
            m2 = m // 2
            m2 -= m2 % 8
            node_split[sp] = True      # revisit after the halves (pushed right, left)
            node_lo[sp + 1] = l0 + m2
            node_n[sp + 1] = m - m2
            node_split[sp + 1] = False
            node_lo[sp + 2] = l0
            node_n[sp + 2] = m2
            node_split[sp + 2] = False
            sp += 3
    return vals[0]


@njit(nogil=True, cache=True)
def _noisy_frame(counts, normals, read_sigma, common, nvalid, area, standardized, out):
    """out = x = ((counts + normals * read_sigma) + common * nvalid) / area, or x standardized.

    All arrays flat and contiguous; ``out`` float32.  Standardized: ``(x - m) / s`` with
    m = sum(x) / n and s = sqrt(sum((x - m)^2) / n) (1 when 0) summed the way numpy
    does, i.e. :func:`fixsim.data.preprocess.standardize` of x, bit for bit.
    """
    n = counts.shape[0]
    x = np.empty(n)
    for p in range(n):
        x[p] = ((counts[p] + normals[p] * read_sigma[p]) + common * nvalid[p]) / area
    if not standardized:
        for p in range(n):
            out[p] = x[p]
        return
    mean = (0.0 + _pairwise_sum(x, 0, n)) / n
    d = np.empty(n)
    for p in range(n):
        t = x[p] - mean
        d[p] = t * t
    std = math.sqrt((0.0 + _pairwise_sum(d, 0, n)) / n)
    safe = std if std > 0 else 1.0
    for p in range(n):
        out[p] = (x[p] - mean) / safe


def lattice_amplitude(q: np.ndarray, rot: np.ndarray, voxel: float, w: np.ndarray) -> np.ndarray:
    """Complex amplitude of a rotated lattice of uniformly filled voxels.

    Parameters
    ----------
    q : ndarray, shape (P, 3), float64
        Lab-frame scattering vectors (1/angstrom).
    rot : ndarray, shape (3, 3)
        Body-to-lab rotation (r_lab = rot @ r_body).
    voxel : float
        Voxel edge (angstrom).
    w : ndarray, shape (nz, ny, nx), float64
        Electrons per voxel; voxel (k, j, i) sits at ((i, j, k) - (n - 1) / 2) * voxel.

    Returns
    -------
    ndarray, shape (P,), complex128
    """
    q = np.ascontiguousarray(q, dtype=np.float64)
    w = np.ascontiguousarray(w, dtype=np.float64)
    col_j, col_k, first, stop = _column_runs(w)
    out_re = np.empty(q.shape[0])
    out_im = np.empty(q.shape[0])
    nz, ny, nx = w.shape
    _lattice_amplitude(q, np.ascontiguousarray(rot, dtype=np.float64), float(voxel), w,
                       col_j, col_k, first, stop,
                       (nx - 1) / 2.0, (ny - 1) / 2.0, (nz - 1) / 2.0, out_re, out_im)
    return out_re + 1j * out_im
