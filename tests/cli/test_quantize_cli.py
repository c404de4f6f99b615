"""``fixsim quantize`` end to end: outputs, files, and exit codes."""

import json
import subprocess
import sys

import numpy as np
import pytest

from fixsim.cli.main import main


def test_quantize_decimal_and_hex(capsys):
    assert main(["quantize", "ap_fixed<16,6,AP_RND,AP_SAT>", "0.1", "-2.5", "100"]) == 0
    out, err = capsys.readouterr()
    assert out.split() == ["102", "-2560", "32767"]
    assert "1 out of range" in err
    assert main(["quantize", "ap_fixed<16,6,AP_RND,AP_SAT>", "--hex", "0.1", "-2.5"]) == 0
    assert capsys.readouterr().out.split() == ["0x0066", "0xf600"]


def test_quantize_json_and_float32(capsys):
    assert main(["quantize", "ap_fixed<32,4>", "0.1", "--float32", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["raw"] == [26843546] and doc["format"] == "ap_fixed<32,4>"


def test_quantize_files(tmp_path, capsys):
    src = tmp_path / "w.npy"
    np.save(src, np.array([[0.5, -0.25], [1.0, 2.0]]))
    out = tmp_path / "raw.npy"
    assert main(["quantize", "ap_fixed<8,4>", "--input", str(src), "--output", str(out)]) == 0
    assert np.load(out).tolist() == [[8, -4], [16, 32]]
    txt = tmp_path / "in.txt"
    txt.write_text("0.5, -0.25\n1.0\n")
    assert main(["quantize", "fixed<8,4>", "-i", str(txt), "-o", str(tmp_path / "o.txt")]) == 0
    assert (tmp_path / "o.txt").read_text().split() == ["8", "-4", "16"]


def test_quantize_hls4ml_text_rounding(capsys):
    """--hls4ml: printed with F decimals ('0.1562', ties to even), read back, constructed."""
    fmt = "ap_fixed<8,4,AP_RND,AP_SAT>"
    assert main(["quantize", fmt, "0.15625", "-0.15625", "--hls4ml"]) == 0
    assert capsys.readouterr().out.split() == ["2", "-2"]
    assert main(["quantize", fmt, "0.15625", "-0.15625"]) == 0
    assert capsys.readouterr().out.split() == ["3", "-2"]
    assert main(["quantize", fmt, "0.15625", "--hls4ml", "--decimals", "5"]) == 0
    assert capsys.readouterr().out.split() == ["3"]


@pytest.mark.parametrize("argv, fragment", [
    (["quantize", "ap_fixed<8,4>", "1", "--decimals", "3"], "--hls4ml"),
    (["quantize", "ap_fixed<8,4>", "1", "--hls4ml", "--decimals", "-1"], "decimals"),
    (["quantize", "ap_fixed<0,4>", "1"], "W=0"),
    (["quantize", "ap_fixed<8,4,AP_RNDD>", "1"], "did you mean"),
    (["quantize", "ap_fixed<8,4>", "abc"], "not a number"),
    (["quantize", "ap_fixed<8,4>"], "no numbers given"),
    (["quantize", "ap_fixed<8,4>", "-i", "/nonexistent/x.txt"], "not found"),
    (["quantize", "ap_fixed<8,4>", "1", "-o", "/nonexistent/dir/x.npy"], "does not exist"),
])
def test_bad_input_exit_2_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1


def test_existing_output_untouched_on_error(tmp_path):
    out = tmp_path / "keep.txt"
    out.write_text("precious\n")
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an npy file")
    assert main(["quantize", "ap_fixed<8,4>", "-i", str(bad), "-o", str(out)]) == 2
    assert out.read_text() == "precious\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".keep")]


def test_console_script_help_lists_commands():
    r = subprocess.run([sys.executable, "-m", "fixsim.cli.main", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "quantize" in r.stdout
    r = subprocess.run([sys.executable, "-m", "fixsim.cli.main", "quantize", "ap_fixed<8,4>", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_outputs_get_umask_permissions(tmp_path):
    import os
    import stat
    out = tmp_path / "r.txt"
    assert main(["quantize", "ap_fixed<8,4>", "1", "-o", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_show_values_prints_plain_numbers(capsys):
    assert main(["quantize", "ap_fixed<16,6,AP_RND,AP_SAT>", "0.1", "--show-values"]) == 0
    assert capsys.readouterr().out.split() == ["102", "0.099609375"]
