"""Vector sets: determinism, contents, atomic writes, and the manifest checks."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from fixsim.errors import InputError
from fixsim.network import run
from fixsim.vectors import generate_vector_set, load_vector_set
from fixsim.vectors.errors import (ChecksumError, ManifestError, SpecHashMismatch,
                                   UnsafePathError, VectorSetError, VectorShapeError)


def test_contents_match_fixsim_and_the_manifest(tiny_set):
    vs = load_vector_set(tiny_set)
    m = vs.manifest
    assert m["format"] == "fixsim-vectors" and m["version"] == 2 and m["n"] == 3
    assert m["generator"].startswith("fixsim ") and m["seed"] == 7
    assert m["command"] == ("fixsim vectors gen --model specklenn-snl --n 3 --source simulated "
                            "--seed 7 --weights random")
    assert m["source"]["kind"] == "simulated" and m["source"]["data_seed"] == 7
    assert m["weights"]["kind"] == "random" and m["weights"]["seed"] == 7
    assert vs.inputs.dtype == np.int64 and vs.inputs.shape == (3, 1, 65, 65)
    assert vs.frames.dtype == np.float32 and vs.labels.shape == (3,)
    want = run(vs.spec, vs.weights, vs.inputs)
    assert set(vs.taps) == set(want)
    for name in want:
        assert vs.taps[name].dtype == np.int64
        np.testing.assert_array_equal(vs.taps[name], want[name])
    files = {p.name for p in tiny_set.iterdir()} - {"manifest.json"}
    assert set(m["files"]) == files
    for name, digest in m["files"].items():
        assert hashlib.sha256((tiny_set / name).read_bytes()).hexdigest() == digest
    assert json.loads((tiny_set / "spec.json").read_text())["name"] == "specklenn-snl"


def test_same_arguments_same_bytes_and_identical_rewrite(tmp_path, tiny_set):
    out = tmp_path / "again"
    generate_vector_set(out, n=3, seed=7, weights="random")
    for p in tiny_set.iterdir():
        assert (out / p.name).read_bytes() == p.read_bytes(), p.name
    before = (out / "manifest.json").stat().st_mtime_ns
    generate_vector_set(out, n=3, seed=7, weights="random")  # identical: left alone
    assert (out / "manifest.json").stat().st_mtime_ns == before


def test_existing_different_set_needs_force_and_errors_leave_nothing(tmp_path, tiny_set, monkeypatch):
    out = tmp_path / "set"
    shutil.copytree(tiny_set, out)
    snapshot = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(InputError, match="--force"):
        generate_vector_set(out, n=2, seed=1, weights="random")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == snapshot

    import fixsim.network.engine as engine

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(engine, "run", boom)
    with pytest.raises(RuntimeError):
        generate_vector_set(out, n=2, seed=1, weights="random", force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # no temp dirs left
    monkeypatch.undo()
    vs = generate_vector_set(out, n=2, seed=1, weights="random", force=True)
    assert vs.n == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_file_sources(tmp_path, snl_spec, tiny_set):
    from fixsim.data import write_dataset

    ds = tmp_path / "d.h5"
    write_dataset(ds, 4, seed=7)
    vs = generate_vector_set(tmp_path / "a", n=3, source=ds, seed=7, weights="random")
    assert vs.manifest["source"]["kind"] == "file" and vs.manifest["source"]["type"] == "dataset"
    ref = load_vector_set(tiny_set)
    np.testing.assert_array_equal(vs.inputs, ref.inputs)  # same frames as simulate(n, 7)
    np.testing.assert_array_equal(vs.labels, ref.labels)
    npy = tmp_path / "x.npy"
    np.save(npy, ref.inputs[:, 0])  # raw integers, (N, H, W)
    vs = generate_vector_set(tmp_path / "b", n=2, source=npy, seed=0, weights="random")
    assert vs.frames is None and vs.labels is None
    np.testing.assert_array_equal(vs.inputs, ref.inputs[:2])
    with pytest.raises(InputError, match="fewer than --n"):
        generate_vector_set(tmp_path / "c", n=9, source=npy, weights="random")
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(InputError, match="unknown file type"):
        generate_vector_set(tmp_path / "c", n=1, source=tmp_path / "d.txt", weights="random")
    assert not (tmp_path / "c").exists()


def _edit(src, dst, fn):
    shutil.copytree(src, dst)
    man = json.loads((dst / "manifest.json").read_text())
    fn(man, dst)
    (dst / "manifest.json").write_text(json.dumps(man))
    return dst


@pytest.mark.parametrize("edit, error, message", [
    (lambda m, d: m["input"].update(file="/etc/passwd"), UnsafePathError, "plain file name"),
    (lambda m, d: m["taps"][1].update(file="../tap_conv1.bin"), UnsafePathError, "plain file name"),
    (lambda m, d: m["files"].update({"../x": "0" * 64}), UnsafePathError, "plain file name"),
    (lambda m, d: m.update(format="other"), ManifestError, "not a fixsim-vectors"),
    (lambda m, d: m.update(version=3), ManifestError, "version 3"),
    (lambda m, d: m.update(version=True), ManifestError, "version True"),
    (lambda m, d: m["taps"][3].update(dtype="<i8"), VectorShapeError, "dtype"),
    (lambda m, d: m.pop("taps"), ManifestError, "lacks 'taps'"),
    (lambda m, d: m["taps"][2].update(shape=[3, 7, 31, 30]), VectorShapeError, "shape"),
    (lambda m, d: m["taps"][2].update(format="ap_fixed<8,3>"), VectorShapeError, "format"),
    (lambda m, d: m["model"].update(spec_sha256="ab" * 32), SpecHashMismatch, "manifest says"),
    (lambda m, d: (d / "tap_fc1.bin").unlink(), VectorSetError, "missing"),
    (lambda m, d: (d / "tap_fc2.bin").write_bytes(b"\0" * 8), ChecksumError, "tap_fc2.bin"),
    (lambda m, d: m.update(n=4), VectorShapeError, "shape"),
])
def test_malformed_sets_give_specific_errors(tmp_path, tiny_set, edit, error, message):
    d = _edit(tiny_set, tmp_path / "bad", edit)
    with pytest.raises(error, match=message) as info:
        load_vector_set(d)
    assert "\n" not in str(info.value)


def test_symlinked_file_is_refused(tmp_path, tiny_set):
    d = tmp_path / "s"
    shutil.copytree(tiny_set, d)
    outside = tmp_path / "outside.bin"
    outside.write_bytes((d / "tap_fc2.bin").read_bytes())
    (d / "tap_fc2.bin").unlink()
    (d / "tap_fc2.bin").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="symlink"):
        load_vector_set(d)
