"""Where the bundled defaults live: the golden model, the default vector set, rtl/.

The source tree is the source of truth: ``golden/``, ``vectors/specklenn-snl-default``
and ``rtl/`` beside the ``fixsim`` package.  A wheel (and ``pip install .``, which builds
one) carries copies of them inside the package, under ``fixsim/_bundled/`` (``setup.py``
copies them at build time).  Each is found by the first rule that applies:

1. its environment variable, when set: ``$FIXSIM_GOLDEN``, ``$FIXSIM_VECTORS`` (the
   vector set directory itself), ``$FIXSIM_RTL``;
2. ``fixsim/_bundled/<name>`` inside the installed package (wheel, ``pip install .``);
3. ``<name>`` beside the package, i.e. in the source tree (checkout, ``pip install -e``).

The spec (``fixsim/network/specs/*.json``) is ordinary package data.

>>> golden_dir().name, default_vectors().name, rtl_dir().name
('golden', 'specklenn-snl-default', 'rtl')
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
#: Copies made at build time (wheel installs).
BUNDLED = _PACKAGE / "_bundled"
#: The source tree holding the package (checkouts and editable installs).
SOURCE_TREE = _PACKAGE.parent

#: Name of the committed default vector set under ``vectors/``.
DEFAULT_VECTOR_SET = "specklenn-snl-default"

#: Bundled item -> (its path relative to the source tree, overriding environment variable).
ITEMS = {
    "golden": ("golden", "FIXSIM_GOLDEN"),
    "vectors": (f"vectors/{DEFAULT_VECTOR_SET}", "FIXSIM_VECTORS"),
    "rtl": ("rtl", "FIXSIM_RTL"),
}


def locate(item: str) -> Path:
    """The directory of a bundled item (``"golden"``, ``"vectors"``, ``"rtl"``).

    The path is returned even when it does not exist (the caller says what is missing
    and how to fix it); the rule is the module's.
    """
    rel, env = ITEMS[item]
    override = os.environ.get(env)
    if override:
        return Path(override)
    inside = BUNDLED / rel
    if inside.is_dir():
        return inside
    return SOURCE_TREE / rel


def origin(item: str) -> str:
    """Which rule found ``item``: ``"$FIXSIM_..."``, ``"package"`` or ``"source tree"``."""
    rel, env = ITEMS[item]
    if os.environ.get(env):
        return f"${env}"
    return "package" if (BUNDLED / rel).is_dir() else "source tree"


def golden_dir() -> Path:
    """``$FIXSIM_GOLDEN``, else the bundled or source-tree ``golden/``."""
    return locate("golden")


def default_vectors() -> Path:
    """``$FIXSIM_VECTORS``, else the bundled or source-tree ``vectors/specklenn-snl-default``."""
    return locate("vectors")


def rtl_dir() -> Path:
    """``$FIXSIM_RTL``, else the bundled or source-tree ``rtl/``."""
    return locate("rtl")


__all__ = ["locate", "origin", "golden_dir", "default_vectors", "rtl_dir", "BUNDLED",
           "SOURCE_TREE", "DEFAULT_VECTOR_SET", "ITEMS"]
