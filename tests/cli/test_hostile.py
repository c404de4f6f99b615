"""Every subcommand over a corpus of hostile inputs: exit 2, one line, nothing changed.

The commands are enumerated from :func:`fixsim.cli.main.build_parser`, so a new command
is covered without editing this file: each of its arguments gets hostile values chosen by
the argument's kind (``KINDS`` below, or a guess from its type and name), one argument at
a time, on top of a base command line that is otherwise valid (``BASE``).  A case passes
when ``fixsim`` answers exit 2 with one line on stderr, no traceback, a message naming the
argument or the value, and the working tree unchanged (names, sizes, inodes, mtimes).

The corpus is drawn with a seed: fixed in CI (``FIXSIM_HOSTILE_SEED``, default 0, and a
sample per command), varied and drawn in full under ``FIXSIM_HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fixsim.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[2]
LONG = os.environ.get("FIXSIM_HYPOTHESIS_PROFILE") == "long"
SEED = int(os.environ.get("FIXSIM_HOSTILE_SEED", random.SystemRandom().randrange(2**32)
                          if LONG else 0))
#: Cases per command in CI (all of them in the long profile).
PER_COMMAND = None if LONG else 24


def leaf_commands() -> dict[str, argparse.ArgumentParser]:
    """``"data simulate" -> parser`` for every runnable subcommand."""
    out = {}

    def walk(parser, prefix):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[" ".join(prefix)] = parser
            return
        for name, sp in subs[0].choices.items():
            walk(sp, prefix + [name])

    walk(build_parser(), [])
    return out


# ---------------------------------------------------------------- argument kinds
#: Kind of each argument, by "command dest" (or "* dest" for every command).  Kinds with
#: hostile values: int, float, spec, npz, npy, h5, json, text, report, vecdir, modeldir,
#: outfile, outdir (replaced as a whole), intodir (written into), name, exists.  "free"
#: arguments take any text (no hostile value).
KINDS = {
    "quantize format": "name", "quantize values": "free", "quantize input": "npy",
    "quantize output": "outfile",
    "data simulate out": "outfile", "data simulate config": "json",
    "data simulate classes": "name", "data info file": "h5", "data config out": "outfile",
    "data import source": "h5", "data import out": "outfile", "data import dataset": "name",
    "data import mask": "npy", "data import mask_dataset": "name", "data import mask_rect": "name",
    "data import center": "name", "data import labels": "npy", "vectors gen data": "h5",
    "compare data": "h5", "certify data": "h5",
    "report path": "report", "report top": "name",
    "hls tcl top": "free", "hls run top": "free", "* src": "exists", "* tb": "exists",
    "* cflags": "free", "* tb_cflags": "free", "* steps": "name", "* project_name": "free",
    "* solution": "free", "hls tcl out": "outdir", "hls run out": "outdir",
    "hls predict layers": "json", "hls certify paths": "report", "* part": "name",
    "spec spec": "spec", "spec out": "outfile",
    "* model": "spec", "csim weights": "npz", "csim inputs": "npy", "csim out": "outdir",
    "csim emit": "outdir",
    "vectors gen source": "npy", "vectors gen out": "outdir", "* weights": "npz",
    "vectors verify dir": "vecdir", "vectors show dir": "vecdir",
    "vectors image out": "outfile", "vectors image hdf5": "outfile",
    "hil run backend": "name", "* vectors": "vecdir", "hil run out": "outfile",
    "* device": "name", "* fault": "name", "hil run host": "name", "* exe": "exists",
    "* exe_arg": "free", "hil run device_dir": "exists", "hil run prefix": "free",
    "hil run dev": "exists",
    "train data": "h5", "train out": "outdir", "train resume": "npz",
    "evaluate model": "modeldir", "evaluate data": "h5", "evaluate support_data": "h5",
    "evaluate plots": "intodir",
    "compare a": "source", "compare b": "source", "compare layers": "name",
    "compare golden": "modeldir", "compare support": "npz", "compare plots": "intodir",
    "certify golden": "modeldir", "certify report": "report", "certify cosim": "report",
    "certify hw": "npz", "certify top": "name", "certify out": "intodir",
    "import source": "free", "import model": "text", "import args": "free",
    "import input_shape": "name", "import config": "json", "import precision": "name",
    "import name": "free", "import description": "free", "import rename": "name",
    "import write_config": "outfile", "import hdf5": "outfile", "import out": "outdir",
    "sweep model": "modeldir", "sweep data": "h5", "sweep spec": "spec", "sweep support": "npz",
    "sweep out": "outdir", "profile model": "modeldir", "profile data": "h5",
    "profile spec": "spec", "profile support": "npz", "profile out": "outdir",
}

#: A valid base command line per command; hostile values replace one argument of it.
BASE = {
    "quantize": ["ap_fixed<16,6>", "0.5"],
    "data simulate": ["--n", "2", "--out", "new.h5", "--no-progress"],
    "data info": ["good.h5"],
    "data config": ["--out", "new.json"],
    "data import": ["good.h5", "-o", "new.h5", "--no-progress"],
    "report": ["csynth.xml"],
    "hls tcl": ["--top", "f", "--src", "src.cpp", "--out", "newprj"],
    "hls run": ["--top", "f", "--src", "src.cpp", "--out", "newprj"],
    "hls predict": [],
    "hls certify": ["csynth.xml"],
    "spec": ["spec.json"],
    "csim": ["--model", "spec.json", "--weights", "w.npz", "--inputs", "x.npy", "--out", "newdir"],
    "vectors gen": ["--n", "2", "--source", "x.npy", "--weights", "w.npz", "--out", "newdir"],
    "vectors verify": ["vec"],
    "vectors show": ["vec"],
    "vectors image": ["--weights", "w.npz", "--out", "new.img"],
    "hil run": ["--backend", "loopback", "--vectors", "vec"],
    "hil serve": ["--vectors", "vec", "--duration", "0.01"],
    "train": ["--data", "good.h5", "--out", "newmodel", "--epochs", "1", "--seed", "0"],
    "evaluate": ["--model", "model", "--data", "good.h5"],
    "compare": ["vec", "vec", "--quiet"],
    "certify": ["--out", "newcert", "--n-eval", "8", "--quiet"],
    "import": ["torch", f"{REPO}/fixsim/model/specklenn.py:SpeckleNNInference", "--weights",
               "model/model_folded.pt", "--input-shape", "1,65,65", "--precision",
               "ap_fixed<16,6>", "--out", "newimport"],
    "sweep": ["model", "--data", "good.h5", "--out", "newsweep", "--widths", "8", "--no-plot",
              "--no-progress"],
    "profile": ["model", "--data", "good.h5", "--out", "newprofile", "--no-plot"],
}


def kind_of(command: str, action) -> str:
    for key in (f"{command} {action.dest}", f"* {action.dest}"):
        if key in KINDS:
            return KINDS[key]
    if action.choices is not None:
        return "choice"
    t = getattr(action.type, "__name__", "")
    if action.type is int or "int" in t or t == "_threads":
        return "int"
    if action.type is float or "float" in t or t in ("_fraction", "_nonneg", "parse"):
        return "float"
    if action.dest in ("out", "output", "plots", "emit"):
        return "outfile"
    return "text"


# ---------------------------------------------------------------- the corpus
def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _pickle_npz() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.npy", _npy_bytes(np.array([{"x": 1}], dtype=object)))
    return buf.getvalue()


def make_corpus(root: Path, rng: random.Random) -> dict[str, list[str]]:
    """Write hostile files under ``root``; return kind -> hostile argument values."""
    garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4096)))
    non_utf8 = b'{"name": "\xff\xfe\xfa", "layers": []}'
    files = {
        "garbage.bin": garbage, "empty.bin": b"", "nonutf8.json": non_utf8,
        "garbage.npy": garbage, "empty.npy": b"", "empty.npz": b"", "garbage.npz": garbage,
        "trunc.npz": (root / "w.npz").read_bytes()[: rng.randrange(10, 2000)],
        "trunc.npy": (root / "x.npy").read_bytes()[: rng.randrange(10, 200)],
        "trunc.h5": (root / "good.h5").read_bytes()[: rng.randrange(10, 4000)],
        "trunc.json": (root / "spec.json").read_bytes()[: rng.randrange(1, 300)],
        "trunc.xml": (root / "csynth.xml").read_bytes()[: rng.randrange(10, 3000)],
        "garbage.h5": garbage, "empty.h5": b"", "garbage.json": garbage, "empty.json": b"",
        "list.json": b"[1, 2, 3]", "nan.json": b'{"name": NaN}',
        "garbage.xml": garbage, "empty.rpt": b"",
        "object.npy": _npy_bytes(np.array([{"x": 1}], dtype=object)),
        "pickle.npz": _pickle_npz(),
        "complex.npy": _npy_bytes(np.zeros((2, 1, 65, 65), np.complex64)),
        "strings.npy": _npy_bytes(np.array(["a", "b"])),
        "shape.npy": _npy_bytes(np.zeros((2, 3, 4), np.float32)),
        "zero.npy": _npy_bytes(np.zeros((0, 1, 65, 65), np.int64)),
        "huge.npy": _npy_bytes(np.full((1, 1, 65, 65), 2**62, np.int64)),
        "wrongkeys.npz": _npz_bytes(a=np.zeros(3)),
        "emptyarchive.npz": _npz_bytes(),
        "nanweights.npz": _npz_bytes(**{k: np.full(v.shape, np.nan)
                                        for k, v in np.load(root / "w.npz").items()}),
    }
    if LONG:  # more truncation points of every format
        for k in range(4):
            for src, ext in (("w.npz", "npz"), ("x.npy", "npy"), ("good.h5", "h5")):
                blob = (root / src).read_bytes()
                files[f"trunc{k}.{ext}"] = blob[: rng.randrange(1, len(blob))]
    for name, data in files.items():
        (root / "hostile" / name).write_bytes(data)
    for d in ("emptydir", "badvec", "nonutf8vec", "truncvec"):
        (root / "hostile" / d).mkdir(exist_ok=True)
    (root / "hostile" / "badvec" / "manifest.json").write_bytes(garbage)
    (root / "hostile" / "nonutf8vec" / "manifest.json").write_bytes(non_utf8)
    shutil.copytree(root / "vec", root / "hostile" / "truncvec", dirs_exist_ok=True)
    tap = root / "hostile" / "truncvec" / "tap_fc2.bin"
    tap.write_bytes(tap.read_bytes()[:-8])
    h = "hostile/"
    common = [h + "garbage.bin", h + "empty.bin", h + "nonutf8.json", h + "emptydir",
              "missing/nothing.bin", h + "emptydir/absent.bin"]
    extra = {ext: [h + f"trunc{k}.{ext}" for k in range(4)] if LONG else []
             for ext in ("npz", "npy", "h5")}
    return {
        "int": ["-1", str(10**30), "x", "1.5", "nan"],
        "float": ["-1", "nan", "inf", "1e400", "x"],
        "name": ["no-such-name_zz", ""],
        "exists": ["missing/nothing.cpp", h + "emptydir/absent"],
        "spec": common + ["specklenn-snq", h + "trunc.json", h + "list.json", h + "nan.json",
                          h + "garbage.json", h + "empty.json"],
        "json": common + [h + "trunc.json", h + "list.json", h + "nan.json", h + "garbage.json"],
        "npz": common + [h + "empty.npz", h + "garbage.npz", h + "trunc.npz", h + "pickle.npz",
                         h + "wrongkeys.npz", h + "emptyarchive.npz", h + "nanweights.npz",
                         "x.npy"] + extra["npz"],
        "npy": common + [h + "empty.npy", h + "garbage.npy", h + "trunc.npy", h + "object.npy",
                         h + "complex.npy", h + "strings.npy", h + "shape.npy", h + "zero.npy",
                         h + "huge.npy", "w.npz"] + extra["npy"],
        "h5": common + [h + "garbage.h5", h + "empty.h5", h + "trunc.h5", "x.npy"] + extra["h5"],
        "report": common + [h + "garbage.xml", h + "trunc.xml", h + "empty.rpt"],
        "vecdir": ["missing/dir", h + "garbage.bin", h + "emptydir", h + "badvec",
                   h + "nonutf8vec", h + "truncvec"],
        "modeldir": ["missing/dir", h + "garbage.bin", h + "emptydir", h + "badvec"],
        "source": ["vectors:missing/dir", "nokind:vec", "vectors:" + h + "badvec",
                   "hw:" + h + "garbage.npz", "hw:" + h + "pickle.npz", "taps:" + h + "emptydir",
                   "vectors:" + h + "truncvec"],
        "outfile": ["existing.out", "existingdir", "missing/dir/x.out",
                    h + "garbage.bin/x.out"],
        "outdir": ["existing.out", "existingdir", "missing/dir/x", h + "garbage.bin/x"],
        # a directory the command writes into: its previous outputs are kept
        "intodir": ["existing.out", "missing/dir/x", h + "garbage.bin/x", "previous"],
        "text": [h + "garbage.bin", "missing/nothing"],
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Valid inputs (``BASE`` refers to them) and the hostile corpus, in one tree."""
    from fixsim.vectors.vectorset import load_vector_set

    r = tmp_path_factory.mktemp("hostile")
    (r / "hostile").mkdir()
    vec = REPO / "vectors" / "specklenn-snl-default"
    shutil.copytree(vec, r / "vec")
    shutil.copytree(REPO / "golden", r / "model")
    shutil.copy(vec / "spec.json", r / "spec.json")
    vs = load_vector_set(vec)
    np.savez(r / "w.npz", **vs.weights)
    np.save(r / "x.npy", vs.inputs[:2])
    shutil.copy(REPO / "tests" / "hls" / "data" / "fastmachinelearning__hls4ml__myproject_csynth.xml",
                r / "csynth.xml")
    (r / "src.cpp").write_text("void f() {}\n")
    (r / "existing.out").write_text("keep me\n")
    (r / "existingdir").mkdir()
    (r / "existingdir" / "keep.txt").write_text("keep me too\n")
    (r / "previous").mkdir()  # every file name a command writes into a directory
    for name in ("certificate.json", "certificate.md", "confusion.png",
                 "accuracy_vs_fluence.png", "layers.png", "embedding_l2.png"):
        (r / "previous" / name).write_text("previous output\n")
    assert main(["data", "simulate", "--n", "4", "--out", str(r / "good.h5"), "--seed", "1",
                 "--no-progress"]) == 0
    return r


def snapshot(root: Path) -> dict:
    """Names, sizes, inodes, modes and mtimes of everything under ``root``."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_ino, st.st_mode, st.st_mtime_ns)
    return out


def _with(base: list[str], action, value: str) -> list[str]:
    """``base`` with ``action`` set to ``value`` (replaced if present, else added)."""
    argv = list(base)
    if action.option_strings:
        opt = action.option_strings[-1]
        for k, tok in enumerate(argv):
            if tok in action.option_strings:
                argv[k + 1] = value
                return argv
        return argv + [opt, value]
    # positional: BASE lists positionals first, in order
    positionals = [a for a in PARSERS[COMMAND_OF[id(action)]]._actions
                   if not a.option_strings and a.dest != "help"]
    argv[positionals.index(action)] = value
    return argv


PARSERS = leaf_commands()
COMMAND_OF: dict[int, str] = {}


def cases() -> list:
    """Per command, its (command, dest, kind) slots that take hostile values."""
    out = []
    for command, parser in PARSERS.items():
        mine = []
        for action in parser._actions:
            if action.dest in ("help",) or action.nargs == 0:
                continue
            COMMAND_OF[id(action)] = command
            kind = kind_of(command, action)
            if kind in ("free", "choice"):
                continue
            mine.append((command, action.dest, kind))
        out.append((command, mine))
    return out


def _draw(rng: random.Random, values: dict, plan: list) -> list:
    """(command, dest, value) triples: everything in the long profile, else a sample."""
    chosen = []
    for command, slots in plan:
        triples = [(command, dest, v) for _, dest, kind in slots for v in values[kind]]
        rng.shuffle(triples)
        chosen += triples if PER_COMMAND is None else triples[:PER_COMMAND]
    return chosen


PLAN = cases()


def test_every_command_has_a_base_and_hostile_slots():
    """A new command must say how to call it validly; every command gets hostile cases."""
    missing = [c for c in PARSERS if c not in BASE]
    assert not missing, f"add a valid base command line to BASE for: {missing}"
    empty = [c for c, slots in PLAN if not slots]
    assert not empty, f"commands without hostile arguments: {empty}"


def _names(command, dest, value):
    """Words one of which the error line must contain."""
    action = next(a for a in PARSERS[command]._actions if a.dest == dest)
    words = {dest, dest.replace("_", "-"), dest.replace("_", " ")}
    words |= {o.lstrip("-") for o in action.option_strings}
    if value:
        words |= {value, Path(value).name, str(Path(value).parent), value.split(":")[-1]}
    return {w for w in words if w not in ("", ".")}


@pytest.fixture(scope="module")
def corpus(root):
    """kind -> hostile values (files written under ``root/hostile``), drawn with SEED."""
    return make_corpus(root, random.Random(SEED))


def test_hostile_corpus(root, corpus, capsys, monkeypatch):
    from fixsim._files import _LIVE

    rng = random.Random(SEED + 1)
    values = corpus
    monkeypatch.chdir(root)
    monkeypatch.setenv("FIXSIM_TEST_NO_TTY", "1")
    failures = []
    for command, dest, value in _draw(rng, values, PLAN):
        action = next(a for a in PARSERS[command]._actions if a.dest == dest)
        argv = command.split() + _with(BASE[command], action, value)
        before = snapshot(root)
        capsys.readouterr()
        try:
            code = main(argv)
        except SystemExit as exc:  # pragma: no cover - main() should return
            code = f"SystemExit({exc.code})"
        except BaseException as exc:  # noqa: BLE001 - the test reports any escape
            code = f"raised {type(exc).__name__}: {exc}"
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        problems = []
        if code != 2:
            problems.append(f"exit {code}")
        if "Traceback" in err:
            problems.append("traceback")
        if len(lines) != 1:
            problems.append(f"{len(lines)} stderr lines")
        elif not any(w in lines[0] for w in _names(command, dest, value)):
            problems.append("message names neither the argument nor the value")
        if any(s in err for s in ("allow_pickle", "weights_only")):
            problems.append("passes on unsafe-loading advice")
        after = snapshot(root)
        if after != before:
            changed = sorted(set(after) ^ set(before) | {k for k in after if
                                                         k in before and after[k] != before[k]})
            problems.append(f"changed {changed[:3]}")
            for name in set(after) - set(before):  # clean up so later cases see the same tree
                p = root / name
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
        if _LIVE:
            problems.append(f"live temporaries {sorted(map(str, _LIVE))[:2]}")
        if problems:
            failures.append(f"{' '.join(argv)!s}: {'; '.join(problems)} :: {lines[:2]}")
    assert not failures, f"seed {SEED}: {len(failures)} failures:\n" + "\n".join(failures)


# ---------------------------------------------------------------- the known cases
def _one_line_2(argv, capsys, *fragments):
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, code, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, (f, err)
    assert not any(s in err for s in ("allow_pickle", "weights_only")), err
    return err


@pytest.mark.parametrize("argv", [
    ["spec", "{f}"], ["csim", "--model", "{f}", "--emit", "e"],
    ["vectors", "image", "--model", "{f}", "--out", "i.img"],
    ["vectors", "gen", "--model", "{f}", "--n", "1", "--out", "v"],
    ["compare", "--model", "{f}", "vec", "vec", "--quiet"],
    ["certify", "--model", "{f}", "--quiet", "--out", "c"],
    ["data", "simulate", "--n", "1", "--out", "d.h5", "--config", "{f}"],
])
def test_spec_or_config_not_utf8(root, capsys, monkeypatch, argv):
    monkeypatch.chdir(root)
    (root / "latin1.json").write_bytes(b'{"name": "caf\xe9"}')
    before = snapshot(root)
    _one_line_2([a.replace("{f}", "latin1.json") for a in argv], capsys, "latin1.json",
                "not UTF-8")
    assert snapshot(root) == before


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", None])
@pytest.mark.parametrize("argv", [
    ["csim", "--model", "specklenn-snl", "--weights", "{z}", "--inputs", "x.npy", "--out", "o"],
    ["vectors", "image", "--weights", "{z}", "--out", "i.img"],
    ["compare", "vec", "vec", "--support", "{z}", "--quiet"],
    ["compare", "vec", "hw:{z}", "--quiet"],
])
def test_empty_truncated_or_pickled_npz(root, capsys, monkeypatch, argv, content):
    monkeypatch.chdir(root)
    z = root / "bad.npz"
    if content is None:  # an object array: numpy would advise allow_pickle=True
        z.write_bytes(_pickle_npz())
    else:
        z.write_bytes(content if content else b"")
    if content == b"PK\x03\x04 truncated":
        z.write_bytes((root / "w.npz").read_bytes()[:300])
    before = snapshot(root)
    _one_line_2([a.replace("{z}", "bad.npz") for a in argv], capsys, "bad.npz")
    assert snapshot(root) == before


def test_empty_npy_inputs(root, capsys, monkeypatch):
    monkeypatch.chdir(root)
    (root / "empty_in.npy").write_bytes(b"")
    _one_line_2(["csim", "--model", "specklenn-snl", "--weights", "w.npz", "--inputs",
                 "empty_in.npy", "--out", "o"], capsys, "empty_in.npy", "is empty")
    _one_line_2(["vectors", "gen", "--n", "1", "--source", "empty_in.npy", "--out", "o"],
                capsys, "empty_in.npy", "is empty")
    _one_line_2(["quantize", "ap_fixed<8,4>", "-i", "empty_in.npy"], capsys, "empty_in.npy")


def test_negative_and_huge_seeds(root, capsys, monkeypatch):
    monkeypatch.chdir(root)
    _one_line_2(["train", "--data", "good.h5", "--out", "m", "--epochs", "1", "--seed", "-1"],
                capsys, "seed must be an integer >= 0, got -1")
    _one_line_2(["vectors", "image", "--weights", "random", "--seed", "-1", "--out", "i.img"],
                capsys, "seed must be an integer >= 0, got -1")
    _one_line_2(["data", "simulate", "--n", "1", "--out", "d.h5", "--seed", str(2**64)],
                capsys, "seed must be an integer >= 0 and <= 9223372036854775807")
    assert not (root / "i.img").exists() and not (root / "m").exists()


def test_simulate_checks_memory_before_allocating(root, capsys, monkeypatch):
    monkeypatch.chdir(root)
    err = _one_line_2(["data", "simulate", "--n", "100000000000", "--out", "big.h5"], capsys,
                      "--n 100000000000 needs about", "GiB", "at most")
    assert "memory" in err or "disk" in err
    assert not (root / "big.h5").exists()


@pytest.mark.parametrize("argv, fragment", [
    (["evaluate", "--model", "model", "--data", "good.h5", "--min-accuracy", "5"],
     "--min-accuracy must be a finite number >= 0 and <= 1, got 5"),
    (["hil", "run", "--backend", "loopback", "--vectors", "vec", "--max-cycles", "-1"],
     "--max-cycles must be an integer >= 1, got -1"),
    (["csim", "--model", "specklenn-snl", "--weights", "w.npz", "--inputs", "hostile/zero.npy",
      "--out", "o"], "holds no frames"),
    (["certify", "--part", "xcku15-flvb2104-2-e", "--quiet", "--out", "c"], "xcku115"),
    (["hls", "certify", "csynth.xml", "--part", "xczu7e"], "xczu7ev"),
    (["hls", "tcl", "--top", "f", "--src", "src.cpp", "--out", "p", "--part", "xc7z02"],
     "xc7z020"),
])
def test_wrong_exit_codes_fixed(root, corpus, capsys, monkeypatch, argv, fragment):
    monkeypatch.chdir(root)
    before = snapshot(root)
    _one_line_2(argv, capsys, fragment)
    assert snapshot(root) == before


def test_image_with_bad_hdf5_path_writes_no_image(root, capsys, monkeypatch):
    monkeypatch.chdir(root)
    _one_line_2(["vectors", "image", "--weights", "w.npz", "--out", "fresh.img", "--hdf5",
                 "missing/dir/x.h5"], capsys, "missing/dir")
    assert not (root / "fresh.img").exists()


def test_simulate_never_overwrites_without_force(root, capsys, monkeypatch):
    monkeypatch.chdir(root)
    before = (root / "good.h5").read_bytes()
    _one_line_2(["data", "simulate", "--n", "2", "--out", "good.h5", "--no-progress"], capsys,
                "pass --force")
    assert (root / "good.h5").read_bytes() == before


def test_info_never_claims_an_unverified_checksum(root, tmp_path, capsys):
    import h5py

    f = tmp_path / "nosum.h5"
    shutil.copy(root / "good.h5", f)
    with h5py.File(f, "a") as h:
        del h.attrs["frames_sha256"], h.attrs["labels_sha256"]
    capsys.readouterr()
    assert main(["data", "info", str(f), "--json"]) == 0
    info = json_load(capsys.readouterr().out)
    assert info["checksum"].startswith("not verified") and info["verified"] == []
    assert main(["data", "info", str(root / "good.h5"), "--json"]) == 0
    info = json_load(capsys.readouterr().out)
    assert info["checksum"] == "ok" and info["verified"] == ["frames_sha256", "labels_sha256"]


def json_load(text):
    import json

    return json.loads(text)


def test_nan_frames_in_csim_follow_the_vectors_gen_rule(root):
    """NaN/inf frames are quantized by the headers' rules and counted in one warning."""
    from fixsim.cli.csim_cmd import _load_inputs
    from fixsim.fixed import FixsimWarning
    from fixsim.network.spec import load_spec
    from fixsim.vectors.sources import warn_specials

    x = np.zeros((3, 1, 65, 65), np.float32)
    x[0, 0, 0, :2] = np.nan
    x[2, 0, 1, 1] = np.inf
    with pytest.warns(FixsimWarning, match=r"2 NaN and 1 inf values in 2 frame"):
        _load_inputs(load_spec("specklenn-snl"), _save(root / "nan.npy", x), None)
    with pytest.warns(FixsimWarning, match=r"2 NaN and 1 inf values in 2 frame"):
        warn_specials(x, "source")


def _save(path, arr):
    np.save(path, arr)
    return str(path)


def test_vectors_gen_accepts_nan_frames_with_a_warning(root, capsys, monkeypatch):
    from fixsim.vectors.vectorset import load_vector_set

    monkeypatch.chdir(root)
    x = np.zeros((2, 1, 65, 65), np.float32)
    x[1, 0, 3, 3] = -np.inf
    np.save(root / "inf.npy", x)
    capsys.readouterr()
    assert main(["vectors", "gen", "--n", "2", "--source", "inf.npy", "--weights", "w.npz",
                 "--out", "infset"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "1 inf values in 1 frame" in err
    vs = load_vector_set(root / "infset")
    assert vs.inputs[1, 0, 3, 3] == load_spec_min()
    shutil.rmtree(root / "infset")


def load_spec_min():
    from fixsim.network.spec import load_spec

    return load_spec("specklenn-snl").input_format.raw_min


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="running as root: directory permissions do not stop writes")
def test_read_only_directory(root, capsys, monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    monkeypatch.chdir(root)
    try:
        for argv in (["data", "simulate", "--n", "1", "--out", str(ro / "d.h5")],
                     ["spec", "spec.json", "--canonical", "--out", str(ro / "s.json")],
                     ["vectors", "image", "--weights", "w.npz", "--out", str(ro / "i.img")],
                     ["csim", "--model", "spec.json", "--emit", str(ro / "e")]):
            _one_line_2(argv, capsys, str(ro))
            assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)
