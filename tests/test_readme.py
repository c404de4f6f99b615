"""The README runs as written: every ```python block, and the commands it names.

A block with ``>>>`` prompts is a doctest (its outputs are compared); any other python
block is executed.  The command table and the bash blocks may only name subcommands that
``fixsim`` has.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def _blocks(lang: str) -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 1, m.group(2)) for m in _BLOCK.finditer(text)
            if m.group(1) == lang]


PYTHON = _blocks("python")


def test_readme_has_python_examples():
    assert PYTHON, "README.md has no ```python block"


@pytest.mark.parametrize("line,code", PYTHON, ids=[f"line{n}" for n, _ in PYTHON])
def test_python_block_runs(line, code):
    name = f"README.md:{line}"
    if ">>>" in code:
        test = doctest.DocTestParser().get_doctest(code, {}, name, str(README), line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, out=lambda s: print(s, end=""))
        result = runner.summarize(verbose=False)
        assert result.attempted > 0 and result.failed == 0, f"{name}: {result.failed} examples failed"
    else:
        exec(compile(code, name, "exec"), {"__name__": "__readme__"})


def test_named_commands_exist():
    from fixsim.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    known = set(sub.choices)
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"`fixsim (\w+)", text))
    for _, code in _blocks("bash"):
        named |= set(re.findall(r"^\s*fixsim (\w+)", code, re.M))
    named.discard("help")
    assert named, "the README names no fixsim command"
    assert named <= known, f"README names unknown commands: {sorted(named - known)}"
