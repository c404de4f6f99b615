"""Simulator configurations shared by the data tests."""

#: The doc's prototype: 64x64 pixels of 300 um at 0.3 m, 1.6 keV, 1e12 photons in a 1 um
#: focus, R = 100 A; no masks, jitter or noise, so photon counts are the physics alone.
PROTOTYPE_CONFIG = {
    "detector": {"distance_m": 0.3, "pixel_um": 300.0, "crop_px": 64, "bin_px": 1,
                 "oversample": 1, "droplet_oversample": 1, "amplitude_step": 1,
                 "beamstop_radius_mm": 0.0, "gap_mm": 0.0},
    "beam": {"energy_kev": 1.6, "pulse_photons": 1e12, "focus_um": 1.0,
             "pulse_jitter": 0.0, "impact_max_sigma": 0.0},
    "particle": {"radius_median_a": 100.0, "radius_min_a": 100.0, "radius_max_a": 100.0,
                 "anisotropy": 0.0},
    "multi": {"count_probs": [1.0], "gap_max_frac": 0.0},
    "noise": {"background_min": 0.0, "background_max": 0.0, "read_noise": 0.0,
              "common_mode": 0.0},
}
