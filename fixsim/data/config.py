"""Configuration of the SPI simulator: one frozen dataclass per physical concern.

Every number the simulator uses lives here, with its unit in the field name.  A
:class:`SimConfig` round-trips through JSON (``SimConfig.from_dict(cfg.to_dict()) ==
cfg``) and is stored verbatim in every generated dataset.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, closest

#: Class names in label-id order (label 0 is ``single_hit``).
CLASS_NAMES = ("single_hit", "multi_hit", "no_hit", "non_sample_hit")


@dataclass(frozen=True)
class DetectorConfig:
    """pnCCD-like detector window centred on the beam (the real-data crop window).

    The simulated window is ``crop_px`` x ``crop_px`` physical pixels, binned
    ``bin_px`` x ``bin_px`` to ``crop_px // bin_px`` (65 by default).  Intensities are
    evaluated on ``oversample`` x ``oversample`` sub-pixels per binned pixel (each of
    ``bin_px / oversample`` physical pixels); ``oversample == bin_px`` evaluates every
    physical pixel.  Particle amplitudes are smooth (band-limited by the particle size),
    so they are computed on every ``amplitude_step``-th sub-pixel and interpolated
    (cubic Lagrange); ``amplitude_step = 1`` is the direct sum everywhere.
    """

    distance_m: float = 0.1          # sample to detector (skopi runs of the SpeckleNN papers)
    pixel_um: float = 75.0           # pnCCD pixel pitch
    crop_px: int = 390               # same window as the amo06516 preprocessing
    bin_px: int = 6                  # 6 x 6 block mean -> 65 x 65
    oversample: int = 1              # sub-pixels per binned pixel for the particle sum
    amplitude_step: int = 2          # particle amplitude every 2nd sub-pixel, cubic-interpolated
    droplet_oversample: int = 3      # dense droplet rings: 3 x 3 points per binned pixel
    beamstop_radius_mm: float = 2.0  # central hole / beamstop shadow, masked
    gap_mm: float = 1.0              # horizontal gap between the two pnCCD halves, masked

    @property
    def out_px(self) -> int:
        return self.crop_px // self.bin_px


@dataclass(frozen=True)
class BeamConfig:
    """Photon energy, fluence and its shot-to-shot jitter."""

    energy_kev: float = 1.66          # SpeckleNN simulations; LCLS AMO/SQS-like soft X-rays
    pulse_photons: float = 1e12       # photons per pulse at the sample
    focus_um: float = 1.0             # diameter of the equivalent top-hat focus
    pulse_jitter: float = 0.25        # log-normal sigma of pulse energy (SASE fluctuations)
    impact_max_sigma: float = 2.0     # particles hit uniformly within this many Gaussian sigmas
    polarization: str = "horizontal"  # "horizontal", "vertical" or "none" (unpolarized)

    @property
    def wavelength_a(self) -> float:
        return 12.398 / self.energy_kev

    @property
    def fluence_per_a2(self) -> float:
        """Nominal fluence J0 = N / (pi (d/2)^2) in photons per square angstrom."""
        return self.pulse_photons / (math.pi * (self.focus_um * 1e4 / 2) ** 2)


@dataclass(frozen=True)
class ParticleConfig:
    """Protein-like particles: coarse-grained pseudo-atoms in an ellipsoid."""

    radius_median_a: float = 100.0   # equivalent-sphere radius, log-normal median
    radius_sigma: float = 0.15       # log-normal sigma of the radius
    radius_min_a: float = 60.0
    radius_max_a: float = 150.0
    anisotropy: float = 0.15         # semi-axes scaled by 1 + U(-a, a), volume kept
    atom_density_a3: float = 0.058   # heavy atoms per cubic angstrom
    electrons_per_atom: float = 7.0
    voxel_a: float = 12.0            # coarse-graining voxel edge


@dataclass(frozen=True)
class MultiHitConfig:
    """Two or more particles in contact-like arrangement, scattering coherently."""

    count_probs: tuple = (0.7, 0.2, 0.1)  # P(2), P(3), P(4) particles
    gap_max_frac: float = 0.2             # surface gap up to this fraction of the mean radius


@dataclass(frozen=True)
class NonSampleConfig:
    """Non-sample hits: a large homogeneous droplet or contaminant spheroid."""

    radius_min_a: float = 200.0
    radius_max_a: float = 700.0
    electron_density_a3: float = 0.334   # water; salt or organic contaminants are near this
    anisotropy: float = 0.05


@dataclass(frozen=True)
class NoiseConfig:
    """Background scattering and detector noise, in photons."""

    background_min: float = 3.0      # mean background photons per frame, log-uniform range
    background_max: float = 50.0     # (gas and water-vapour scattering in the window)
    read_noise: float = 0.1          # Gaussian read noise per physical pixel
    common_mode: float = 0.01        # per-frame residual offset per physical pixel (sigma)


@dataclass(frozen=True)
class SimConfig:
    """All parameters of :func:`fixsim.data.simulate`."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    beam: BeamConfig = field(default_factory=BeamConfig)
    particle: ParticleConfig = field(default_factory=ParticleConfig)
    multi: MultiHitConfig = field(default_factory=MultiHitConfig)
    non_sample: NonSampleConfig = field(default_factory=NonSampleConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)

    def __post_init__(self):
        _validate(self)

    def to_dict(self) -> dict:
        """Nested plain dict (JSON-serialisable)."""
        out = dataclasses.asdict(self)
        out["multi"]["count_probs"] = list(self.multi.count_probs)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "SimConfig":
        """Build a config from a (possibly partial) nested dict; missing keys keep defaults.

        Raises
        ------
        InputError
            Unknown section or key (with the closest valid name), wrong type, or a value
            out of range.
        """
        if not isinstance(data, dict):
            raise InputError(f"simulator config must be a JSON object, got {type(data).__name__}")
        sections = list(_SECTIONS)
        kwargs = {}
        for name, value in data.items():
            if name not in sections:
                raise InputError(f"unknown config section {name!r}{closest(name, sections)}; "
                                 f"valid: {', '.join(sections)}")
            kwargs[name] = _build_section(_SECTIONS[name], name, value)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, path: "str | Path") -> "SimConfig":
        """Read a config JSON file (see :meth:`from_dict`)."""
        from .._files import read_text

        text = read_text(path, "config")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"config {str(path)!r} is not valid JSON: {exc}") from None
        try:
            return cls.from_dict(data)
        except InputError as exc:
            raise InputError(f"config {str(path)!r}: {exc}") from None


_SECTIONS = {
    "detector": DetectorConfig, "beam": BeamConfig, "particle": ParticleConfig,
    "multi": MultiHitConfig, "non_sample": NonSampleConfig, "noise": NoiseConfig,
}


def _build_section(sub_cls, section: str, value):
    if not isinstance(value, dict):
        raise InputError(f"config section {section!r} must be an object, got {value!r}")
    defaults = sub_cls()
    names = [f.name for f in dataclasses.fields(sub_cls)]
    kwargs = {}
    for key, v in value.items():
        if key not in names:
            raise InputError(f"unknown key {section}.{key}{closest(key, names)}; "
                             f"valid: {', '.join(names)}")
        want = type(getattr(defaults, key))
        if want is tuple:
            if not isinstance(v, (list, tuple)) or not all(_is_number(x) for x in v):
                raise InputError(f"{section}.{key} must be a list of numbers, got {v!r}")
            v = tuple(float(x) for x in v)
        elif want is str:
            if not isinstance(v, str):
                raise InputError(f"{section}.{key} must be a string, got {v!r}")
        elif want is int:
            if not (isinstance(v, int) and not isinstance(v, bool)):
                raise InputError(f"{section}.{key} must be an integer, got {v!r}")
        else:
            if not _is_number(v):
                raise InputError(f"{section}.{key} must be a number, got {v!r}")
            v = float(v)
        kwargs[key] = v
    return sub_cls(**kwargs)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise InputError(message)


def _validate(cfg: SimConfig) -> None:
    d, b, p, m, s, n = cfg.detector, cfg.beam, cfg.particle, cfg.multi, cfg.non_sample, cfg.noise
    _check(d.distance_m > 0, f"detector.distance_m must be > 0, got {d.distance_m!r}")
    _check(d.pixel_um > 0, f"detector.pixel_um must be > 0, got {d.pixel_um!r}")
    _check(d.bin_px >= 1 and d.crop_px >= d.bin_px and d.crop_px % d.bin_px == 0,
           f"detector.crop_px ({d.crop_px}) must be a positive multiple of bin_px ({d.bin_px})")
    for name in ("oversample", "droplet_oversample"):
        v = getattr(d, name)
        _check(v >= 1 and d.bin_px % v == 0,
               f"detector.{name} must divide bin_px={d.bin_px}, got {v!r}")
    _check(d.amplitude_step >= 1 and d.out_px * d.oversample >= 3 * d.amplitude_step + 1,
           f"detector.amplitude_step must be >= 1 and leave >= 4 nodes per side, "
           f"got {d.amplitude_step!r}")
    _check(d.beamstop_radius_mm >= 0 and d.gap_mm >= 0, "detector mask sizes must be >= 0")
    _check(0.1 <= b.energy_kev <= 30, f"beam.energy_kev must be in [0.1, 30], got {b.energy_kev!r}")
    _check(b.pulse_photons > 0 and b.focus_um > 0, "beam.pulse_photons and focus_um must be > 0")
    _check(b.pulse_jitter >= 0 and b.impact_max_sigma >= 0, "beam jitters must be >= 0")
    pols = ("horizontal", "vertical", "none")
    _check(b.polarization in pols, f"beam.polarization {b.polarization!r} unknown"
           f"{closest(b.polarization, pols)}; valid: {', '.join(pols)}")
    _check(0 < p.radius_min_a <= p.radius_median_a <= p.radius_max_a,
           "particle radii need 0 < radius_min_a <= radius_median_a <= radius_max_a")
    _check(p.radius_max_a <= 1000, f"particle.radius_max_a must be <= 1000, got {p.radius_max_a!r}")
    _check(p.radius_sigma >= 0 and 0 <= p.anisotropy < 0.5, "particle.anisotropy must be in [0, 0.5)")
    _check(p.voxel_a > 0 and p.voxel_a <= p.radius_min_a,
           f"particle.voxel_a must be in (0, radius_min_a], got {p.voxel_a!r}")
    _check(p.atom_density_a3 > 0 and p.electrons_per_atom > 0, "particle densities must be > 0")
    _check(1 <= len(m.count_probs) <= 8 and all(x >= 0 for x in m.count_probs)
           and sum(m.count_probs) > 0,
           f"multi.count_probs must be 1..8 non-negative weights for 2, 3, ... particles, "
           f"got {m.count_probs!r}")
    _check(m.gap_max_frac >= 0, "multi.gap_max_frac must be >= 0")
    _check(0 < s.radius_min_a <= s.radius_max_a <= 5000,
           "non_sample radii need 0 < radius_min_a <= radius_max_a <= 5000")
    _check(s.electron_density_a3 > 0 and 0 <= s.anisotropy < 0.5,
           "non_sample.electron_density_a3 must be > 0 and anisotropy in [0, 0.5)")
    _check(0 <= n.background_min <= n.background_max,
           "noise needs 0 <= background_min <= background_max")
    _check(n.read_noise >= 0 and n.common_mode >= 0, "noise sigmas must be >= 0")
