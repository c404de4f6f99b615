"""``fixsim data``: exit codes, outputs, nothing half-written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.data import load_dataset


def run(*argv):
    """Exit code of ``fixsim data ARGV`` (argparse usage errors exit through SystemExit)."""
    try:
        return main(["data", *map(str, argv)])
    except SystemExit as exc:
        return exc.code


def test_simulate_and_info(tmp_path, capsys):
    out = tmp_path / "d.h5"
    assert run("simulate", "--n", 8, "--out", out, "--seed", 3, "--no-progress") == 0
    frames, labels, names, meta = load_dataset(out)
    assert frames.shape == (8, 65, 65) and meta["seed"] == 3
    capsys.readouterr()
    assert run("info", out, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == [8, 65, 65] and info["checksum"] == "ok"
    assert sum(info["class_counts"].values()) == 8
    assert run("info", out) == 0
    assert "frames_sha256" in capsys.readouterr().out


def test_simulate_with_config_and_classes(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"beam": {"energy_kev": 1.7}}))
    out = tmp_path / "d.h5"
    assert run("simulate", "--n", 4, "--out", out, "--config", cfg,
               "--classes", "single_hit,no_hit", "--no-progress", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["counts"]) == {"single_hit", "no_hit"}
    _, labels, _, meta = load_dataset(out)
    assert set(labels.tolist()) <= {0, 2} and meta["config"]["beam"]["energy_kev"] == 1.7


@pytest.mark.parametrize("args", [
    ["--n", "0"], ["--n", "-4"], ["--n", "ten"], ["--n", "3", "--seed", "-1"],
    ["--n", "3", "--classes", "single"], ["--n", "3", "--workers", "0"],
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, args, capsys):
    out = tmp_path / "d.h5"
    assert run("simulate", *args, "--out", out, "--no-progress") == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_exit_2(tmp_path, capsys):
    assert run("simulate", "--n", 2, "--out", tmp_path / "missing" / "d.h5",
               "--no-progress") == 2
    assert "does not exist" in capsys.readouterr().err
    # a directory in the way: the rename fails, the temporary file is removed
    blocker = tmp_path / "d.h5"
    blocker.mkdir()
    assert run("simulate", "--n", 2, "--out", blocker, "--no-progress") == 2
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"] and blocker.is_dir()


def test_bad_config_files_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"beam": {"energy": 1.6}}')
    assert run("simulate", "--n", 2, "--out", tmp_path / "d.h5", "--config", bad,
               "--no-progress") == 2
    assert "did you mean 'energy_kev'" in capsys.readouterr().err
    assert not (tmp_path / "d.h5").exists()


def test_info_errors_exit_2(tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"junk")
    assert run("info", junk) == 2
    assert run("info", tmp_path / "missing.h5") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2


def test_config_action_writes_default_json(tmp_path, capsys):
    assert run("config") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["detector"]["crop_px"] == 390
    out = tmp_path / "cfg.json"
    assert run("config", "--out", out) == 0
    assert json.loads(out.read_text()) == printed


def test_same_seed_same_bytes_through_the_cli(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    for p in (a, b):
        assert run("simulate", "--n", 5, "--out", p, "--seed", 9, "--no-progress") == 0
    assert a.read_bytes() == b.read_bytes()
    assert np.isfinite(load_dataset(a)[0]).all()
