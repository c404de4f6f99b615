"""SIGTERM behaves like Ctrl-C: exit 143, no temporary left, the previous output intact.

Each test starts a real ``fixsim`` process (signals need one), waits until the command is
in its long phase (its temporary file or directory has appeared, or for ``certify`` its
first progress line), sends SIGTERM and checks what is left.  No timing is asserted: the
waits only bound how long a broken command can hang the suite.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

REPO = Path(__file__).resolve().parents[2]
CMD = [sys.executable, "-c",
       "import sys; from fixsim.cli.main import main; sys.exit(main(sys.argv[1:]))"]
#: Seconds a command may take to reach its long phase (a cold g++ build is the worst).
REACH = 600


def tree_digest(path: Path) -> dict:
    """Relative name -> sha256 of every file under ``path`` (or of ``path`` itself)."""
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def terminate(argv, cwd: Path, watch: Path, *, stderr_line: str | None = None):
    """Run ``fixsim ARGV``; SIGTERM it once a new dot-entry appears in ``watch`` (or,
    with ``stderr_line``, once stderr shows that text).  Returns (code, stderr)."""
    before = set(os.listdir(watch))
    proc = subprocess.Popen(CMD + list(map(str, argv)), cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + REACH
    while proc.poll() is None and time.monotonic() < deadline:
        if stderr_line is not None:
            if any(stderr_line in line for line in lines):
                break
        elif any(n.startswith(".") for n in set(os.listdir(watch)) - before):
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        reader.join(5)
        pytest.fail(f"fixsim {' '.join(map(str, argv))} ended (exit {proc.returncode}) before "
                    f"it could be terminated: {''.join(lines)[-500:]}")
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=REACH)
    reader.join(10)
    return code, "".join(lines)


def check_terminated(code, err, watch: Path, before: set, previous: Path, digest: dict):
    assert code == 128 + signal.SIGTERM, err[-800:]
    assert "Traceback" not in err, err[-2000:]
    assert err.strip().splitlines()[-1].endswith("terminated"), err[-500:]
    assert set(os.listdir(watch)) == before, "temporaries left behind"
    assert tree_digest(previous) == digest, "the previous output changed"


def run_ok(argv, cwd):
    r = subprocess.run(CMD + list(map(str, argv)), cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-800:]


def test_sigterm_data_simulate(tmp_path):
    run_ok(["data", "simulate", "--n", "4", "--out", "d.h5", "--no-progress"], tmp_path)
    previous = tmp_path / "d.h5"
    digest, before = tree_digest(previous), set(os.listdir(tmp_path))
    code, err = terminate(["data", "simulate", "--n", "100000", "--out", "d.h5", "--force",
                           "--no-progress"], tmp_path, tmp_path)
    check_terminated(code, err, tmp_path, before, previous, digest)


@pytest.fixture()
def raw_frames(tmp_path):
    """1024 raw input frames of specklenn-snl (long enough to be interrupted)."""
    from fixsim.network.spec import load_spec

    spec = load_spec("specklenn-snl")
    rng = np.random.default_rng(5)
    x = rng.integers(spec.input_format.raw_min, spec.input_format.raw_max + 1,
                     size=(1024, *spec.input_shape), dtype=np.int64)
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy"


def test_sigterm_vectors_gen(tmp_path, raw_frames):
    previous = tmp_path / "vs"
    previous.mkdir()
    (previous / "marker").write_text("previous output\n")
    digest, before = tree_digest(previous), set(os.listdir(tmp_path))
    code, err = terminate(["vectors", "gen", "--n", "1024", "--source", raw_frames, "--weights",
                           "random", "--out", "vs", "--force"], tmp_path, tmp_path)
    check_terminated(code, err, tmp_path, before, previous, digest)


def test_sigterm_csim(tmp_path, raw_frames, need_gxx):
    from fixsim.network.spec import load_spec
    from fixsim.network.weights import random_weights

    np.savez(tmp_path / "w.npz", **random_weights(load_spec("specklenn-snl"), seed=1))
    previous = tmp_path / "taps"
    previous.mkdir()
    (previous / "marker").write_text("previous output\n")
    digest, before = tree_digest(previous), set(os.listdir(tmp_path))
    code, err = terminate(["csim", "--model", "specklenn-snl", "--weights", "w.npz", "--inputs",
                           raw_frames, "--out", "taps", "--force"], tmp_path, tmp_path)
    check_terminated(code, err, tmp_path, before, previous, digest)


def test_sigterm_certify(tmp_path):
    if not (REPO / "golden" / "model.json").is_file():
        pytest.skip("no golden model in this checkout (python tools/make_golden.py)")
    previous = tmp_path / "cert"
    previous.mkdir()
    (previous / "certificate.json").write_text("previous certificate\n")
    digest, before = tree_digest(previous), set(os.listdir(tmp_path))
    code, err = terminate(["certify", "--out", "cert", "--force", "--n-eval", "400"], tmp_path,
                          tmp_path, stderr_line="simulating")
    check_terminated(code, err, tmp_path, before, previous, digest)
