"""Particles: random orientations, protein-like voxel densities, analytic droplets.

A protein-like particle is an ellipsoid filled with heavy atoms of density
``atom_density_a3`` (uniform, i.e. a Poisson point process), coarse-grained into cubic
voxels of edge ``voxel_a``: the number of atoms in a voxel is Poisson with mean
``density * volume_inside``, which is exactly the law of binning uniform random atoms,
without drawing each atom.  Each voxel scatters as a uniformly filled cube (box form
factor), so the coarse-grained density converges to the continuous one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import NonSampleConfig, ParticleConfig
from .kernels import _ellipsoid_amplitude, _ellipsoid_fraction, lattice_amplitude

#: Sub-samples per voxel edge when estimating the ellipsoid's volume fraction.
_FRACTION_SUB = 3


def random_quaternion(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed rotation as a unit quaternion (w, x, y, z) with w >= 0."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) of a unit quaternion (w, x, y, z): r_lab = M @ r_body."""
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def random_axes(radius: float, anisotropy: float, rng: np.random.Generator) -> np.ndarray:
    """Semi-axes (3,) of an ellipsoid with the volume of a sphere of ``radius``."""
    f = 1.0 + rng.uniform(-anisotropy, anisotropy, size=3)
    f /= np.prod(f) ** (1.0 / 3.0)
    return radius * f


def draw_radius(cfg: ParticleConfig, rng: np.random.Generator) -> float:
    """Equivalent-sphere radius: log-normal around the median, clipped to the range."""
    r = cfg.radius_median_a * np.exp(cfg.radius_sigma * rng.normal())
    return float(np.clip(r, cfg.radius_min_a, cfg.radius_max_a))


@dataclass(frozen=True)
class Protein:
    """One coarse-grained particle: voxel electrons, semi-axes and orientation."""

    electrons: np.ndarray      # (n, n, n) float64, indexed [k, j, i]
    axes_a: np.ndarray         # (3,) semi-axes in the body frame
    quaternion: np.ndarray     # (4,) body -> lab rotation
    voxel_a: float

    @property
    def radius_a(self) -> float:
        return float(np.prod(self.axes_a) ** (1.0 / 3.0))

    def amplitude(self, q_lab: np.ndarray) -> np.ndarray:
        """Complex amplitude (P,) in electrons at lab-frame q (P, 3), particle at the origin."""
        return lattice_amplitude(q_lab, quaternion_matrix(self.quaternion), self.voxel_a,
                                 self.electrons)


def make_protein(radius_a: float, cfg: ParticleConfig, rng: np.random.Generator) -> Protein:
    """Draw shape, orientation and the Poisson atom content of one particle."""
    axes = random_axes(radius_a, cfg.anisotropy, rng)
    n = 2 * int(np.ceil(axes.max() / cfg.voxel_a + 0.5)) + 1
    frac = _ellipsoid_fraction(axes[0], axes[1], axes[2], cfg.voxel_a, n, _FRACTION_SUB)
    mean_atoms = cfg.atom_density_a3 * cfg.voxel_a ** 3 * frac
    # only voxels touching the ellipsoid are drawn: numpy's Poisson returns 0 for a zero
    # mean without drawing, so the stream and every count are those of the full array
    inside = mean_atoms != 0
    electrons = np.zeros(mean_atoms.shape)
    electrons[inside] = (rng.poisson(mean_atoms[inside]).astype(np.float64)
                         * cfg.electrons_per_atom)
    return Protein(electrons=electrons, axes_a=axes, quaternion=random_quaternion(rng),
                   voxel_a=cfg.voxel_a)


@dataclass(frozen=True)
class Droplet:
    """A homogeneous ellipsoid (droplet or contaminant) scattering analytically."""

    axes_a: np.ndarray
    quaternion: np.ndarray
    electron_density_a3: float

    @property
    def radius_a(self) -> float:
        return float(np.prod(self.axes_a) ** (1.0 / 3.0))

    @property
    def electrons(self) -> float:
        return self.electron_density_a3 * 4.0 / 3.0 * np.pi * float(np.prod(self.axes_a))

    def amplitude(self, q_lab: np.ndarray) -> np.ndarray:
        """Real amplitude (P,) in electrons (centrosymmetric, so the phase is 0 or pi)."""
        out = np.empty(q_lab.shape[0])
        a = self.axes_a
        _ellipsoid_amplitude(np.ascontiguousarray(q_lab, dtype=np.float64),
                             quaternion_matrix(self.quaternion), a[0], a[1], a[2],
                             self.electrons, out)
        return out


def make_droplet(cfg: NonSampleConfig, rng: np.random.Generator) -> Droplet:
    """Radius log-uniform in the configured range, slight anisotropy, random orientation."""
    r = float(np.exp(rng.uniform(np.log(cfg.radius_min_a), np.log(cfg.radius_max_a))))
    return Droplet(axes_a=random_axes(r, cfg.anisotropy, rng),
                   quaternion=random_quaternion(rng),
                   electron_density_a3=cfg.electron_density_a3)
