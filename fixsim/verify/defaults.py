"""Where the bundled defaults live: the golden model and the default vector set.

Both are directories of the source tree (``golden/``, ``vectors/specklenn-snl-default``),
as ``rtl/`` is; ``$FIXSIM_GOLDEN`` and ``$FIXSIM_VECTORS`` override them (e.g. for an
installed package).
"""

from __future__ import annotations

import os
from pathlib import Path

#: Name of the committed default vector set under ``vectors/``.
DEFAULT_VECTOR_SET = "specklenn-snl-default"

_ROOT = Path(__file__).resolve().parents[2]


def golden_dir() -> Path:
    """``$FIXSIM_GOLDEN`` or ``golden/`` of the source tree."""
    override = os.environ.get("FIXSIM_GOLDEN")
    return Path(override) if override else _ROOT / "golden"


def default_vectors() -> Path:
    """``$FIXSIM_VECTORS`` or ``vectors/specklenn-snl-default`` of the source tree."""
    override = os.environ.get("FIXSIM_VECTORS")
    return Path(override) if override else _ROOT / "vectors" / DEFAULT_VECTOR_SET


def default_support() -> Path:
    """The golden support set (``support.npz``)."""
    return golden_dir() / "support.npz"


__all__ = ["golden_dir", "default_vectors", "default_support", "DEFAULT_VECTOR_SET"]
