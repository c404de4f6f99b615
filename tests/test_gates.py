"""House rules as gates: the Numba kernel check, the doctests, ruff and the run header.

Each gate is also proven to fail: the kernel check on planted violations, the doctest
runner on a planted wrong example.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "fixsim"
CHECKER = REPO / "tools" / "check_kernels.py"


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_kernels", CHECKER)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_kernels", mod)
    spec.loader.exec_module(mod)
    return mod


def _run_checker(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), *args], capture_output=True, text=True,
                          timeout=120)


# --- Numba kernels: no fastmath, parallel only on the allow-list ------------------------

def test_kernel_check_passes_on_the_package():
    r = _run_checker()
    assert r.returncode == 0, r.stdout + r.stderr
    found = re.search(r"(\d+) Numba kernels", r.stderr)
    assert found and int(found.group(1)) >= 40, r.stderr  # it really saw the kernels


PLANTED = {
    "fm_true.py": """
        from numba import njit

        @njit(cache=True, fastmath=True)
        def f(x):
            return x + 1
        """,
    "fm_false.py": """
        import numba

        @numba.njit(fastmath=False)
        def f(x):
            return x
        """,
    "par_alias.py": """
        import numba as nb

        @nb.njit(parallel=True)
        def g(x):
            return x
        """,
    "par_renamed.py": """
        from numba import njit as fast_jit

        def make(parallel):
            return fast_jit(parallel=parallel)(lambda x: x)
        """,
    "star_opts.py": """
        from numba import njit

        OPTS = {"fastmath": True}

        @njit(**OPTS)
        def h(x):
            return x
        """,
    "partial.py": """
        import functools

        from numba import njit

        fast = functools.partial(njit, fastmath={"nnan"})
        """,
    "vectorized.py": """
        from numba import vectorize

        @vectorize(["int64(int64)"], target="parallel", fastmath=True)
        def v(x):
            return x
        """,
    "clean.py": """
        import numba
        from numba import njit, prange

        @njit
        def a(x):
            return x

        @njit(cache=True, nogil=True, parallel=False)
        def b(x):
            s = 0
            for i in prange(x.shape[0]):
                s += x[i]
            return s

        c = numba.njit(cache=True)(lambda x: x)
        """,
}


@pytest.fixture
def planted(tmp_path):
    root = tmp_path / "fixsim"
    shutil.copytree(PACKAGE, root, ignore=lambda d, names: [
        n for n in names if n == "__pycache__" or not (n.endswith(".py") or Path(d, n).is_dir())])
    for name, text in PLANTED.items():
        (root / "planted" / name).parent.mkdir(exist_ok=True)
        (root / "planted" / name).write_text(textwrap.dedent(text))
    return root


def test_kernel_check_catches_planted_violations(planted):
    r = _run_checker("--root", str(planted))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    expect = {"fm_true.py": ["fastmath"], "fm_false.py": ["fastmath"],
              "par_alias.py": ["parallel=True"], "par_renamed.py": ["parallel=parallel in make"],
              "star_opts.py": ["**kwargs"], "partial.py": ["fastmath"],
              "vectorized.py": ["target='parallel'", "fastmath"]}
    for name, whats in expect.items():
        hits = [line for line in lines if line.startswith(f"fixsim/planted/{name}:")]
        assert len(hits) == len(whats), (name, lines)
        for what in whats:
            assert any(what in h for h in hits), (name, what, hits)
    assert not [line for line in lines if "clean.py" in line], lines
    # nothing else in the copied package
    assert len(lines) == sum(len(w) for w in expect.values()), lines


def test_kernel_check_allow_listed_factory_only_for_listed_callers(planted):
    path = planted / "fixed" / "specialized.py"
    path.write_text(path.read_text() + textwrap.dedent("""

        def saturating_sum(q):
            def body(x, out):
                out[0] = x.sum()
            return _jit(body, True)
        """))
    r = _run_checker("--root", str(planted))
    assert r.returncode == 1
    assert "saturating_sum builds a kernel through _jit" in r.stdout, r.stdout


def test_kernel_check_reports_stale_allow_list_entries(tmp_path):
    ck = _load_checker()
    root = tmp_path / "fixsim"
    root.mkdir()
    (root / "k.py").write_text("from numba import njit\n\n@njit(parallel=False)\ndef f(x):\n"
                               "    return x\n")
    allowed = {("fixsim/k.py", "f"): ck.Allowance(reason="was parallel once")}
    assert ck.check(root, allowed) == ["fixsim/k.py:0: allow-list entry for f matches no parallel "
                                       "decorator call: remove it"]
    stats: dict = {}
    assert ck.check(root, {}, stats=stats) == [] and stats["kernels"] == 1


def test_every_allow_list_entry_gives_a_reason():
    ck = _load_checker()
    for key, allowance in ck.PARALLEL_ALLOWED.items():
        assert len(allowance.reason) > 40, key


# --- doctests: every example in fixsim runs -------------------------------------------

def _doctest_modules() -> list[str]:
    """Modules whose source holds a ``>>>`` line: the others are not imported (torch etc.)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if re.search(r"^\s*>>> ", path.read_text(encoding="utf-8"), re.M):
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


DOCTEST_MODULES = _doctest_modules()


def _run_doctests(module, monkeypatch):
    monkeypatch.chdir(REPO)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(module, module.__name__)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples may show a FixsimWarning's effect
        out = []
        for t in tests:
            runner.run(t, out=out.append)
    return tests, runner.summarize(verbose=False), "".join(out)


def test_doctests_are_found():
    assert len(DOCTEST_MODULES) >= 15, DOCTEST_MODULES


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_doctests(name, monkeypatch):
    module = importlib.import_module(name)
    tests, result, report = _run_doctests(module, monkeypatch)
    assert result.failed == 0, report
    # every ``>>>`` line of the file is an example the finder collected (none hides in a
    # place doctest cannot see, such as a comment or a jitted function's docstring)
    source = Path(module.__file__).read_text(encoding="utf-8")
    lines = len(re.findall(r"^\s*>>> ", source, re.M))
    assert sum(len(t.examples) for t in tests) == lines, name


def test_doctest_runner_fails_on_a_wrong_example(tmp_path, monkeypatch):
    (tmp_path / "planted_doc.py").write_text('"""\n>>> 1 + 1\n3\n"""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("planted_doc")
    _, result, report = _run_doctests(module, monkeypatch)
    assert result.failed == 1 and "Expected:\n    3" in report


# --- ruff -----------------------------------------------------------------------------

def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is None and shutil.which("ruff") is None:
        pytest.skip("ruff not installed: pip install -e '.[tests]' installs it")
    cmd = ([sys.executable, "-m", "ruff"] if importlib.util.find_spec("ruff") else ["ruff"])
    r = subprocess.run([*cmd, "check", "--no-cache", "--output-format", "concise", str(REPO)],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


# --- the run header -------------------------------------------------------------------

def test_run_header_names_the_tools():
    import numba
    import numpy

    from fixsim.csim.headers import find_ap_types

    # the root conftest as pytest loaded it (``import conftest`` may find a sub-directory's)
    root_conftest = Path(__file__).with_name("conftest.py")
    (mod,) = [m for m in list(sys.modules.values())
              if getattr(m, "__file__", None) and Path(m.__file__) == root_conftest]
    text = "\n".join(mod._run_environment())
    assert f"numpy {numpy.__version__}" in text and f"numba {numba.__version__}" in text
    assert "g++: " in text
    d = find_ap_types(required=False)
    if d is not None:
        from fixsim._files import sha256_file
        assert str(d) in text and sha256_file(d / "ap_fixed_base.h") in text


# --- one place for each rule: integer checks go through fixsim._validate ---------------

#: Packages whose integer checks were folded into fixsim._validate (the CLI, data, train and
#: vectors packages keep argparse types and their own readers).
FOLDED = ["fixsim/network", "fixsim/hls", "fixsim/fixed", "fixsim/_threads.py",
          "fixsim/hil/device.py"]


def _inline_int_checks(path: Path) -> list[int]:
    """Lines of ``isinstance(v, bool) or not isinstance(v, int)``: the hand-written check."""
    import ast

    hits = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            text = ast.unparse(node)
            if re.search(r"isinstance\((\w+), bool\) or not isinstance\(\1, int\)", text):
                hits.append(node.lineno)
    return hits


def test_no_inline_integer_checks_in_folded_packages():
    found = {}
    for entry in FOLDED:
        p = REPO / entry
        for path in ([p] if p.is_file() else sorted(p.rglob("*.py"))):
            if lines := _inline_int_checks(path):
                found[path.relative_to(REPO).as_posix()] = lines
    assert not found, f"use fixsim._validate.check_int: {found}"


def test_inline_check_detector_sees_the_pattern(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f(v):\n    if isinstance(v, bool) or not isinstance(v, int) or v < 1:\n"
                 "        raise ValueError(v)\n")
    assert _inline_int_checks(p) == [2]


def test_folded_checks_read_alike():
    import numpy as np

    from fixsim import FixedType, FormatError, InputError
    from fixsim._threads import resolve_threads
    from fixsim._validate import check_int
    from fixsim.hil.device import ConstantLatency
    from fixsim.hls.latency import Budget
    from fixsim.hls.latency_model import predict

    cases = [(lambda: resolve_threads(0), InputError, "threads must be an integer >= 1, got 0"),
             (lambda: Budget(cycles=0), InputError, "budget cycles must be an integer >= 1, got 0"),
             (lambda: ConstantLatency(-1), InputError,
              "cycle model base must be an integer >= 0, got -1"),
             (lambda: predict(input_ii=0), InputError, "input_ii must be an integer >= 1, got 0"),
             (lambda: FixedType(8.0, 4), FormatError, "width must be an integer, got 8.0"),
             (lambda: check_int("W", "8", error=FormatError), FormatError,
              "W must be an integer, got '8'")]
    for call, error, message in cases:
        with pytest.raises(error) as e:
            call()
        assert str(e.value) == message
    assert not issubclass(FormatError, InputError)  # the format field keeps its own class
    t = FixedType(np.int64(8), np.int32(4))           # numpy integers are integers, stored as int
    assert t == FixedType(8, 4) and type(t.width) is int and str(t) == "ap_fixed<8,4>"
    assert type(Budget(cycles=np.int64(90)).cycles) is int
