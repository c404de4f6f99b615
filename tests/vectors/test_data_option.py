"""``vectors gen --data FRAMES.h5``: a frames file of ``fixsim data import`` as the source."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixsim.cli.main import main


@pytest.fixture
def frames_files(tmp_path):
    """Two imported frames files of the same 3 frames: with and without labels."""
    rng = np.random.default_rng(7)
    raw = rng.poisson(2.0, (3, 130, 130)).astype(np.float32)
    np.save(tmp_path / "raw.npy", raw)
    np.save(tmp_path / "lab.npy", np.array(["no_hit", "single_hit", "multi_hit"]))
    common = ["data", "import", str(tmp_path / "raw.npy"), "--bin", "2", "--standardize",
              "--no-progress"]
    assert main([*common, "-o", str(tmp_path / "lab.h5"), "--labels",
                 str(tmp_path / "lab.npy")]) == 0
    assert main([*common, "-o", str(tmp_path / "nolab.h5")]) == 0
    return tmp_path / "lab.h5", tmp_path / "nolab.h5"


def test_gen_with_data(tmp_path, frames_files, capsys):
    from fixsim.data.frames_file import load_frames
    from fixsim.fixed import quantize
    from fixsim.network import load_spec
    from fixsim.vectors import load_vector_set

    lab, nolab = frames_files
    for name, path in (("a", lab), ("b", nolab)):
        assert main(["vectors", "gen", "--data", str(path), "--weights", "random",
                     "--out", str(tmp_path / name)]) == 0
    a, b = load_vector_set(tmp_path / "a"), load_vector_set(tmp_path / "b")
    ff = load_frames(lab)
    assert a.n == 3  # --n defaults to all frames of the file
    spec = load_spec("specklenn-snl")
    np.testing.assert_array_equal(a.inputs[:, 0], quantize(ff.frames, spec.input_format))
    assert a.labels.tolist() == [2, 0, 1] and b.labels is None
    np.testing.assert_array_equal(a.inputs, b.inputs)
    src = a.manifest["source"]
    assert src["type"] == "frames" and src["labels"] is True and src["frames"] == 3
    assert src["source"]["file"] == "raw.npy" and src["preprocessing"]["bin"] == 2
    assert src["preprocessing"]["standardize"] is True
    assert b.manifest["source"]["labels"] is False
    assert main(["vectors", "verify", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main(["vectors", "gen", "--data", str(lab), "--n", "2", "--weights", "random",
                 "--out", str(tmp_path / "c"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2


@pytest.mark.parametrize("extra, match", [
    (["--source", "simulated"], "not both"),
    (["--n", "4"], "holds 3 frames, fewer than --n 4"),
])
def test_gen_with_data_bad_input(tmp_path, frames_files, capsys, extra, match):
    assert main(["vectors", "gen", "--data", str(frames_files[0]), "--weights", "random",
                 "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_gen_with_data_of_the_wrong_shape(tmp_path, capsys):
    np.save(tmp_path / "raw.npy", np.ones((2, 20, 20), np.float32))
    assert main(["data", "import", str(tmp_path / "raw.npy"), "-o", str(tmp_path / "f.h5")]) == 0
    assert main(["vectors", "gen", "--data", str(tmp_path / "f.h5"), "--weights", "random",
                 "--out", str(tmp_path / "o")]) == 2
    assert "expected (N, 1, 65, 65)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
