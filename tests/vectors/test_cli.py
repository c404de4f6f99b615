"""``fixsim vectors``: gen/verify/show/image, exit codes, one-line errors, fuzzed manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixsim.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "vectors" / "specklenn-snl-default"


def cli(capsys, *argv):
    rc = main(["vectors", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_gen_verify_show(capsys, tmp_path):
    out = tmp_path / "v"
    rc, text, err = cli(capsys, "gen", "--n", "2", "--seed", "3", "--weights", "random",
                        "--out", str(out), "--json")
    assert rc == 0, err
    man = json.loads(text)
    assert man["n"] == 2 and man["command"].endswith("--seed 3 --weights random")
    rc, text, _ = cli(capsys, "verify", str(out), "--json")
    assert rc == 0 and json.loads(text)["verdict"] == "pass"
    rc, text, _ = cli(capsys, "show", str(out))
    assert rc == 0 and "tap_fc2.bin" in text and "random" in text
    rc, _, err = cli(capsys, "gen", "--n", "3", "--seed", "3", "--out", str(out))
    assert rc == 2 and "--force" in err and len(err.strip().splitlines()) == 1


def test_verify_detects_wrong_expected_outputs(capsys, tmp_path, tiny_set):
    import hashlib

    d = tmp_path / "w"
    shutil.copytree(tiny_set, d)
    man = json.loads((d / "manifest.json").read_text())
    tap = np.fromfile(d / "tap_fc1.bin", man["taps"][6]["dtype"])  # taps: input, conv1, ..., fc1
    tap[57] += 1
    tap.tofile(d / "tap_fc1.bin")
    man["files"]["tap_fc1.bin"] = hashlib.sha256((d / "tap_fc1.bin").read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(man))
    rc, text, _ = cli(capsys, "verify", str(d))
    assert rc == 1 and "fc1        MISMATCH (1 samples differ; first: sample 0 index 57" in text
    assert "fc2        OK" in text


def test_default_set_verifies_and_runs_through_hil_loopback(capsys):
    if not DEFAULT.is_dir():
        pytest.skip("vectors/specklenn-snl-default not generated")
    rc, _, err = cli(capsys, "verify", str(DEFAULT))
    assert rc == 0, err
    rc = main(["hil", "run", "--backend", "loopback", "--vectors", str(DEFAULT), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "pass" and doc["n_ok"] == 16 and "weights.img" in doc["sha256"]


def test_image_command_and_hdf5(capsys, tmp_path):
    from fixsim.vectors.weight_image import read_image
    from fixsim.vectors.weight_io import import_hdf5

    img, h5 = tmp_path / "w.img", tmp_path / "w.h5"
    rc, text, err = cli(capsys, "image", "--weights", "random", "--seed", "4", "--out", str(img),
                        "--hdf5", str(h5), "--json")
    assert rc == 0, err
    doc = json.loads(text)
    assert doc["word_bits"] == 16 and len(doc["tensors"]) == 8
    w = read_image(img, "specklenn-snl").weights
    back = import_hdf5(h5, "specklenn-snl")
    assert all(np.array_equal(w[k], back[k]) for k in w)
    # the HDF5 file goes back into an image with the same bytes
    img2 = tmp_path / "w2.img"
    assert cli(capsys, "image", "--weights", str(h5), "--out", str(img2))[0] == 0
    assert img2.read_bytes() == img.read_bytes()


@pytest.mark.parametrize("argv, message", [
    (["gen", "--n", "0", "--out", "x"], "--n must be an integer >= 1, got 0"),
    (["gen", "--n", "2", "--model", "specklenn-snk", "--out", "x"], "specklenn-snl"),
    (["gen", "--n", "2", "--source", "nope.h5", "--out", "x", "--weights", "random"], "neither"),
    (["gen", "--n", "2", "--weights", "nope.npz", "--out", "x"], "does not exist"),
    (["verify", "/nonexistent"], "not a directory"),
    (["show", "/nonexistent"], "not a directory"),
])
def test_bad_input_exit_2_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    rc, _, err = cli(capsys, *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=12),
                    st.sampled_from(["/etc/passwd", "../inputs.bin", "..", "tap_fc2.bin",
                                     "weights.img", "spec.json", "<i8", "<f4"]),
                    st.lists(st.integers(-1, 70), max_size=5))


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(data=st.data())
def test_fuzzed_manifests_exit_2_and_change_nothing(capsys, tmp_path, tiny_set, data):
    d = tmp_path / "fz"
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(tiny_set, d)
    man = json.loads((d / "manifest.json").read_text())
    paths = sorted(_paths(man), key=str)
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        target = man
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = data.draw(_VALUES)
        except (KeyError, IndexError, TypeError):
            continue
    (d / "manifest.json").write_text(json.dumps(man))
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    rc, _, err = cli(capsys, "verify", str(d))
    assert rc in (0, 2), err  # 0 only when the edit was harmless (e.g. the command text)
    if rc == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(name=st.sampled_from(["weights.img", "inputs.bin", "tap_conv2.bin", "spec.json",
                             "frames_f32.bin", "labels.bin"]),
       cut=st.integers(0, 10**6), flip=st.booleans())
def test_damaged_files_exit_2(capsys, tmp_path, tiny_set, name, cut, flip):
    d = tmp_path / "dm"
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(tiny_set, d)
    data = bytearray((d / name).read_bytes())
    if flip:
        data[cut % len(data)] ^= 0x40
    else:
        data = data[:cut % len(data)]
    (d / name).write_bytes(bytes(data))
    rc, _, err = cli(capsys, "verify", str(d))
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
