"""Errors of weight images and vector sets: all :class:`~fixsim.errors.InputError` (exit 2).

Each names what was wrong with which file in one line, so a board script or the CLI can
show it as it is.
"""

from __future__ import annotations

from ..errors import InputError


class WeightImageError(InputError):
    """A weight image that cannot be used (root of the image errors)."""


class ImageMagicError(WeightImageError):
    """The bytes do not start with the weight-image magic."""


class ImageTruncatedError(WeightImageError):
    """Fewer (or more) bytes than the header declares."""


class ImageCrcError(WeightImageError):
    """The CRC32 trailer does not match the bytes before it."""


class ImageFieldError(WeightImageError):
    """A header or tensor-table field with an invalid value (version, sizes, offsets...)."""


class SpecHashMismatch(WeightImageError):
    """The image (or vector set) was made for another model spec."""


class ImageShapeError(WeightImageError):
    """A tensor whose name, shape, format or element order disagrees with the spec."""


class RawRangeError(WeightImageError):
    """A stored word outside the raw range of its tensor's format."""


class VectorSetError(InputError):
    """A malformed vector set (root of the vector-set errors)."""


class ManifestError(VectorSetError):
    """manifest.json missing, not JSON, or with missing/invalid fields."""


class UnsafePathError(VectorSetError):
    """A manifest path that is absolute, leaves the directory, or is a symlink."""


class ChecksumError(VectorSetError):
    """A file whose sha256 differs from the manifest's."""


class VectorShapeError(VectorSetError):
    """A data file whose size or values disagree with the manifest."""


__all__ = ["WeightImageError", "ImageMagicError", "ImageTruncatedError", "ImageCrcError",
           "ImageFieldError", "SpecHashMismatch", "ImageShapeError", "RawRangeError",
           "VectorSetError", "ManifestError", "UnsafePathError", "ChecksumError",
           "VectorShapeError"]
