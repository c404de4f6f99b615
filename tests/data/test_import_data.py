"""``fixsim data import``: CXI/HDF5/.npy frames into a frames file, checked against an
independent numpy computation of the preprocessing; hostile inputs exit 2 and leave no file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.data import read_cxi
from fixsim.data.frames_file import FORMAT, load_frames

H, W = 402, 396  # not the window size: the crop must really place the window


def _raw(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(3.0, (n, H, W)).astype(np.float32) * rng.uniform(0.5, 2, (n, 1, 1)).astype(
        np.float32)


def _cxi(path, frames, centre_xy=None, extra=None):
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("/entry_1/data_1/data", data=frames)
        if centre_xy is not None:
            f.create_dataset("/entry_1/data_1/image_center", data=[*centre_xy, 0.0])
        for k, v in (extra or {}).items():
            f.create_dataset(k, data=v)
    return path


def _reference(frames, centre, crop, b, valid=None, stdz=True):
    """Independent numpy: window start by rounding, masked/NaN to 0, loops for the bins."""
    frames = np.asarray(frames, np.float64)
    r0 = int(np.floor(centre[0] - (crop - 1) / 2 + 0.5))
    c0 = int(np.floor(centre[1] - (crop - 1) / 2 + 0.5))
    win = frames[:, r0:r0 + crop, c0:c0 + crop].copy()
    if valid is not None:
        win[:, ~valid[r0:r0 + crop, c0:c0 + crop]] = 0
    win[~np.isfinite(win)] = 0
    m = crop // b
    out = np.zeros((len(frames), m, m))
    for i in range(m):
        for j in range(m):
            out[:, i, j] = win[:, i * b:(i + 1) * b, j * b:(j + 1) * b].reshape(len(frames), -1
                                                                               ).mean(axis=1)
    if not stdz:
        return out.astype(np.float32)
    mu = out.mean(axis=(1, 2), keepdims=True)
    sd = out.std(axis=(1, 2), keepdims=True)
    return ((out - mu) / np.where(sd > 0, sd, 1)).astype(np.float32)


def _import(src, out, *opts):
    return main(["data", "import", str(src), "-o", str(out), "--no-progress", *map(str, opts)])


def test_cxi_mask_centre_crop_bin_standardize(tmp_path, capsys):
    raw = _raw()
    raw[2, 150, 160] = np.nan
    raw[3, 200, 201] = np.inf
    mask = np.ones((H, W), np.uint8)
    mask[190:200, 180:260] = 0  # a detector gap
    np.save(tmp_path / "mask.npy", mask)
    src = _cxi(tmp_path / "run.cxi", raw)
    out = tmp_path / "frames.h5"
    code = _import(src, out, "--mask", tmp_path / "mask.npy", "--mask-rect", "0:40,0:396",
                   "--mask-rect", "300:310,100:120", "--center", "203.2,196.7", "--crop", "390",
                   "--bin", "6", "--standardize")
    assert code == 0
    err = capsys.readouterr().err  # one warning line for all non-finite values
    assert err.count("warning:") == 1 and "1 NaN and 1 inf values in 2 frame(s), zeroed" in err
    ff = load_frames(out)
    valid = mask.astype(bool)
    valid[0:40, :] = False
    valid[300:310, 100:120] = False
    expected = _reference(raw, (203.2, 196.7), 390, 6, valid)
    np.testing.assert_array_equal(ff.frames, expected)
    assert ff.frames.shape == (5, 65, 65) and ff.labels is None
    # the same bits as read_cxi (the reader of the existing pipeline) with the same mask
    np.testing.assert_array_equal(ff.frames, read_cxi(src, centre=(203.2, 196.7), mask=valid))
    m = ff.meta
    assert m["format"] == FORMAT and m["has_labels"] is False and m["n"] == 5
    assert m["verified"] == ["frames_sha256"]
    imp = m["import"]
    assert imp["centre"] == [203.2, 196.7] and imp["centre_from"] == "--center"
    assert imp["crop"] == 390 and imp["bin"] == 6 and imp["standardize"] is True
    assert imp["mask"] == "mask.npy" and len(imp["mask_sha256"]) == 64
    assert imp["mask_rects"] == [[0, 40, 0, 396], [300, 310, 100, 120]]
    from fixsim._files import sha256_file

    assert m["source"]["sha256"] == sha256_file(src) and m["fixsim_version"]
    assert m["nonfinite"] == {"nan": 1, "inf": 1, "frames": 2}
    assert "--standardize" in m["command"] and str(tmp_path) not in m["command"]


def test_recorded_centre_and_default_centre(tmp_path):
    raw = _raw(3, seed=1)
    src = _cxi(tmp_path / "run.cxi", raw, centre_xy=(193.0, 204.5))  # x, y
    _import(src, tmp_path / "a.h5", "--crop", "384", "--bin", "4")
    a = load_frames(tmp_path / "a.h5")
    assert a.meta["import"]["centre"] == [204.5, 193.0]
    assert "image_center" in a.meta["import"]["centre_from"]
    np.testing.assert_array_equal(a.frames, _reference(raw, (204.5, 193.0), 384, 4, stdz=False))
    plain = _cxi(tmp_path / "plain.cxi", raw)
    _import(plain, tmp_path / "b.h5", "--crop", "384", "--bin", "4", "--standardize")
    b = load_frames(tmp_path / "b.h5")
    assert b.meta["import"]["centre_from"] == "the frame centre"
    np.testing.assert_array_equal(b.frames, _reference(raw, ((H - 1) / 2, (W - 1) / 2), 384, 4))


def test_npy_and_h5_arrays_without_preprocessing(tmp_path, capsys):
    frames = np.random.default_rng(2).standard_normal((7, 65, 65)).astype(np.float32)
    frames[4, 3, 3] = np.nan
    np.save(tmp_path / "f.npy", frames)
    assert _import(tmp_path / "f.npy", tmp_path / "a.h5") == 0
    assert "kept; quantized as the ap_fixed headers do" in capsys.readouterr().err
    a = load_frames(tmp_path / "a.h5")
    np.testing.assert_array_equal(a.frames, frames)  # NaN kept (no bin, no standardize)
    import h5py

    with h5py.File(tmp_path / "arr.h5", "w") as f:
        f.create_dataset("shots/images", data=(np.nan_to_num(frames) * 10).astype(np.int32))
    assert _import(tmp_path / "arr.h5", tmp_path / "b.h5", "--dataset", "/shots/images",
                   "--standardize") == 0
    b = load_frames(tmp_path / "b.h5")
    x = (np.nan_to_num(frames) * 10).astype(np.int32).astype(np.float64)
    mu, sd = x.mean(axis=(1, 2), keepdims=True), x.std(axis=(1, 2), keepdims=True)
    np.testing.assert_array_equal(b.frames, ((x - mu) / sd).astype(np.float32))
    assert b.meta["source"]["dataset"] == "/shots/images"


@pytest.mark.parametrize("kind", ["npy_names", "npy_ids", "csv_header", "csv_plain", "h5_attr"])
def test_labels(tmp_path, kind):
    import h5py

    frames = np.zeros((4, 8, 8), np.float32)
    np.save(tmp_path / "f.npy", frames)
    names = ["no_hit", "single_hit", "non_sample_hit", "multi_hit"]
    ids = [2, 0, 3, 1]
    if kind == "npy_names":
        lab = tmp_path / "l.npy"
        np.save(lab, np.array(names))
    elif kind == "npy_ids":
        lab = tmp_path / "l.npy"
        np.save(lab, np.array(ids, np.int16))
    elif kind == "csv_header":
        lab = tmp_path / "l.csv"
        lab.write_text("frame,class\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names)))
    elif kind == "csv_plain":
        lab = tmp_path / "l.csv"
        lab.write_text("\n".join(map(str, ids)) + "\n")
    else:
        lab = tmp_path / "l.h5"
        own = ["multi_hit", "no_hit", "single_hit", "non_sample_hit"]  # other ids, same names
        with h5py.File(lab, "w") as f:
            d = f.create_dataset("labels", data=[own.index(n) for n in names])
            d.attrs["class_names"] = own
    assert _import(tmp_path / "f.npy", tmp_path / "o.h5", "--labels", lab) == 0
    ff = load_frames(tmp_path / "o.h5")
    assert ff.labels.tolist() == ids and ff.meta["has_labels"] is True
    assert ff.class_names == ["single_hit", "multi_hit", "no_hit", "non_sample_hit"]
    assert ff.meta["verified"] == ["frames_sha256", "labels_sha256"]


def _hostile_cases(tmp_path):
    import h5py

    raw = _raw(3)
    src = _cxi(tmp_path / "run.cxi", raw, extra={"/entry_1/other": np.zeros((3, 4, 4))})
    np.save(tmp_path / "m_small.npy", np.ones((10, 10), bool))
    np.save(tmp_path / "m_vals.npy", np.full((H, W), 2, np.uint8))
    np.save(tmp_path / "l_short.npy", np.array([0, 1]))
    np.save(tmp_path / "l_bad.npy", np.array(["single_hit", "multi_hitt", "no_hit"]))
    np.save(tmp_path / "l_id.npy", np.array([0, 1, 7]))
    np.save(tmp_path / "f4d.npy", np.zeros((2, 2, 8, 8), np.float32))
    np.save(tmp_path / "strs.npy", np.array(["a", "b"]))
    with h5py.File(tmp_path / "nodata.h5", "w") as f:
        f.create_dataset("/entry_1/weird", data=np.zeros((3, 8, 8)))
    (tmp_path / "junk.cxi").write_bytes(b"not hdf5 at all")
    return {
        "wrong dataset": ([src, "--dataset", "/entry_1/data_1/dat"], "did you mean"),
        "no usual dataset": ([tmp_path / "nodata.h5"], "candidates: /entry_1/weird"),
        "not hdf5": ([tmp_path / "junk.cxi"], "is not an HDF5/CXI file"),
        "4-D frames": ([tmp_path / "f4d.npy"], "expected (N, H, W)"),
        "string frames": ([tmp_path / "strs.npy"], "are not numbers"),
        "mask shape": ([src, "--mask", tmp_path / "m_small.npy"], "has shape (10, 10)"),
        "mask values": ([src, "--mask", tmp_path / "m_vals.npy"], "booleans or 0/1"),
        "rect syntax": ([src, "--mask-rect", "0:10;0:10"], "must be y0:y1,x0:x1"),
        "rect empty": ([src, "--mask-rect", "10:10,0:5"], "is empty"),
        "rect outside": ([src, "--mask-rect", "0:10,0:999"], "outside the 402x396"),
        "centre syntax": ([src, "--center", "12", "--crop", "390"], "must be Y,X"),
        "centre without crop": ([src, "--center", "200,200"], "give --crop too"),
        "crop outside": ([src, "--crop", "390", "--center", "10,10"], "outside the"),
        "crop not multiple": ([src, "--crop", "391", "--bin", "6"], "not a multiple of --bin"),
        "labels count": ([src, "--labels", tmp_path / "l_short.npy"], "2 labels for 3 frames"),
        "labels name": ([src, "--labels", tmp_path / "l_bad.npy"], "unknown class 'multi_hitt'"),
        "labels id": ([src, "--labels", tmp_path / "l_id.npy"], "class id 7 outside 0..3"),
        "missing source": ([tmp_path / "none.cxi"], "does not exist"),
        "bin zero": ([src, "--bin", "0"], "--bin must be"),
    }


CASES = ["wrong dataset", "no usual dataset", "not hdf5", "4-D frames", "string frames",
         "mask shape", "mask values", "rect syntax", "rect empty", "rect outside",
         "centre syntax", "centre without crop", "crop outside", "crop not multiple",
         "labels count", "labels name", "labels id", "missing source", "bin zero"]


@pytest.mark.parametrize("case", CASES)
def test_hostile_inputs_one_line_exit_2_no_file(tmp_path, capsys, case):
    args, match = _hostile_cases(tmp_path)[case]
    capsys.readouterr()
    out = tmp_path / "out" / "frames.h5"
    out.parent.mkdir()
    assert _import(args[0], out, *args[1:]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err and "Traceback" not in err, err
    assert not any(out.parent.iterdir())


def test_existing_output_needs_force(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.zeros((2, 4, 4), np.float32))
    out = tmp_path / "o.h5"
    out.write_bytes(b"keep")
    assert _import(tmp_path / "f.npy", out) == 2
    assert out.read_bytes() == b"keep" and "--force" in capsys.readouterr().err
    assert _import(tmp_path / "f.npy", out, "--force") == 0
    assert load_frames(out).n == 2


def test_interrupt_leaves_no_partial_file(tmp_path):
    from fixsim.data.importer import import_frames

    np.save(tmp_path / "f.npy", np.zeros((10, 4, 4), np.float32))

    def stop(k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_frames(tmp_path / "f.npy", tmp_path / "o.h5", progress=stop, chunk=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npy"]


def test_chunking_does_not_change_the_bits(tmp_path):
    from fixsim.data.importer import ImportOptions, import_frames

    src = _cxi(tmp_path / "run.cxi", _raw(7, seed=3))
    opts = ImportOptions(crop=390, bin=6, standardize=True)
    a = import_frames(src, tmp_path / "a.h5", opts, chunk=3)
    b = import_frames(src, tmp_path / "b.h5", opts, chunk=64)
    assert a["frames_sha256"] == b["frames_sha256"]
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_corrupted_frames_are_detected(tmp_path):
    import h5py

    np.save(tmp_path / "f.npy", np.ones((2, 4, 4), np.float32))
    _import(tmp_path / "f.npy", tmp_path / "o.h5")
    with h5py.File(tmp_path / "o.h5", "r+") as f:
        f["frames"][0, 0, 0] = 5.0
    with pytest.raises(Exception, match="does not match the stored"):
        load_frames(tmp_path / "o.h5")


def test_json_summary(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.ones((3, 12, 12), np.float32))
    assert _import(tmp_path / "f.npy", tmp_path / "o.h5", "--bin", "3", "--json") == 0
    io = capsys.readouterr()
    doc = json.loads(io.out)
    assert "warning" not in io.err  # finite frames: no warning
    assert doc["n"] == 3 and doc["frame_shape"] == [4, 4] and doc["labels"] is False


def test_sigterm_leaves_no_partial_file(tmp_path):
    """A real process terminated mid-import: exit 143, no temporary, the old output kept."""
    from tests.cli.test_signals import check_terminated, terminate, tree_digest

    src = tmp_path / "big.npy"
    frames = np.lib.format.open_memmap(src, mode="w+", dtype=np.uint16, shape=(400, 390, 390))
    frames[:] = np.random.default_rng(0).integers(0, 5, (390, 390), dtype=np.uint16)
    frames.flush()
    del frames
    out = tmp_path / "frames.h5"
    out.write_bytes(b"previous output")
    before, digest = set(p.name for p in tmp_path.iterdir()), tree_digest(out)
    code, err = terminate(["data", "import", src, "-o", out, "--force", "--bin", "6",
                           "--standardize", "--no-progress"], tmp_path, tmp_path)
    check_terminated(code, err, tmp_path, before, out, digest)


def test_data_info_of_an_imported_file(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 6, 6))
    np.save(tmp_path / "l.npy", np.array([3, 3]))
    assert _import(tmp_path / "f.npy", tmp_path / "o.h5", "--bin", "2", "--labels",
                   tmp_path / "l.npy") == 0
    capsys.readouterr()
    assert main(["data", "info", str(tmp_path / "o.h5"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == FORMAT and info["frames"] == [2, 3, 3]
    assert info["labels"]["non_sample_hit"] == 2 and info["checksum"] == "ok"
    assert info["source"]["file"] == "f.npy" and info["import"]["bin"] == 2


def test_one_frame_and_a_simulated_dataset_as_sources(tmp_path):
    """A single (H, W) frame is one frame; a fixsim data simulate file is found at /frames."""
    one = np.random.default_rng(4).poisson(2.0, (130, 130)).astype(np.int64)
    np.save(tmp_path / "one.npy", one)
    assert _import(tmp_path / "one.npy", tmp_path / "a.h5", "--bin", "2") == 0
    np.testing.assert_array_equal(load_frames(tmp_path / "a.h5").frames,
                                  _reference(one[None], (64.5, 64.5), 130, 2, stdz=False))
    assert main(["data", "simulate", "--n", "2", "--out", str(tmp_path / "sim.h5"),
                 "--no-progress"]) == 0
    assert _import(tmp_path / "sim.h5", tmp_path / "b.h5") == 0
    b = load_frames(tmp_path / "b.h5")
    assert b.meta["source"]["dataset"] == "/frames" and b.labels is None
    np.testing.assert_array_equal(b.frames, load_frames(tmp_path / "sim.h5").frames)
