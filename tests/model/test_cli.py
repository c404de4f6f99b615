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
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
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
