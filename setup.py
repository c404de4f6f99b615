"""Build step: copy the bundled defaults into the wheel (fixsim/_bundled/).

The source tree keeps ``golden/``, ``vectors/specklenn-snl-default`` and ``rtl/`` as the
source of truth; a wheel (and ``pip install .``, which builds one) gets copies of them
under ``fixsim/_bundled/`` so that ``fixsim certify`` runs from any directory.  An
editable install copies nothing: it finds them in the source tree (see fixsim/_bundle.py
for the lookup rule).  Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: Directories of the source tree shipped inside the package (kept in step with
#: fixsim/_bundle.py's ITEMS).
BUNDLED = ("golden", "vectors/specklenn-snl-default", "rtl")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.o", ".*")


class BuildWithDefaults(build_py):
    """``build_py`` that also copies the bundled defaults into ``fixsim/_bundled``."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for rel in BUNDLED:
            src = HERE / rel
            if not src.is_dir():
                raise SystemExit(f"setup.py: {rel}/ is missing from the source tree; it is "
                                 "shipped inside the wheel as a bundled default")
            dst = Path(self.build_lib) / "fixsim" / "_bundled" / rel
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithDefaults})
