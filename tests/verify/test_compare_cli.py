"""``fixsim compare``: exit codes 0/1/2, text, JSON and plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixsim.cli.main import main


def _tap_copy(tiny_set, dest, flip=None):
    """The set's taps as a tap directory (int64 files), optionally with one value changed."""
    from fixsim.verify.sources import load_source

    vs = load_source(f"vectors:{tiny_set}")
    dest.mkdir()
    for name, arr in vs.taps.items():
        arr = np.array(arr, dtype="<i8")
        if flip is not None and name == flip[0]:
            arr[flip[1]] ^= 1
        arr.tofile(dest / f"tap_{name}.bin")
    return dest


def test_equal_sources_exit_0(tiny_set, capsys):
    assert main(["compare", str(tiny_set), f"fixsim:{tiny_set}", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("EQUAL") and "fixed-fixed: 4 common frames, 8 layers" in out


def test_different_sources_exit_1_and_locate_the_value(tiny_set, tmp_path, capsys):
    d = _tap_copy(tiny_set, tmp_path / "run", flip=("pool1", (2, 3, 10, 11)))
    code = main(["compare", str(tiny_set), f"cosim:{d}", "--model", "specklenn-snl", "--json",
                 "--quiet"])
    assert code == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["status"] == "different"
    first = rep["first_mismatch"]
    assert (first["frame"], first["layer"], first["multi_index"]) == (2, "pool1", [3, 10, 11])
    assert abs(first["diff_lsb"]) == 1
    assert first["expected_hex"].startswith("0x") and len(first["expected_hex"]) == 6
    assert main(["compare", str(tiny_set), f"taps:{d}", "--model", "specklenn-snl",
                 "--layers", "fc1,fc2", "--quiet"]) == 0  # the flip is upstream of these


@pytest.mark.parametrize("argv,match", [
    (["compare", "vectorz:x", "fixsim:x"], "did you mean 'vectors'"),
    (["compare", "/nonexistent/set", "fixsim:/nonexistent/set"], "neither KIND:PATH"),
    (["compare", "vectors:/nonexistent", "fixsim:/nonexistent"], "not a directory"),
    (["compare", "a", "b", "--tolerance-lsb", "-1"], "number >= 0"),
])
def test_bad_input_exit_2_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1


def test_unknown_layer_and_bad_support_exit_2(tiny_set, tmp_path, capsys):
    assert main(["compare", str(tiny_set), str(tiny_set), "--layers", "fc3", "--quiet"]) == 2
    assert "did you mean" in capsys.readouterr().err
    bad = tmp_path / "support.npz"
    np.savez(bad, embeddings=np.zeros((3, 50)))
    assert main(["compare", str(tiny_set), str(tiny_set), "--support", str(bad), "--quiet"]) == 2
    assert "lacks 'labels'" in capsys.readouterr().err


def test_fixed_vs_float_tolerance_and_plots(tiny_set, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (the plots extra)")
    plots = tmp_path / "plots"
    assert main(["compare", str(tiny_set), f"float:{tiny_set}", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "fixed - float" in out and "DIFFERENT (tolerance 0 LSB)" in out
    assert main(["compare", str(tiny_set), f"float:{tiny_set}", "--tolerance-lsb", "64",
                 "--plots", str(plots), "--quiet"]) == 0
    assert "WITHIN TOLERANCE" in capsys.readouterr().out
    for name in ("layers.png", "embedding_l2.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in plots.iterdir() if p.name.startswith(".")]  # no temp files left
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["compare", str(tiny_set), str(tiny_set), "--plots", str(f)]) == 2
