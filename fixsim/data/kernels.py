"""Numba kernels of the SPI simulator (floating point).

Each kernel sees only arrays and plain numbers; validation and unit handling live in
:mod:`fixsim.data.particles` and :mod:`fixsim.data.simulate`.  Kernels are serial and
release the GIL (``nogil=True``): the simulator runs whole frames on worker threads,
which scales better than splitting one small frame over threads (no barrier per frame,
and the numpy parts of different frames overlap too).  Every output element is computed
in a fixed order, so results do not depend on the number of workers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Pixels per work block of the lattice kernel: phasor tables of one block stay in L1.
_BLOCK = 64


@njit(nogil=True, cache=True, inline="always")
def _phasor_table(theta, centre, n, c, s, t):
    """c[i, t] + i s[i, t] = exp(i theta (i - centre)), i < n, by complex recurrence.

    Two sin/cos pairs instead of n; the rounding error grows like n * eps (1e-15 here).
    """
    a = -theta * centre
    re = math.cos(a)
    im = math.sin(a)
    dr = math.cos(theta)
    di = math.sin(theta)
    for i in range(n):
        c[i, t] = re
        s[i, t] = im
        re, im = re * dr - im * di, re * di + im * dr


@njit(nogil=True, cache=True)
def _lattice_amplitude(q, rot, voxel, w, col_j, col_k, col_i0, col_i1, cx0, cy0, cz0,
                       out_re, out_im):
    """F_p = box(qa_p) sum_ijk w[k,j,i] exp(i (qa_p0 (i-cx0) + qa_p1 (j-cy0) + qa_p2 (k-cz0))).

    ``qa = voxel * rot^T q`` is q in the particle frame times the voxel edge and
    ``box = prod_d sinc(qa_d / 2)`` the form factor of a uniformly filled voxel.  The
    sum runs over the x-runs ``i0 <= i < i1`` of each occupied (j, k) column.  Phasors
    per axis are tabulated per pixel block, so the inner loop is a real-by-complex
    multiply-add vectorised across pixels.
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
    for b in range(nblocks):
        p0 = b * _BLOCK
        m = min(_BLOCK, npix - p0)
        cx = np.zeros((nx, _BLOCK))
        sx = np.zeros((nx, _BLOCK))
        cy = np.zeros((ny, _BLOCK))
        sy = np.zeros((ny, _BLOCK))
        cz = np.zeros((nz, _BLOCK))
        sz = np.zeros((nz, _BLOCK))
        for t in range(m):
            _phasor_table(qa[p0 + t, 0], cx0, nx, cx, sx, t)
            _phasor_table(qa[p0 + t, 1], cy0, ny, cy, sy, t)
            _phasor_table(qa[p0 + t, 2], cz0, nz, cz, sz, t)
        fr = np.zeros(_BLOCK)
        fi = np.zeros(_BLOCK)
        sr = np.empty(_BLOCK)
        si = np.empty(_BLOCK)
        for c in range(ncol):
            j = col_j[c]
            k = col_k[c]
            for t in range(_BLOCK):
                sr[t] = 0.0
                si[t] = 0.0
            for i in range(col_i0[c], col_i1[c]):
                wv = w[k, j, i]
                for t in range(_BLOCK):
                    sr[t] += wv * cx[i, t]
                    si[t] += wv * sx[i, t]
            for t in range(m):
                pr = cy[j, t] * cz[k, t] - sy[j, t] * sz[k, t]
                pi = cy[j, t] * sz[k, t] + sy[j, t] * cz[k, t]
                fr[t] += sr[t] * pr - si[t] * pi
                fi[t] += sr[t] * pi + si[t] * pr
        for t in range(m):
            out_re[p0 + t] = fr[t] * box[p0 + t]
            out_im[p0 + t] = fi[t] * box[p0 + t]


@njit(nogil=True, cache=True)
def _ellipsoid_fraction(ax, ay, az, voxel, n, sub):
    """Fraction of each voxel of an n^3 grid (centred) inside x^2/ax^2+y^2/ay^2+z^2/az^2<=1.

    Estimated on sub^3 points per voxel; returns (n, n, n) indexed [k, j, i].
    """
    out = np.zeros((n, n, n))
    c = (n - 1) / 2.0
    inv = 1.0 / (sub * sub * sub)
    slack = voxel * math.sqrt(3.0) / 2.0 / min(ax, min(ay, az))
    for k in range(n):
        for j in range(n):
            for i in range(n):
                x0 = (i - c) * voxel
                y0 = (j - c) * voxel
                z0 = (k - c) * voxel
                # ||D^-1 (p + d)|| is within h/amin of ||D^-1 p|| for |d| <= h: decide
                # voxels far from the surface without sub-sampling
                dist = math.sqrt((x0 / ax) ** 2 + (y0 / ay) ** 2 + (z0 / az) ** 2)
                if dist - slack > 1.0:
                    continue
                if dist + slack <= 1.0:
                    out[k, j, i] = 1.0
                    continue
                cnt = 0
                for kk in range(sub):
                    z = z0 + ((kk + 0.5) / sub - 0.5) * voxel
                    for jj in range(sub):
                        y = y0 + ((jj + 0.5) / sub - 0.5) * voxel
                        for ii in range(sub):
                            x = x0 + ((ii + 0.5) / sub - 0.5) * voxel
                            if (x / ax) ** 2 + (y / ay) ** 2 + (z / az) ** 2 <= 1.0:
                                cnt += 1
                out[k, j, i] = cnt * inv
    return out


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
    occupied = w != 0
    col_k, col_j = np.nonzero(occupied.any(axis=2))
    first = occupied.argmax(axis=2)[col_k, col_j]
    last = w.shape[2] - occupied[:, :, ::-1].argmax(axis=2)[col_k, col_j]
    out_re = np.empty(q.shape[0])
    out_im = np.empty(q.shape[0])
    nz, ny, nx = w.shape
    _lattice_amplitude(q, np.ascontiguousarray(rot, dtype=np.float64), float(voxel), w,
                       col_j.astype(np.int64), col_k.astype(np.int64),
                       first.astype(np.int64), last.astype(np.int64),
                       (nx - 1) / 2.0, (ny - 1) / 2.0, (nz - 1) / 2.0, out_re, out_im)
    return out_re + 1j * out_im
