"""``fixsim sweep``: same tables on every executor, resume after a kill, bad arguments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fixsim.cli.main import main
from fixsim.study.executors import THROTTLE_ENV, PointCache

GRID = ["--widths", "5:8", "--modes", "base", "TRN,WRAP"]


def _sweep(tiny, out, *extra):
    return main(["sweep", str(tiny / "model"), "--data", str(tiny / "data.npz"), "--out",
                 str(out), "--no-progress", "--json", *GRID, *extra])


def test_tables_identical_on_every_executor(tiny, tmp_path, capsys):
    assert _sweep(tiny, tmp_path / "inproc", "--no-plot") in (0, 1)
    summary = json.loads(capsys.readouterr().out)
    assert summary["points"] == 9 and summary["computed"] == 9 and summary["cached"] == 0
    pytest.importorskip("distributed", reason="Dask is the optional extra 'cluster'")
    assert _sweep(tiny, tmp_path / "pool", "--workers", "2", "--no-plot") in (0, 1)
    assert _sweep(tiny, tmp_path / "dask", "--dask-local", "2") in (0, 1)
    for name in ("sweep.json", "sweep.csv"):
        ref = (tmp_path / "inproc" / name).read_bytes()
        assert (tmp_path / "pool" / name).read_bytes() == ref, name
        assert (tmp_path / "dask" / name).read_bytes() == ref, name
    doc = json.loads(ref if name == "sweep.json" else (tmp_path / "dask" / "sweep.json")
                     .read_bytes())
    assert doc["rows"] and all(r["float_accuracy"] == 1.0 for r in doc["rows"])
    narrow = [r for r in doc["rows"] if r["width"] == 5]
    assert min(r["accuracy"] for r in narrow) < 1.0  # 5 bits lose decisions: not a constant
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["executor"] == "Dask LocalCluster of 2 workers"
    assert set(manifest["files"]) >= {"sweep.json", "sweep.csv", "pareto.png", "widths.png"}


def _start(tiny, out, cache):
    env = {**os.environ, THROTTLE_ENV: "0.4"}
    cmd = [sys.executable, "-m", "fixsim.cli.main", "sweep", str(tiny / "model"), "--data",
           str(tiny / "data.npz"), "--out", str(out), "--cache", str(cache), "--no-progress",
           "--no-plot", "--widths", "4:16", "--modes", "base", "TRN,WRAP"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_after(proc, cache: PointCache, n: int, sig) -> None:
    deadline = time.monotonic() + 300
    while len(cache.keys()) < n and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    proc.send_signal(sig)
    proc.communicate(timeout=120)


def test_killed_sweep_resumes_without_recomputing(tiny, tmp_path, capsys):
    cache_dir = tmp_path / "cache"
    cache = PointCache(cache_dir)
    proc = _start(tiny, tmp_path / "out", cache_dir)
    _kill_after(proc, cache, 3, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM
    proc = _start(tiny, tmp_path / "out", cache_dir)
    _kill_after(proc, cache, len(cache.keys()) + 2, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    done = {k: cache.path(k).stat().st_mtime_ns for k in cache.keys()}
    total = 13 * 2  # widths 4..16 x two mode sets; width 16 with base modes is the base
    assert 5 <= len(done) < total
    assert not (tmp_path / "out" / "sweep.csv").exists()
    rc = main(["sweep", str(tiny / "model"), "--data", str(tiny / "data.npz"), "--out",
               str(tmp_path / "out"), "--cache", str(cache_dir), "--no-progress", "--no-plot",
               "--json", "--widths", "4:16", "--modes", "base", "TRN,WRAP"])
    summary = json.loads(capsys.readouterr().out)
    assert rc in (0, 1)
    assert summary["cached"] == len(done) and summary["computed"] == total - len(done)
    assert {k: cache.path(k).stat().st_mtime_ns for k in done} == done  # not rewritten
    assert len(cache.keys()) == total
    # an uninterrupted sweep from an empty cache writes the same table
    assert main(["sweep", str(tiny / "model"), "--data", str(tiny / "data.npz"), "--out",
                 str(tmp_path / "fresh"), "--no-progress", "--no-plot", "--widths", "4:16",
                 "--modes", "base", "TRN,WRAP"]) == rc
    for name in ("sweep.json", "sweep.csv"):
        assert (tmp_path / "fresh" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()


def test_cheapest_spec_loads_and_meets_the_targets(tiny, tmp_path, capsys):
    from fixsim.network import load_spec

    rc = _sweep(tiny, tmp_path / "o", "--no-plot", "--search", "--min-accuracy", "0.95")
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["best"]["accuracy"] >= 0.95
    spec = load_spec(str(tmp_path / "o" / "cheapest_spec.json"))
    doc = json.loads((tmp_path / "o" / "sweep.json").read_text())
    best = [r for r in doc["rows"] if r["key"] == doc["best"]["key"]][0]
    assert {str(l.formats.weight) for l in spec.mac_layers} == \
        {best["formats"]["conv1.weight"], best["formats"]["fc1.weight"]}
    assert doc["minimal_widths"] and set(doc["minimal_widths"]) == set(best["formats"])
    assert all(r["meets"] for r in doc["rows"] if r["key"] == doc["best"]["key"])
    assert best["weight_bits"] <= min(r["weight_bits"] for r in doc["rows"] if r["meets"]
                                      and r["dsp"] == best["dsp"])
    # the chosen spec is a spec the rest of fixsim takes
    assert main(["vectors", "gen", "--model", str(tmp_path / "o" / "cheapest_spec.json"),
                 "--n", "2", "--source", str(tiny / "frames.npy"), "--weights", "random",
                 "--out", str(tmp_path / "vg")]) == 0


@pytest.mark.parametrize("args, message", [
    (["--widths", "9:4"], "--widths '9:4' is empty: nothing to sweep"),
    (["--widths", "60:70"], "--widths '60:70': 65 is outside 1..64"),
    (["--widths", "8", "--layer", "conv9.accum=ap_fixed<20,8>"],
     "--layer 'conv9.accum': spec 'tiny' has no layer 'conv9' (did you mean 'conv1'?)"),
    ([], "empty grid: give --widths"),
    (["--widths", "8", "--data-unlabelled"], "the data has no labels, but accuracy is asked"),
    (["--widths", "8", "--modes", "RND,SATT"], "unknown overflow mode"),
    (["--widths", "8", "--scheduler", "localhost:1"], "expected tcp://HOST:PORT"),
])
def test_bad_arguments_one_line_exit_2(tiny, tmp_path, capsys, args, message):
    data = tiny / "data.npz"
    if "--data-unlabelled" in args:
        args = [a for a in args if a != "--data-unlabelled"]
        data = tiny / "frames.npy"
    rc = main(["sweep", str(tiny / "model"), "--data", str(data), "--out", str(tmp_path / "o"),
               "--no-progress", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
