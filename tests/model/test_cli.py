"""CLI exit codes of ``fixsim train`` and ``fixsim evaluate`` on bad input."""

import pytest

from fixsim.cli.main import main


@pytest.mark.parametrize("argv", [
    ["train", "--out", "o", "--epochs", "1", "--seed", "0"],               # no --data
    ["train", "--data", "d.h5", "--out", "o", "--epochs", "0", "--seed", "0"],
    ["train", "--data", "d.h5", "--out", "o", "--epochs", "x", "--seed", "0"],
    ["train", "--data", "d.h5", "--out", "o", "--epochs", "1", "--seed", "0", "--lr", "0"],
    ["train", "--data", "d.h5", "--out", "o", "--epochs", "1", "--seed", "0", "--margin", "-1"],
    ["train", "--data", "d.h5", "--out", "o", "--epochs", "1", "--seed", "0", "--margin", "nan"],
    ["evaluate", "--model", "m", "--data", "d.h5", "--rule", "closest"],
    ["evaluate", "--model", "m", "--data", "d.h5", "--support-per-class", "0"],
    ["evaluate", "--data", "d.h5"],
])
def test_bad_arguments_exit_2(argv, capsys):
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors, if main lets them through
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_missing_data_file_exits_2(tmp_path, capsys):
    rc = main(["train", "--data", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "o"),
               "--epochs", "1", "--seed", "0", "--quiet"])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    rc = main(["evaluate", "--model", str(tmp_path), "--data", str(tmp_path / "missing.h5")])
    assert rc == 2


def test_missing_plots_dir_exits_2(tmp_path, capsys):
    rc = main(["evaluate", "--model", str(tmp_path), "--data", str(tmp_path / "d.h5"),
               "--plots", str(tmp_path / "nowhere")])
    assert rc == 2
    assert "plots directory" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory):
    pytest.importorskip("torch", reason="needs the 'model' extra (torch)")
    from fixsim.data import write_dataset

    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    write_dataset(path, 32, seed=5)
    return path


def test_train_then_evaluate_end_to_end(tiny_h5, tmp_path, capsys):
    import json

    out = tmp_path / "model"
    rc = main(["train", "--data", str(tiny_h5), "--out", str(out), "--epochs", "1",
               "--seed", "3", "--batch", "8", "--val-fraction", "0", "--quiet"])
    assert rc == 0
    assert {"model.json", "model_float.pt", "model_folded.pt", "weights_folded.npz"} <= {
        p.name for p in out.iterdir()}
    assert (out / "checkpoints" / "last.pt").is_file()
    info = json.loads((out / "model.json").read_text())
    assert info["train"]["command"].startswith(
        f"fixsim train --data {tiny_h5} --out {out} --epochs 1 --seed 3 --margin 0.2 --lr 0.001")
    assert info["train"]["seed"] == 3 and info["fixsim_version"]
    capsys.readouterr()
    rc = main(["evaluate", "--model", str(out), "--data", str(tiny_h5), "--support-per-class",
               "2", "--rule", "mean", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 32 - 8 and report["rule"] == "mean"
    assert set(report["per_class_accuracy"]) == {"single_hit", "multi_hit", "no_hit",
                                                 "non_sample_hit"}
    assert report["fluence"]["source"] == "fluence_per_a2"
    # an accuracy bar the model misses -> exit 1; a bar outside [0, 1] -> input error
    if report["overall_accuracy"] < 1:
        assert main(["evaluate", "--model", str(out), "--data", str(tiny_h5),
                     "--support-per-class", "2", "--rule", "mean", "--min-accuracy",
                     "1"]) == 1
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out), "--data", str(tiny_h5),
                 "--support-per-class", "2", "--min-accuracy", "5"]) == 2
    assert "--min-accuracy must be a finite number >= 0 and <= 1, got 5" in capsys.readouterr().err
    # too many supports for the data -> a clean input error
    assert main(["evaluate", "--model", str(out), "--data", str(tiny_h5),
                 "--support-per-class", "50"]) == 2
    # re-training into a finished run without --resume -> input error
    assert main(["train", "--data", str(tiny_h5), "--out", str(out), "--epochs", "1",
                 "--seed", "3", "--batch", "8", "--quiet"]) == 2


def test_evaluate_plots(tiny_h5, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="plots need the 'plots' extra (matplotlib)")
    out = tmp_path / "model"
    assert main(["train", "--data", str(tiny_h5), "--out", str(out), "--epochs", "1",
                 "--seed", "0", "--batch", "8", "--no-augment", "--quiet"]) == 0
    plots = tmp_path / "plots"
    plots.mkdir()
    assert main(["evaluate", "--model", str(out), "--data", str(tiny_h5),
                 "--support-per-class", "1", "--plots", str(plots)]) == 0
    for name in ("confusion.png", "accuracy_vs_fluence.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "overall accuracy" in capsys.readouterr().out
