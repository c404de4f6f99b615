"""Installs as users install: a built wheel, and ``pip install .``, in fresh venvs.

The wheel is built from a copy of the source tree (``pip wheel --no-deps
--no-build-isolation``, offline), installed with ``--no-deps`` into a fresh venv made with
``--system-site-packages`` (numpy, numba, torch, hls4ml come from the running Python; none
is downloaded again), and ``fixsim certify`` runs from a directory outside the repository:
it must find the golden model, the default vector set and rtl/ inside the installed
package and write a certificate (INCOMPLETE, exit 1: no latency evidence is given).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What the package carries besides code (fixsim/_bundle.py's rule, setup.py's copy).
BUNDLED_FILES = ("fixsim/_bundled/golden/weights_folded.npz",
                 "fixsim/_bundled/golden/support.npz",
                 "fixsim/_bundled/golden/manifest.json",
                 "fixsim/_bundled/vectors/specklenn-snl-default/manifest.json",
                 "fixsim/_bundled/vectors/specklenn-snl-default/weights.img",
                 "fixsim/_bundled/rtl/fixsim_layers.h",
                 "fixsim/_bundled/rtl/tb/tb_main.cpp",
                 "fixsim/network/specs/specklenn-snl.json")
#: A wheel larger than this carries something it should not.
MAX_WHEEL_BYTES = 8 * 2**20
_SKIP_COPY = shutil.ignore_patterns(".git", "build", "dist", "__pycache__", ".venv", "*.egg-info",
                                    ".pytest_cache", ".hypothesis", "certificate", "out",
                                    "*.nbi", "*.nbc", "*.o", "_bundled")


def _need_tools():
    for mod in ("venv", "pip", "setuptools"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"the {mod} module is not installed: cannot build or install a wheel")


def _clean_env(**extra) -> dict:
    """The environment without anything that points back at the source tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "FIXSIM_GOLDEN", "FIXSIM_VECTORS", "FIXSIM_RTL")}
    env.update(extra)
    return env


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def _venv(path: Path) -> Path:
    """A fresh venv that also sees the running environment's packages (numpy, torch, pip...).

    Like ``--system-site-packages``, but for the environment running the tests (CI's own
    venv included): a ``.pth`` line appends its site-packages after the venv's own.  The
    lines of that directory's ``.pth`` files are not run, so the editable install of the
    source tree stays invisible.
    """
    r = _run([sys.executable, "-m", "venv", "--without-pip", path])
    assert r.returncode == 0, r.stderr
    python = path / "bin" / "python"
    r = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    assert r.returncode == 0, r.stderr
    parent = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    Path(r.stdout.strip(), "_fixsim_test_parent.pth").write_text("\n".join(sorted(parent)) + "\n")
    return python


def _install(python: Path, target, cwd: Path) -> None:
    r = _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
              "--no-build-isolation", target], cwd=cwd, env=_clean_env())
    assert r.returncode == 0, r.stderr[-2000:]


def _where(python: Path, cwd: Path) -> dict:
    code = ("import json, fixsim, fixsim._bundle as b; print(json.dumps({'file': fixsim.__file__, "
            "**{k: [str(b.locate(k)), b.origin(k)] for k in b.ITEMS}}))")
    r = _run([python, "-c", code], cwd=cwd, env=_clean_env())
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _check_installed(python: Path, venv: Path, cwd: Path) -> None:
    where = _where(python, cwd)
    assert Path(where["file"]).resolve().is_relative_to(venv.resolve()), where
    for item in ("golden", "vectors", "rtl"):
        path, origin = where[item]
        assert origin == "package" and Path(path).is_dir(), (item, where)
        assert Path(path).resolve().is_relative_to(venv.resolve()), (item, where)


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    """The source tree as a user would unpack it (no build outputs, no caches)."""
    _need_tools()
    src = tmp_path_factory.mktemp("src") / "fixsim"
    shutil.copytree(ROOT, src, ignore=_SKIP_COPY)
    return src


@pytest.fixture(scope="module")
def wheel(source_copy, tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    r = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
              "--no-build-isolation", "-w", dist, source_copy], env=_clean_env())
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = dist.glob("fixsim-*.whl")
    return whl


def test_wheel_carries_the_bundled_defaults(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in BUNDLED_FILES if f not in names]
    assert not missing, f"the wheel lacks {missing}"
    for rel in ("golden", "vectors/specklenn-snl-default", "rtl"):
        want = {f"fixsim/_bundled/{rel}/{p.relative_to(ROOT / rel).as_posix()}"
                for p in (ROOT / rel).rglob("*") if p.is_file() and p.suffix not in (".o", ".pyc")}
        assert want <= names, f"the wheel lacks {sorted(want - names)[:5]}"
    assert not any("__pycache__" in n or n.endswith(".nbi") for n in names)
    size = wheel.stat().st_size
    assert size < MAX_WHEEL_BYTES, f"wheel is {size / 2**20:.1f} MiB"


def test_wheel_install_certifies_the_bundled_defaults(wheel, tmp_path):
    """The main job from a wheel install, in a directory that is not the repository."""
    venv = tmp_path / "venv"
    python = _venv(venv)
    work = tmp_path / "work"
    work.mkdir()
    _install(python, wheel, work)
    _check_installed(python, venv, work)
    r = _run([venv / "bin" / "fixsim", "certify", "--out", "cert"], cwd=work,
             env=_clean_env(FIXSIM_NOTICES="1"), timeout=900)
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    # a fresh install compiles its Numba kernels, and says so
    assert "fixsim certify: compiling Numba kernel" in r.stderr, r.stderr[-3000:]
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr[-3000:])
    assert "fixsim certify: INCOMPLETE" in r.stdout
    cert = json.loads((work / "cert" / "certificate.json").read_text())
    assert cert["verdict"] == "INCOMPLETE"
    statuses = {c["name"]: c["status"] for c in cert["checks"]}
    assert statuses["latency"] == "not_measured"
    failed = [n for n, s in statuses.items() if s == "fail"]
    assert not failed, failed
    assert statuses["vectors_vs_fixsim"] == "pass" and statuses["fixsim_vs_csim"] == "pass"
    assert (work / "cert" / "certificate.md").is_file()


def test_pip_install_dot_finds_the_bundled_defaults(source_copy, tmp_path):
    """``pip install .`` (a wheel built and installed in one step) carries them too."""
    venv = tmp_path / "venv"
    python = _venv(venv)
    work = tmp_path / "work"
    work.mkdir()
    _install(python, source_copy, work)
    _check_installed(python, venv, work)
    r = _run([venv / "bin" / "fixsim", "vectors", "show",
              str(Path(_where(python, work)["vectors"][0]))], cwd=work, env=_clean_env())
    assert r.returncode == 0 and "specklenn-snl" in r.stdout, r.stderr


@pytest.mark.slow
def test_pip_install_dot_certifies(source_copy, tmp_path):
    venv = tmp_path / "venv"
    python = _venv(venv)
    _install(python, source_copy, tmp_path)
    r = _run([venv / "bin" / "fixsim", "certify", "--out", "cert"], cwd=tmp_path,
             env=_clean_env(), timeout=1800)
    assert r.returncode == 1 and "fixsim certify: INCOMPLETE" in r.stdout, r.stderr[-3000:]


def test_environment_overrides_win(tmp_path, monkeypatch):
    from fixsim import _bundle

    for item, (_, env) in _bundle.ITEMS.items():
        monkeypatch.setenv(env, str(tmp_path / item))
        assert _bundle.locate(item) == tmp_path / item and _bundle.origin(item) == f"${env}"
        monkeypatch.delenv(env)
        assert _bundle.locate(item).is_dir(), f"{item}: not found in the package or source tree"


# --------------------------------------------------------------------------- first run

def test_numba_compiles_are_announced_once_per_kernel():
    import io

    from numba import njit

    from fixsim._firstrun import first_run_notices

    scope = {"__name__": "fixsim._install_probe"}
    exec("def probe(a):\n    return a + 1\n", scope)
    kernel = njit(scope["probe"])
    buf = io.StringIO()
    with first_run_notices("probe", stream=buf):
        assert kernel(1) == 2
        assert kernel(2) == 3  # compiled already: no second notice
    assert buf.getvalue() == ("fixsim probe: compiling Numba kernel probe (first run only; "
                              "cached on disk)\n")
    assert kernel(1.5) == 2.5  # outside the block: silent
    assert buf.getvalue().count("\n") == 1


def test_notices_go_to_a_terminal_or_when_asked(capsys, monkeypatch):
    from fixsim._firstrun import first_run_notices, notice

    for env, shown in ((None, False), ("1", True), ("0", False)):
        if env is None:
            monkeypatch.delenv("FIXSIM_NOTICES", raising=False)
        else:
            monkeypatch.setenv("FIXSIM_NOTICES", env)
        with first_run_notices("probe"):  # captured stderr is no terminal
            notice("building")
        assert (capsys.readouterr().err == "fixsim probe: building\n") is shown, env


_PROBE = {"probe.cpp": '#include "ap_fixed.h"\n#include <cstdio>\nint main() {\n'
                       '  ap_fixed<16,6,AP_RND,AP_SAT> a = 1.25; std::printf("%g\\n", a.to_double());\n'
                       '  return 0;\n}\n'}


def test_gxx_build_is_announced_cached_and_shared(need_gxx, tmp_path, monkeypatch):
    from fixsim._firstrun import handler
    from fixsim.csim.build import background_build, compile_program

    monkeypatch.setenv("FIXSIM_CACHE", str(tmp_path))
    seen: list[str] = []
    with handler(seen.append):
        with background_build(lambda: compile_program(_PROBE, main="probe", tag="probe")):
            exe = compile_program(_PROBE, main="probe", tag="probe")  # waits, builds nothing
        assert compile_program(_PROBE, main="probe", tag="probe") == exe
    assert len(seen) == 2, seen  # one build, announced once, however many asked for it
    assert seen[0] == f"building 'probe' with g++ (1 files; first run only, cached in {tmp_path})"
    assert seen[1].startswith("g++ build done in ")
    assert subprocess.run([exe], capture_output=True, text=True).stdout.strip() == "1.25"
    assert sorted(p.name for p in tmp_path.iterdir()) == [exe.parent.name]


def test_background_build_left_early_is_stopped_and_cleaned(need_gxx, tmp_path, monkeypatch):
    from fixsim.csim import build
    from fixsim.csim.build import background_build, compile_program

    monkeypatch.setenv("FIXSIM_CACHE", str(tmp_path))
    sources = {"probe.cpp": _PROBE["probe.cpp"].replace("1.25", "2.5")}
    with pytest.raises(KeyboardInterrupt):
        with background_build(lambda: compile_program(sources, main="probe", tag="stopped")):
            for _ in range(3000):  # until g++ runs (bounded: 30 s)
                if build._live:
                    break
                time.sleep(0.01)
            assert build._live, "the background build never started g++"
            raise KeyboardInterrupt  # e.g. Ctrl-C or SIGTERM while g++ runs
    assert list(tmp_path.iterdir()) == [], "the stopped build left files in the cache"


# --------------------------------------------------------------------------- weights

def _vectors(capsys, *argv):
    from fixsim.cli.main import main

    rc = main(["vectors", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_vectors_gen_refuses_missing_golden_weights(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FIXSIM_GOLDEN", str(tmp_path / "no-golden"))
    out = tmp_path / "v"
    rc, _, err = _vectors(capsys, "gen", "--n", "2", "--out", str(out))
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "golden weights" in err and "--weights random" in err and "Traceback" not in err
    assert not out.exists()
    rc, _, err = _vectors(capsys, "image", "--out", str(tmp_path / "w.img"))
    assert rc == 2 and "--weights random" in err and not (tmp_path / "w.img").exists()
    rc, text, err = _vectors(capsys, "gen", "--n", "2", "--seed", "3", "--weights", "random",
                             "--out", str(out))
    assert rc == 0, err
    assert "weights random (seed 3)" in text


def test_golden_weights_of_another_architecture_are_refused(tmp_path, monkeypatch):
    import numpy as np

    from fixsim.errors import InputError
    from fixsim.vectors.weight_io import load_weights

    np.savez(tmp_path / "weights_folded.npz", other=np.zeros(3))
    monkeypatch.setenv("FIXSIM_GOLDEN", str(tmp_path))
    for source in (None, "golden"):
        with pytest.raises(InputError, match="do not fit spec 'specklenn-snl'.*--weights random"):
            load_weights("specklenn-snl", source)


def test_vectors_gen_names_the_golden_weights_it_used(capsys, tmp_path):
    from fixsim._bundle import golden_dir
    from fixsim._files import sha256_file

    rc, text, err = _vectors(capsys, "gen", "--n", "2", "--seed", "1", "--out", str(tmp_path / "v"))
    assert rc == 0, err
    digest = sha256_file(golden_dir() / "weights_folded.npz")
    assert f"weights golden golden/weights_folded.npz (sha256 {digest[:16]}...)" in text
