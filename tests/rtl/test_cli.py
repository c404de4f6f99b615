"""``fixsim csim``: taps on disk, --compare, --emit, exit codes, atomic output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.network import load_spec
from fixsim.network.weights import random_float_weights, random_weights

from .test_specklenn import standardized_frames


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("csim_cli")
    spec = load_spec("specklenn-snl")
    np.savez(d / "w.npz", **random_weights(spec, seed=4))
    np.savez(d / "wf.npz", **random_float_weights(spec, seed=4))
    np.save(d / "x.npy", standardized_frames(5, seed=1)[:, 0])  # (N, H, W) frames
    return d


def _run(*argv):
    return main(["csim", *map(str, argv)])


def test_run_writes_taps_and_compares(snl_bench, files, capsys):
    out = files / "out"
    assert _run("--model", "specklenn-snl", "--weights", files / "w.npz", "--inputs",
                files / "x.npy", "--out", out, "--n", 3, "--compare", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 3 and not any(summary["mismatches"].values())
    meta = json.loads((out / "meta.json").read_text())
    assert meta["generator"].startswith("fixsim ") and meta["n"] == 3
    assert set(meta["tap_sha256"]) == {f"tap_{n}.bin" for n in meta["taps"]}
    fc2 = np.fromfile(out / "tap_fc2.bin", dtype="<i8").reshape(3, 50)
    assert fc2.any()
    assert sorted(p.name for p in out.iterdir()) == sorted(["meta.json", *meta["tap_sha256"]])


def test_float_weights_are_quantized(snl_bench, files, capsys):
    assert _run("--model", "specklenn-snl", "--weights", files / "wf.npz", "--inputs",
                files / "x.npy", "--out", files / "outf", "--n", 1, "--compare") == 0
    assert "equal at every layer" in capsys.readouterr().out


def test_mismatch_exits_1(snl_bench, files, monkeypatch, capsys):
    import fixsim.network.engine as engine

    real = engine.run

    def off_by_one(*args, **kwargs):
        taps = real(*args, **kwargs)
        taps["fc1"] = taps["fc1"] + 1
        return taps

    monkeypatch.setattr(engine, "run", off_by_one)
    assert _run("--model", "specklenn-snl", "--weights", files / "w.npz", "--inputs",
                files / "x.npy", "--out", files / "outm", "--n", 1, "--compare") == 1
    assert "MISMATCH fc1" in capsys.readouterr().out


@pytest.mark.parametrize("change, message", [
    ({"--model": "specklenn-snk"}, "did you mean"),
    ({"--weights": "x.npy"}, "weights"),
    ({"--inputs": "w.npz"}, "inputs"),
    ({"--n": "0"}, "--n"),
    ({"--n": "99"}, "larger"),
    ({"--weights": None}, "--weights"),
])
def test_bad_input_exits_2_and_leaves_out_untouched(files, capsys, change, message):
    out = files / "kept"
    out.mkdir(exist_ok=True)
    (out / "marker").write_text("old")
    args = {"--model": "specklenn-snl", "--weights": "w.npz", "--inputs": "x.npy", "--out": str(out),
            "--n": "2"}
    args.update(change)
    argv = []
    for k, v in args.items():
        if v is not None:
            argv += [k, str(files / v) if k in ("--weights", "--inputs") else v]
    assert _run(*argv, "--force") == 2  # --force: replacing is allowed, bad input is not
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (out / "marker").read_text() == "old"


def test_wrong_weight_shape_exits_2(files, capsys):
    spec = load_spec("specklenn-snl")
    w = random_weights(spec, seed=4)
    w["fc2.weight"] = w["fc2.weight"][:10]
    np.savez(files / "bad.npz", **w)
    assert _run("--model", "specklenn-snl", "--weights", files / "bad.npz", "--inputs",
                files / "x.npy", "--out", files / "outb") == 2
    assert "fc2.weight" in capsys.readouterr().err
    assert not (files / "outb").exists()


def test_emit_writes_a_complete_source_set(files, capsys):
    out = files / "hls"
    assert _run("--model", "specklenn-snl", "--emit", out) == 0
    names = {p.name for p in out.iterdir()}
    assert {"specklenn_snl_top.cpp", "specklenn_snl_config.h", "fixsim_conv2d.h", "tb_main.cpp",
            "fixsim_networks.h"} <= names
