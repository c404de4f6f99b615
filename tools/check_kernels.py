"""Gate: no Numba kernel in fixsim/ uses ``fastmath``; ``parallel`` only where allowed.

Exact kernels are integer-only and must give the same bits on every machine and thread
count (docs/style.md, rules 4 and 5), so:

- ``fastmath`` is refused everywhere, whatever its value (it licenses reassociation and
  assumes no NaN/inf: results would depend on the compiler's choices);
- ``parallel=`` anything but a literal ``False`` (or a ``vectorize`` ``target=`` other than
  ``"cpu"``) is refused unless the function that makes
  the decorator call is listed in :data:`PARALLEL_ALLOWED` below, with the reason its result
  cannot depend on the order of the parallel iterations, and with the functions allowed to
  use it (a factory such as ``_jit(fn, parallel)`` is only as safe as the bodies given to it);
- options passed as ``**kwargs`` to a Numba decorator are refused (they cannot be checked).

The check reads the sources (``ast``); nothing is imported or compiled.  It also reports
allow-list entries that no longer match any decorator call, so the list stays true.

Usage: ``python tools/check_kernels.py [--root DIR]`` (default: the fixsim package beside
this script).  Exit 0 when clean, 1 with one ``path:line: reason`` line per violation.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

#: Numba entry points that compile Python functions (decorators and decorator factories).
NUMBA_COMPILERS = frozenset({"jit", "njit", "generated_jit", "vectorize", "guvectorize", "stencil",
                             "cfunc", "jit_module"})


@dataclass(frozen=True)
class Allowance:
    """Why a decorator call may ask for ``parallel``, and who may go through it."""

    reason: str
    #: Functions (qualified names, ``<module>`` for module level) allowed to call ``via``.
    callers: tuple = ()
    #: The factory whose calls are restricted to ``callers`` ("" if the entry is a kernel).
    via: str = ""


#: (path relative to the package's parent, qualified name of the function that makes the
#: decorator call) -> why parallel iterations cannot change the result.
PARALLEL_ALLOWED: dict[tuple[str, str], Allowance] = {
    ("fixsim/fixed/specialized.py", "_jit"): Allowance(
        reason="serial/parallel builds of three bodies whose prange runs over independent "
               "outputs: quantizer (one element per iteration; the reductions are integer "
               "counts, exact in any order), mac_kernel (one row of accumulators per "
               "iteration, each output keeps its own k order: the saturating/rounding steps "
               "never cross iterations) and _exact_gemm_body (one row per iteration, each row "
               "summed in k order)",
        callers=("quantizer", "mac_kernel", "<module>"),
        via="_jit"),
}


def _package_root() -> Path:
    return Path(__file__).resolve().parents[1] / "fixsim"


class _Module(ast.NodeVisitor):
    """Collect Numba decorator calls (with their enclosing function) and all plain calls."""

    def __init__(self):
        self.modules: set[str] = set()        # names bound to numba or a numba submodule
        self.names: dict[str, str] = {}       # local name -> numba compiler it is bound to
        self.stack: list[str] = []
        self.numba_calls: list[tuple[ast.Call, str]] = []
        self.calls: list[tuple[ast.Call, str]] = []
        self.kernels = 0                      # functions decorated by a numba compiler

    def where(self) -> str:
        return ".".join(self.stack) or "<module>"

    def visit_Import(self, node):
        for a in node.names:
            if a.name == "numba" or a.name.startswith("numba."):
                self.modules.add((a.asname or a.name).split(".")[0])

    def visit_ImportFrom(self, node):
        if node.module and (node.module == "numba" or node.module.startswith("numba.")):
            for a in node.names:
                if a.name in NUMBA_COMPILERS:
                    self.names[a.asname or a.name] = a.name
                else:  # e.g. ``from numba import np as nnp``: treat as a numba namespace
                    self.modules.add(a.asname or a.name)

    def _scope(self, node):
        self.kernels += any(self.is_numba(d.func if isinstance(d, ast.Call) else d)
                            for d in getattr(node, "decorator_list", ()))
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def is_numba(self, func) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.names
        if isinstance(func, ast.Attribute) and func.attr in NUMBA_COMPILERS:
            base = func.value
            while isinstance(base, ast.Attribute):
                base = base.value
            return isinstance(base, ast.Name) and base.id in self.modules
        return False

    def visit_Call(self, node):
        (self.numba_calls if self.is_numba(node.func) else self.calls).append((node, self.where()))
        self.generic_visit(node)


def _parallel(kw: ast.keyword) -> bool:
    """``parallel=`` other than a literal False, or a ``target=`` other than "cpu"."""
    if kw.arg == "parallel":
        return not (isinstance(kw.value, ast.Constant) and kw.value.value is False)
    if kw.arg == "target":  # vectorize/guvectorize: "parallel" (threads) or "cuda"
        return not (isinstance(kw.value, ast.Constant) and kw.value.value == "cpu")
    return False


def _called_name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def check(root: Path, allowed: dict = PARALLEL_ALLOWED, stats: dict | None = None) -> list[str]:
    """Violations (``path:line: reason``) in every ``.py`` file under ``root``.

    ``stats``, if given, receives ``files``, ``kernels`` (decorated functions) and
    ``numba_calls`` (calls of a Numba compiler, decorator or not).
    """
    root = Path(root)
    base = root.parent
    problems: list[str] = []
    used: set = set()
    counts = {"files": 0, "kernels": 0, "numba_calls": 0}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(base).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        except (SyntaxError, UnicodeDecodeError) as e:
            problems.append(f"{rel}:{getattr(e, 'lineno', 0) or 0}: cannot be parsed ({e})")
            continue
        mod = _Module()
        mod.visit(tree)
        counts["files"] += 1
        counts["kernels"] += mod.kernels
        counts["numba_calls"] += len(mod.numba_calls)
        for call, where in mod.numba_calls:
            for kw in call.keywords:
                if kw.arg is None:
                    problems.append(f"{rel}:{call.lineno}: Numba options passed as **kwargs in "
                                    f"{where} cannot be checked; name them")
                elif _parallel(kw):
                    key = (rel, where)
                    if key in allowed:
                        used.add(key)
                    else:
                        problems.append(
                            f"{rel}:{call.lineno}: {kw.arg}={ast.unparse(kw.value)} in {where} is "
                            "not on the allow-list in tools/check_kernels.py (parallel only where "
                            "the result cannot depend on order)")
        for call, where in mod.numba_calls + mod.calls:
            if any(kw.arg == "fastmath" for kw in call.keywords):
                problems.append(f"{rel}:{call.lineno}: fastmath in {where}: exact kernels never "
                                "use fastmath")
        for (arel, _), allowance in allowed.items():
            if arel != rel or not allowance.via:
                continue
            for call, where in mod.calls:
                if _called_name(call) == allowance.via and where not in allowance.callers:
                    problems.append(
                        f"{rel}:{call.lineno}: {where} builds a kernel through {allowance.via}, "
                        f"which may be parallel; only {', '.join(allowance.callers)} are allowed "
                        "(add it to the allow-list with a reason)")
    for key in sorted(set(allowed) - used):
        problems.append(f"{key[0]}:0: allow-list entry for {key[1]} matches no parallel "
                        "decorator call: remove it")
    if stats is not None:
        stats.update(counts)
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=_package_root(), help="package directory to scan")
    args = p.parse_args(argv)
    if not args.root.is_dir():
        print(f"check_kernels: {str(args.root)!r} is not a directory", file=sys.stderr)
        return 2
    stats: dict = {}
    problems = check(args.root, stats=stats)
    for line in problems:
        print(line)
    print(f"check_kernels: {len(problems)} violation(s); {stats['kernels']} Numba kernels and "
          f"{stats['numba_calls']} Numba compiler calls in {stats['files']} files under "
          f"{args.root.name}/", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
