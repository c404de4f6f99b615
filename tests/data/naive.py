"""Slow, obviously-correct references for the simulator kernels (numpy only)."""

from __future__ import annotations

import numpy as np


def structure_factor_naive(q_lab, positions_lab, f, chunk=2048):
    """F(q) = sum_j f_j exp(i q . r_j), straight from the definition, chunked over q.

    q_lab (P, 3) 1/A; positions_lab (N, 3) A; f (N,) electrons -> (P,) complex128.
    """
    out = np.empty(q_lab.shape[0], dtype=np.complex128)
    for s in range(0, q_lab.shape[0], chunk):
        phase = q_lab[s:s + chunk] @ positions_lab.T
        out[s:s + chunk] = np.exp(1j * phase) @ f
    return out


def protein_points(protein):
    """Lab-frame voxel centres (N, 3) and electrons (N,) of a Protein's occupied voxels."""
    from fixsim.data.particles import quaternion_matrix

    w = protein.electrons
    k, j, i = np.nonzero(w)
    c = (np.array(w.shape[::-1]) - 1) / 2.0           # (cx, cy, cz)
    body = (np.stack([i, j, k], axis=1) - c) * protein.voxel_a
    lab = body @ quaternion_matrix(protein.quaternion).T
    return lab, w[k, j, i]


def protein_amplitude_naive(protein, q_lab):
    """Protein.amplitude by the direct sum, including the voxel box form factor."""
    from fixsim.data.particles import quaternion_matrix

    pos, f = protein_points(protein)
    qb = q_lab @ quaternion_matrix(protein.quaternion)
    box = np.prod(np.sinc(qb * protein.voxel_a / (2 * np.pi)), axis=1)
    return structure_factor_naive(q_lab, pos, f) * box


def sphere_amplitude_naive(q, radius, electrons):
    """Homogeneous sphere form factor N_e * 3 (sin qR - qR cos qR) / (qR)^3."""
    u = np.linalg.norm(q, axis=1) * radius
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 3 * (np.sin(u) - u * np.cos(u)) / u ** 3
    return electrons * np.where(u < 1e-3, 1 - u * u / 10, f)


def ellipsoid_fraction_naive(axes, voxel, n, sub):
    """Fraction of each voxel of a centred n^3 grid inside the ellipsoid, [k, j, i] order."""
    c = (n - 1) / 2.0
    offs = ((np.arange(sub) + 0.5) / sub - 0.5) * voxel
    centres = (np.arange(n) - c) * voxel
    x = (centres[:, None] + offs[None]).ravel()              # (n*sub,) fine points
    zz, yy, xx = np.meshgrid(x, x, x, indexing="ij")
    inside = (xx / axes[0]) ** 2 + (yy / axes[1]) ** 2 + (zz / axes[2]) ** 2 <= 1.0
    return inside.reshape(n, sub, n, sub, n, sub).mean(axis=(1, 3, 5))


def interpolate_naive(values, start, weights):
    """Dense-matrix form of the separable 4-point interpolation."""
    n, m = start.shape[0], values.shape[0]
    mat = np.zeros((n, m))
    for u in range(n):
        mat[u, start[u]:start[u] + 4] = weights[u]
    return mat @ values @ mat.T
