"""Training: seeded determinism, bit-identical resume, checkpoint checks, model directory."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the 'model' extra (torch)")

from fixsim.errors import InputError  # noqa: E402
from fixsim.train.modeldir import load_model_dir  # noqa: E402
from fixsim.train.trainer import (TrainConfig, balanced_batches, embed,  # noqa: E402
                                  load_checkpoint, split_train_val, train)

CFG = dict(seed=11, batch=8, val_fraction=0.25, val_support=2)


def _final_state(out):
    return torch.load(out / "checkpoints" / "last.pt", weights_only=True)


@pytest.fixture(scope="module")
def one_epoch(small_set, tmp_path_factory):
    """A finished 1-epoch run (read-only for the tests; copy before modifying)."""
    out = tmp_path_factory.mktemp("run") / "one"
    train(small_set, out, TrainConfig(epochs=1, **CFG), progress=False,
          record={"command": "test"})
    return out


def test_resume_continues_bit_identically(small_set, one_epoch, tmp_path):
    straight = tmp_path / "straight"
    train(small_set, straight, TrainConfig(epochs=2, **CFG), progress=False)
    part = tmp_path / "part"
    info = train(small_set, part, TrainConfig(epochs=2, **CFG),
                 resume=one_epoch / "checkpoints" / "epoch_0001.pt", progress=False)
    a, b = _final_state(straight), _final_state(part)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["history"] == b["history"] == info["train"]["history"]
    assert len(info["train"]["history"]) == 2
    # optimizer moments too, so a third epoch would also agree
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)
    # and the float files written at the end are the same weights
    fa = torch.load(straight / "model_float.pt", weights_only=True)
    fb = torch.load(part / "model_float.pt", weights_only=True)
    assert all(torch.equal(fa[k], fb[k]) for k in fa)


def test_different_seed_differs(small_set, one_epoch, tmp_path):
    train(small_set, tmp_path / "b", TrainConfig(epochs=1, **dict(CFG, seed=12)), progress=False)
    a, b = _final_state(one_epoch), _final_state(tmp_path / "b")
    assert not torch.equal(a["model"]["fc1.weight"], b["model"]["fc1.weight"])


def test_resume_refuses_a_different_run(small_set, one_epoch, tmp_path):
    out = one_epoch
    ckpt = out / "checkpoints" / "last.pt"
    with pytest.raises(InputError, match="margin"):
        train(small_set, out, TrainConfig(epochs=2, **dict(CFG, margin=0.5)), resume=ckpt,
              progress=False)
    with pytest.raises(InputError, match="already has 1 epochs"):
        train(small_set, out, TrainConfig(epochs=1, **CFG), resume=ckpt, progress=False)
    with pytest.raises(InputError, match="already holds a training run"):
        train(small_set, out, TrainConfig(epochs=2, **CFG), progress=False)
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="checkpoint .* is not a readable PyTorch file"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(InputError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_model_dir_roundtrip_and_tamper_detection(small_set, one_epoch, tmp_path):
    import shutil

    out = tmp_path / "m"
    shutil.copytree(one_epoch, out)
    info = json.loads((out / "model.json").read_text())
    assert info["inference_parameters"] == 64_660
    assert info["train"]["seed"] == 11 and info["train"]["command"] == "test"
    model, loaded = load_model_dir(out)
    assert loaded == json.loads((out / "model.json").read_text())
    tm = torch.load(out / "model_float.pt", weights_only=True)
    from fixsim.model.specklenn import SpeckleNNTrain
    m = SpeckleNNTrain()
    m.load_state_dict(tm)
    e1, e2 = embed(model, small_set.frames[:8]), embed(m, small_set.frames[:8])
    np.testing.assert_allclose(e1, e2, rtol=1e-5, atol=1e-5)
    with open(out / "weights_folded.npz", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(InputError, match="sha256"):
        load_model_dir(out)
    with pytest.raises(InputError, match="not a model directory"):
        load_model_dir(tmp_path)


def test_config_checks(small_set, tmp_path):
    for bad in (dict(epochs=0), dict(batch=18), dict(batch=4), dict(margin=-1.0),
                dict(lr=0.0), dict(val_fraction=1.0)):
        kw = dict(CFG, epochs=1)
        kw.update(bad)
        with pytest.raises(InputError):
            train(small_set, tmp_path / "x", TrainConfig(**kw), progress=False)


def test_balanced_batches_and_split():
    labels = np.array([0] * 30 + [1] * 6 + [2] * 10 + [3] * 4)
    rng = np.random.default_rng(0)
    batches = balanced_batches(labels, 8, 4, rng)
    assert len(batches) == 7
    for b in batches:
        assert np.bincount(labels[b], minlength=4).tolist() == [2, 2, 2, 2]
    tr, va = split_train_val(labels, 0.5, 3)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 50
    assert np.bincount(labels[va]).tolist() == [15, 3, 5, 2]
