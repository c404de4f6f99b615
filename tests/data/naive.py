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
