"""SPI frame simulator: four shot classes, photon statistics, detector, preprocessing.

One frame, step by step:

1. Fluence ``J = J0 * pulse * impact``: log-normal pulse energy (mean 1) times the
   Gaussian focus profile at an impact point uniform within ``impact_max_sigma``.
2. Amplitude on the detector sub-pixels by class: one protein (single hit), two to
   four proteins in contact summed coherently with phases ``exp(i q . d)`` (multi hit),
   nothing (no hit), or a large homogeneous droplet (non-sample hit).
3. Expected photons ``J r_e^2 P dOmega |F|^2`` per sub-pixel (masked fraction removed),
   summed over each binned pixel, plus gas background spread as ``P dOmega``.
4. Poisson counts per binned pixel, plus Gaussian read noise and a common-mode residual
   of the physical pixels it contains; divided by ``bin^2`` (the block mean of the
   physical pixels with masked pixels zeroed, as in real-data preprocessing).
5. Per-image standardization (:func:`fixsim.data.preprocess.standardize`).

Counting in binned pixels is exact in law (a sum of independent Poisson variables is
Poisson with the summed mean); the approximation is the sampling of the intensity on
``oversample`` x ``oversample`` points per binned pixel (see docs/data.md).
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import InputError, closest
from .config import CLASS_NAMES, SimConfig
from .geometry import make_grid, physical_mask
from .kernels import SEQUENTIAL_BIN_MAX, _binned_intensity, _noisy_frame, _phase_factor
from .particles import Protein, draw_radius, make_droplet, make_protein

#: Entropy tags keep the label stream and the per-frame streams independent.
_LABEL_STREAM = 0
_FRAME_STREAM = 1
#: Frames per task of the worker threads (one allocation, one hand-off per block).
BLOCK = 16


def resolve_classes(classes: "Iterable[str] | str | None") -> list[int]:
    """Label ids of the requested class names (all four by default), sorted.

    Raises
    ------
    InputError
        Unknown or duplicated class name.
    """
    if classes is None:
        return list(range(len(CLASS_NAMES)))
    if isinstance(classes, str):
        classes = [c.strip() for c in classes.split(",") if c.strip()]
    ids = []
    for name in classes:
        if name not in CLASS_NAMES:
            raise InputError(f"unknown class {name!r}{closest(name, CLASS_NAMES)}; "
                             f"valid: {', '.join(CLASS_NAMES)}")
        ids.append(CLASS_NAMES.index(name))
    if not ids:
        raise InputError("no class selected")
    if len(set(ids)) != len(ids):
        raise InputError(f"duplicated class in {list(classes)!r}")
    return sorted(ids)


def draw_labels(n: int, seed: int, class_ids: Sequence[int]) -> np.ndarray:
    """Balanced labels (counts differ by at most one), shuffled by the seed."""
    rng = np.random.default_rng([seed, _LABEL_STREAM])
    labels = np.asarray(class_ids, dtype=np.int64)[np.arange(n) % len(class_ids)]
    return rng.permutation(labels)


class FrameSimulator:
    """Simulates single frames for one configuration (geometry computed once).

    Parameters
    ----------
    config : SimConfig, optional
    """

    def __init__(self, config: SimConfig | None = None):
        if config is not None and not isinstance(config, SimConfig):
            raise InputError(f"config must be a SimConfig or a dict, got {type(config).__name__}")
        self.config = cfg = config or SimConfig()
        det = cfg.detector
        self.max_particles = 1 + len(cfg.multi.count_probs)
        mask = physical_mask(det)
        self.grid = make_grid(det, cfg.beam, det.oversample, mask, det.amplitude_step)
        self.droplet_grid = (self.grid if det.droplet_oversample == det.oversample
                             else make_grid(det, cfg.beam, det.droplet_oversample, mask))
        out = det.out_px
        valid = mask.reshape(out, det.bin_px, out, det.bin_px).sum(axis=(1, 3))
        self.valid_per_bin = valid.astype(np.float64)          # physical pixels per bin
        bg = self._bin_sum(self.grid.dOmega_pol, self.grid)
        self.background_shape = bg / bg.sum()
        probs = np.asarray(cfg.multi.count_probs, dtype=np.float64)
        self.count_probs = probs / probs.sum()
        # per-run constants of frame(): the same values it computed per frame before
        self._read_sigma = cfg.noise.read_noise * np.sqrt(self.valid_per_bin)
        self._ones = np.ones(self.grid.q.shape[0])
        self._q_cols = tuple(np.ascontiguousarray(self.grid.q[:, d]) for d in range(3))

    def _bin_sum(self, values: np.ndarray, grid) -> np.ndarray:
        n, s = self.config.detector.out_px, grid.oversample
        return values.reshape(n, s, n, s).sum(axis=(1, 3))

    def _expected(self, fluence: float, grid, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Binned ``((fluence * grid.weight) * a) * b``, summed as :meth:`_bin_sum` does.

        One Numba pass (:func:`~fixsim.data.kernels._binned_intensity`) where its order
        is numpy's (fewer than ``SEQUENTIAL_BIN_MAX`` sub-pixels per side, more than one
        binned pixel: numpy joins the two summed axes of a 1 x 1 frame into one), else numpy.
        """
        n, s = self.config.detector.out_px, grid.oversample
        if s >= SEQUENTIAL_BIN_MAX or n == 1:
            return self._bin_sum(fluence * grid.weight * a * b, grid)
        out = np.empty((n, n))
        _binned_intensity(float(fluence), grid.weight, a, b, n, s, out)
        return out

    def params_template(self, n: int) -> dict:
        """Per-frame parameter arrays (NaN / -1 where not applicable)."""
        m = self.max_particles
        nan = np.nan
        return {
            "n_particles": np.zeros(n, np.int64),
            "radius_a": np.full((n, m), nan),
            "axes_a": np.full((n, m, 3), nan),
            "quaternion": np.full((n, m, 4), nan),
            "position_a": np.full((n, m, 3), nan),
            "droplet_radius_a": np.full(n, nan),
            "droplet_axes_a": np.full((n, 3), nan),
            "droplet_quaternion": np.full((n, 4), nan),
            "fluence_per_a2": np.zeros(n),
            "signal_photons_expected": np.zeros(n),
            "background_photons_expected": np.zeros(n),
            "photons": np.zeros(n, np.int64),
        }

    def frame(self, label: int, rng: np.random.Generator, params: dict, index: int,
              standardized: bool = True, out: np.ndarray | None = None) -> np.ndarray:
        """One (out_px, out_px) float32 frame of class ``label``; fills ``params[...][index]``.

        Written into ``out`` (C-contiguous float32) when given.
        """
        cfg = self.config
        beam = cfg.beam
        pulse = np.exp(beam.pulse_jitter * rng.normal() - beam.pulse_jitter ** 2 / 2)
        impact = np.exp(-0.5 * beam.impact_max_sigma ** 2 * rng.uniform())
        fluence = beam.fluence_per_a2 * pulse * impact
        params["fluence_per_a2"][index] = fluence

        name = CLASS_NAMES[label]
        if name == "single_hit" or name == "multi_hit":
            k = 1 if name == "single_hit" else (
                2 + int(rng.choice(len(self.count_probs), p=self.count_probs)))
            amp = self._proteins(k, rng, params, index)
            # numpy's |amp| (its own hypot loop), times 1.0 exactly: (J * weight) * |F|^2
            expected = self._expected(fluence, self.grid, np.abs(amp) ** 2, self._ones)
        elif name == "no_hit":
            expected = np.zeros_like(self.background_shape)
        else:
            drop = make_droplet(cfg.non_sample, rng)
            g = self.droplet_grid
            amp = drop.amplitude(g.q)
            expected = self._expected(fluence, g, amp, amp)
            params["droplet_radius_a"][index] = drop.radius_a
            params["droplet_axes_a"][index] = drop.axes_a
            params["droplet_quaternion"][index] = drop.quaternion

        noise = cfg.noise
        lo, hi = noise.background_min, noise.background_max
        bg_mean = (float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if lo > 0
                   else float(rng.uniform(lo, hi)))
        lam = expected + bg_mean * self.background_shape
        counts = rng.poisson(lam)
        params["signal_photons_expected"][index] = expected.sum()
        params["background_photons_expected"][index] = bg_mean
        params["photons"][index] = counts.sum()

        # read noise of the physical pixels, a common-mode offset, the block mean of
        # the bin and the per-image standardization in one pass (preprocess.standardize's
        # bits: numpy's pairwise sums)
        normals = rng.normal(size=counts.shape)
        common = rng.normal() * noise.common_mode
        if out is None:
            out = np.empty(counts.shape, dtype=np.float32)
        elif out.shape != counts.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise InputError(f"out must be a C-contiguous float32 array of shape {counts.shape}, "
                             f"got {out.dtype} {out.shape}")
        _noisy_frame(counts.reshape(-1), normals.reshape(-1), self._read_sigma.reshape(-1),
                     common, self.valid_per_bin.reshape(-1), float(cfg.detector.bin_px ** 2),
                     bool(standardized), out.reshape(-1))
        return out

    def _proteins(self, k: int, rng: np.random.Generator, params: dict, index: int) -> np.ndarray:
        """Coherent amplitude of ``k`` proteins in contact; records their parameters."""
        pcfg = self.config.particle
        proteins: list[Protein] = []
        for _ in range(k):
            proteins.append(make_protein(draw_radius(pcfg, rng), pcfg, rng))
        radii = np.array([p.radius_a for p in proteins])
        positions = _contact_positions(radii, self.config.multi.gap_max_frac, rng)
        grid = self.grid
        qx, qy, qz = self._q_cols
        amp = np.zeros(grid.q.shape[0], dtype=np.complex128)
        for p, d in zip(proteins, positions, strict=True):
            # each particle's amplitude is smooth; the fringes of the cluster come from
            # the exact phase factors applied on the full grid
            a = grid.smooth_field(p.amplitude(grid.q_coarse))
            if k > 1:   # elementwise: a BLAS gemv here stalls on a busy machine
                a = a * _phase_factor(qx, qy, qz, float(d[0]), float(d[1]), float(d[2]))
            amp += a
        params["n_particles"][index] = k
        params["radius_a"][index, :k] = radii
        params["axes_a"][index, :k] = [p.axes_a for p in proteins]
        params["quaternion"][index, :k] = [p.quaternion for p in proteins]
        params["position_a"][index, :k] = positions
        return amp


    def blocks(self, labels: np.ndarray, seed: int, params: dict, start: int, stop: int,
               standardized: bool = True, workers: int = 1, size: int = BLOCK,
               post: Callable[[int, np.ndarray], None] | None = None,
               ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(lo, frames)`` for frames ``lo .. lo + len(frames) - 1``, in order.

        Blocks of ``size`` consecutive frames (float32, (b, out_px, out_px)) are
        simulated on ``workers`` threads.  Frame ``i`` uses its own generator seeded by
        ``(seed, i)``, so the output does not depend on ``workers``, ``size`` or how the
        range is split.  ``post(lo, frames)``, when given, runs on the simulating thread
        right after its block, in no particular order across blocks: work that should
        overlap the simulation (quantizing, say) and may write only its block's rows.
        """
        out = self.config.detector.out_px
        size = check_count(size, "block size")

        def one(lo: int, hi: int) -> tuple[int, np.ndarray]:
            block = np.empty((hi - lo, out, out), dtype=np.float32)
            for i in range(lo, hi):
                rng = np.random.default_rng([seed, _FRAME_STREAM, i])
                self.frame(int(labels[i]), rng, params, i, standardized, out=block[i - lo])
            if post is not None:
                post(lo, block)
            return lo, block

        spans = [(lo, min(lo + size, stop)) for lo in range(start, stop, size)]
        if workers <= 1:
            for lo, hi in spans:
                yield one(lo, hi)
            return
        from concurrent.futures import ThreadPoolExecutor

        window = 2 * workers      # blocks in flight: bounded memory for any range
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            pending = []
            for lo, hi in spans:
                pending.append(pool.submit(one, lo, hi))
                if len(pending) >= window:
                    yield pending.pop(0).result()
            for fut in pending:
                yield fut.result()
        except BaseException:
            # Ctrl-C/SIGTERM (or the consumer stopping): queued blocks never start, so
            # the command stops after at most one block per worker.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)

    def frames(self, labels: np.ndarray, seed: int, params: dict, start: int, stop: int,
               standardized: bool = True, workers: int = 1) -> Iterator[np.ndarray]:
        """Yield frames ``start .. stop - 1`` in order (float32), from :meth:`blocks`."""
        for _, block in self.blocks(labels, seed, params, start, stop, standardized, workers):
            yield from block


def default_workers() -> int:
    """Worker threads by default: the CPUs this process may use (at most 8)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _contact_positions(radii: np.ndarray, gap_max_frac: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Centres (k, 3) of spheres grown as a touching cluster, centroid at the origin.

    Each new particle touches a random earlier one in a uniformly random direction, at
    surface gap U(0, gap_max_frac * mean radius); placements overlapping a third sphere
    are redrawn (at most 50 times, then the last one is kept).
    """
    k = len(radii)
    pos = np.zeros((k, 3))
    gap_max = gap_max_frac * radii.mean()
    for m in range(1, k):
        for _ in range(50):
            anchor = int(rng.integers(m))
            u = rng.normal(size=3)
            u /= np.linalg.norm(u)
            cand = pos[anchor] + u * (radii[anchor] + radii[m] + rng.uniform(0, gap_max))
            dist = np.linalg.norm(pos[:m] - cand, axis=1)
            if np.all(dist >= 0.999 * (radii[:m] + radii[m])):
                break
        pos[m] = cand
    return pos - pos.mean(axis=0) if k > 1 else pos


def simulate(n: int, seed: int, config: SimConfig | dict | None = None,
             classes: "Iterable[str] | str | None" = None, *, standardized: bool = True,
             workers: int | None = None, progress: Callable[[int], None] | None = None,
             post: Callable[[int, np.ndarray], None] | None = None):
    """Simulate ``n`` preprocessed SPI frames in memory.

    Frame ``i`` depends only on ``(seed, i)`` and the configuration, so results are
    identical for any chunking and thread count.

    Parameters
    ----------
    n : int
        Number of frames, >= 1.
    seed : int
        Non-negative seed.
    config : SimConfig or dict, optional
        Simulator configuration (a dict is read with :meth:`SimConfig.from_dict`).
    classes : list of str or comma-separated str, optional
        Subset of ``CLASS_NAMES``; labels are balanced over it.  Default: all four.
    standardized : bool
        False returns the binned photon means before standardization (float32).
    workers : int, optional
        Threads simulating frames (default :func:`default_workers`); no effect on results.
    progress : callable, optional
        Called with the number of frames just finished (an increment), per block.
    post : callable, optional
        ``post(start, frames)`` on the simulating thread with each finished block of
        frames (float32, rows ``start ..``), blocks in no particular order: see
        :meth:`FrameSimulator.blocks`.

    Returns
    -------
    frames : ndarray (n, 65, 65) float32
    labels : ndarray (n,) int64, ids into ``class_names``
    class_names : list of str
        Always all four names (label ids do not depend on ``classes``).
    meta : dict
        ``seed``, ``config`` (dict), ``classes``, ``fixsim_version``, ``params``
        (per-frame arrays, see :meth:`FrameSimulator.params_template`).

    Raises
    ------
    InputError
        ``n`` < 1, a negative or non-integer seed, an unknown class, a bad config.
    """
    from .._version import __version__

    n, seed = check_count(n), check_seed(seed)
    if isinstance(config, dict):
        config = SimConfig.from_dict(config)
    workers = default_workers() if workers is None else check_count(workers, "workers")
    sim = FrameSimulator(config)
    class_ids = resolve_classes(classes)
    labels = draw_labels(n, seed, class_ids)
    params = sim.params_template(n)
    out = sim.config.detector.out_px
    frames = np.empty((n, out, out), dtype=np.float32)
    for lo, block in sim.blocks(labels, seed, params, 0, n, standardized, workers, post=post):
        frames[lo:lo + len(block)] = block
        if progress is not None:
            progress(len(block))
    meta = {"seed": seed, "config": sim.config.to_dict(),
            "classes": [CLASS_NAMES[c] for c in class_ids],
            "fixsim_version": __version__, "params": params}
    return frames, labels, list(CLASS_NAMES), meta


def check_count(n, what: str = "number of frames") -> int:
    """``n`` as a positive int (at most int64), or InputError."""
    from .._validate import check_int

    check_int(what, n, minimum=1)
    return check_int(what, n, minimum=1, maximum=2**63 - 1)


def check_seed(seed) -> int:
    """``seed`` as an int in [0, 2**63 - 1], or InputError."""
    from .._validate import check_int

    check_int("seed", seed, minimum=0)
    return check_int("seed", seed, minimum=0, maximum=2**63 - 1)
