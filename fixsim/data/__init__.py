"""SPI data: a CPU simulator of the four shot classes, dataset files, and a CXI reader.

The training-facing API::

    frames, labels, class_names, meta = fixsim.data.simulate(n, seed)
    frames, labels, class_names, meta = fixsim.data.load_dataset("data.h5")

``frames`` is (N, 65, 65) float32, per-image standardized; ``labels`` is (N,) int64
with ids into ``class_names == ["single_hit", "multi_hit", "no_hit", "non_sample_hit"]``.

Real detector runs: ``import_frames(src, "frames.h5", ImportOptions(...))`` writes a frames
file with the same preprocessing, ``load_frames("frames.h5")`` reads it (labels optional).
"""

from .config import (CLASS_NAMES, BeamConfig, DetectorConfig, MultiHitConfig, NoiseConfig,
                     NonSampleConfig, ParticleConfig, SimConfig)
from .cxi import iter_cxi, read_cxi
from .frames_file import FramesFile, load_frames
from .importer import ImportOptions, import_frames
from .preprocess import bin_mean, crop_window, standardize
from .simulate import FrameSimulator, simulate
from .store import load_dataset, write_dataset

__all__ = [
    "CLASS_NAMES", "SimConfig", "DetectorConfig", "BeamConfig", "ParticleConfig",
    "MultiHitConfig", "NonSampleConfig", "NoiseConfig", "FrameSimulator",
    "simulate", "load_dataset", "write_dataset", "read_cxi", "iter_cxi",
    "bin_mean", "crop_window", "standardize", "import_frames", "ImportOptions", "load_frames",
    "FramesFile",
]
