"""golden/: manifest checksums, weight shapes, fold consistency, support embeddings."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from fixsim.model.weights import WEIGHT_SHAPES, load_npz, reference_forward

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


@pytest.fixture(scope="module")
def manifest():
    path = GOLDEN / "manifest.json"
    if not path.is_file():
        pytest.skip("golden/manifest.json not built yet (python tools/make_golden.py)")
    return json.loads(path.read_text())


def test_manifest_checksums_match_files(manifest):
    files = manifest["files"]
    on_disk = {p.name for p in GOLDEN.iterdir() if p.is_file()} - {"manifest.json"}
    assert set(files) == on_disk
    for name, digest in files.items():
        assert hashlib.sha256((GOLDEN / name).read_bytes()).hexdigest() == digest, name


def test_manifest_records_provenance(manifest):
    assert manifest["fixsim_version"] and manifest["command"] == "python tools/make_golden.py"
    assert manifest["data"]["test"]["seed"] != manifest["data"]["train"]["seed"]
    for rule in ("nearest", "mean"):
        ev = manifest["evaluation"][rule]
        assert set(ev["per_class_accuracy"]) == {"single_hit", "multi_hit", "no_hit",
                                                 "non_sample_hit"}
        assert 0 <= ev["overall_accuracy"] <= 1
    assert manifest["inference_parameters"] == 64_660


def test_npz_weights_have_the_documented_names_and_shapes(manifest):
    w = load_npz(GOLDEN / "weights_folded.npz")
    assert {k: v.shape for k, v in w.items()} == WEIGHT_SHAPES
    assert sum(v.size for v in w.values()) == 64_660


def test_support_embeddings_reproduce_from_npz_without_torch(manifest):
    w = load_npz(GOLDEN / "weights_folded.npz")
    with np.load(GOLDEN / "support.npz") as z:
        frames, emb, labels = z["frames"], z["embeddings"], z["labels"]
        names = z["class_names"].tolist()
    k = manifest["support"]["per_class"]
    assert labels.tolist() == sorted(labels.tolist()) and np.bincount(labels).tolist() == [k] * 4
    assert names == ["single_hit", "multi_hit", "no_hit", "non_sample_hit"]
    np.testing.assert_allclose(reference_forward(w, frames), emb, rtol=1e-4, atol=1e-4)


def test_folded_weights_are_the_fold_of_the_float_model(manifest):
    torch = pytest.importorskip("torch", reason="needs the 'model' extra (torch)")
    from fixsim.model.specklenn import SpeckleNNTrain, fold_batchnorm

    m = SpeckleNNTrain()
    m.load_state_dict(torch.load(GOLDEN / "model_float.pt", weights_only=True))
    folded = fold_batchnorm(m.eval()).state_dict()
    pt = torch.load(GOLDEN / "model_folded.pt", weights_only=True)
    npz = load_npz(GOLDEN / "weights_folded.npz")
    for name in WEIGHT_SHAPES:
        assert torch.equal(folded[name], pt[name]), name
        assert np.array_equal(npz[name], pt[name].numpy()), name


def test_golden_stays_small(manifest):
    assert sum(p.stat().st_size for p in GOLDEN.iterdir()) < 5_000_000
