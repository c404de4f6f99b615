"""Where the bundled defaults live: the golden model and the default vector set.

Found by the rule of :mod:`fixsim._bundle`: ``$FIXSIM_GOLDEN`` / ``$FIXSIM_VECTORS``,
else the copies inside an installed wheel (``fixsim/_bundled/``), else ``golden/`` and
``vectors/specklenn-snl-default`` of the source tree.
"""

from __future__ import annotations

from pathlib import Path

from .._bundle import DEFAULT_VECTOR_SET, default_vectors, golden_dir


def default_support() -> Path:
    """The golden support set (``support.npz``)."""
    return golden_dir() / "support.npz"


__all__ = ["golden_dir", "default_vectors", "default_support", "DEFAULT_VECTOR_SET"]
