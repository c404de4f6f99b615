"""Weight images and vector sets: the artifacts that drive HLS test benches and boards.

- :mod:`fixsim.vectors.weight_image`: the binary weight image SNL-style designs load at
  run time (docs/weight_image.md), with HDF5/PyTorch/npz import in
  :mod:`fixsim.vectors.weight_io`.
- :mod:`fixsim.vectors.vectorset`: vector-set directories (docs/vectors.md):
  :func:`generate_vector_set` and :func:`load_vector_set`.
"""

from .errors import (ChecksumError, ImageCrcError, ImageFieldError, ImageMagicError,
                     ImageShapeError, ImageTruncatedError, ManifestError, RawRangeError,
                     SpecHashMismatch, UnsafePathError, VectorSetError, VectorShapeError,
                     WeightImageError)
from .weight_image import WeightImage, build_image, parse_image, read_image, write_image

__all__ = ["load_vector_set", "generate_vector_set", "VectorSet", "WeightImage", "build_image",
           "parse_image", "read_image", "write_image", "WeightImageError", "ImageMagicError",
           "ImageTruncatedError", "ImageCrcError", "ImageFieldError", "SpecHashMismatch",
           "ImageShapeError", "RawRangeError", "VectorSetError", "ManifestError",
           "UnsafePathError", "ChecksumError", "VectorShapeError"]


def __getattr__(name):
    # The vector-set module pulls in the network engine (Numba); keep the image light.
    if name in ("load_vector_set", "generate_vector_set", "VectorSet"):
        from . import vectorset

        return getattr(vectorset, name)
    raise AttributeError(f"module 'fixsim.vectors' has no attribute {name!r}")
