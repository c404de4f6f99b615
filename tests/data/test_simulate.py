"""simulate(): shapes, dtypes, determinism, classes, configuration handling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixsim.data import CLASS_NAMES, SimConfig, simulate
from fixsim.errors import InputError


def test_shapes_dtypes_and_standardization(std_set):
    frames, labels, names, meta = std_set
    assert frames.shape == (80, 65, 65) and frames.dtype == np.float32
    assert labels.shape == (80,) and labels.dtype == np.int64
    assert names == ["single_hit", "multi_hit", "no_hit", "non_sample_hit"]
    assert np.isfinite(frames).all()
    np.testing.assert_allclose(frames.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(frames.std(axis=(1, 2)), 1, atol=1e-4)
    assert np.bincount(labels, minlength=4).tolist() == [20, 20, 20, 20]
    assert meta["seed"] == 2024 and meta["config"] == SimConfig().to_dict()
    assert meta["fixsim_version"]
    for key, arr in meta["params"].items():
        assert arr.shape[0] == 80, key


def test_same_seed_same_frames_any_worker_count():
    a = simulate(12, 77, workers=1)
    b = simulate(12, 77, workers=2)
    assert a[0].tobytes() == b[0].tobytes()
    np.testing.assert_array_equal(a[1], b[1])
    for key in a[3]["params"]:
        np.testing.assert_array_equal(a[3]["params"][key], b[3]["params"][key])


def test_different_seeds_differ():
    a = simulate(6, 1)[0]
    b = simulate(6, 2)[0]
    assert not np.array_equal(a, b)


def test_class_subset_keeps_label_ids():
    _, labels, names, meta = simulate(9, 3, classes=["no_hit", "multi_hit"])
    assert set(labels.tolist()) == {1, 2}
    assert names == list(CLASS_NAMES)
    assert meta["classes"] == ["multi_hit", "no_hit"]
    assert abs(int((labels == 1).sum()) - int((labels == 2).sum())) <= 1


def test_particle_parameters_are_recorded(raw_set):
    _, labels, _, meta = raw_set
    p = meta["params"]
    single, multi, none, drop = (labels == k for k in range(4))
    assert np.all(p["n_particles"][single] == 1)
    assert np.all((p["n_particles"][multi] >= 2) & (p["n_particles"][multi] <= 4))
    assert np.all(p["n_particles"][none | drop] == 0)
    r = p["radius_a"][single, 0]
    assert np.all((r >= 60) & (r <= 150))
    assert np.all(np.isnan(p["radius_a"][single, 1:]))
    q = p["quaternion"][single, 0]
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-12)
    assert np.all((p["droplet_radius_a"][drop] >= 200) & (p["droplet_radius_a"][drop] <= 700))
    assert np.all(np.isnan(p["droplet_radius_a"][~drop]))
    assert np.all(p["fluence_per_a2"] > 0)


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "10"])
def test_bad_count(n):
    with pytest.raises(InputError, match="number of frames"):
        simulate(n, 1)


@pytest.mark.parametrize("seed", [-1, 1.5, None])
def test_bad_seed(seed):
    with pytest.raises(InputError, match="seed"):
        simulate(2, seed)


def test_unknown_class_suggests_closest():
    with pytest.raises(InputError, match="did you mean 'multi_hit'"):
        simulate(2, 1, classes=["multi_hits"])


def test_config_round_trips_through_json(tmp_path):
    cfg = SimConfig.from_dict({"beam": {"energy_kev": 1.7}, "multi": {"count_probs": [1, 1]}})
    path = tmp_path / "cfg.json"
    path.write_text(cfg.to_json())
    assert SimConfig.from_json(path) == cfg
    assert json.loads(cfg.to_json())["beam"]["energy_kev"] == 1.7


@pytest.mark.parametrize("bad, message", [
    ({"beam": {"energy_kv": 1.6}}, "did you mean 'energy_kev'"),
    ({"detectr": {}}, "did you mean 'detector'"),
    ({"beam": {"energy_kev": "high"}}, "must be a number"),
    ({"beam": {"energy_kev": -1}}, "energy_kev"),
    ({"detector": {"bin_px": 7}}, "multiple of bin_px"),
    ({"detector": {"oversample": 4}}, "oversample must divide"),
    ({"detector": {"crop_px": 2.5}}, "must be an integer"),
    ({"beam": {"polarization": "horizontl"}}, "did you mean 'horizontal'"),
    ({"multi": {"count_probs": []}}, "count_probs"),
    ({"particle": {"radius_min_a": 200}}, "radius_min_a"),
])
def test_bad_config(bad, message):
    with pytest.raises(InputError, match=message):
        SimConfig.from_dict(bad)


def test_config_file_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        SimConfig.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        SimConfig.from_json(bad)


def test_config_type_is_checked():
    with pytest.raises(InputError, match="SimConfig or a dict"):
        simulate(2, 1, config="cfg.json")


def test_blocks_of_any_size_give_the_same_frames_and_post_sees_each_once():
    from fixsim.data.simulate import FrameSimulator, draw_labels

    sim = FrameSimulator()
    labels = draw_labels(11, 4, [0, 1, 2, 3])
    want = simulate(11, 4)[0]
    for size, workers in ((1, 1), (4, 2), (16, 2)):
        seen: list = []
        got = np.concatenate([b for _, b in sim.blocks(
            labels, 4, sim.params_template(11), 0, 11, workers=workers, size=size,
            post=lambda lo, block, seen=seen: seen.append((lo, len(block))))])
        assert got.tobytes() == want.tobytes(), size
        assert sorted(seen) == [(lo, min(size, 11 - lo)) for lo in range(0, 11, size)]
    with pytest.raises(InputError, match="block size"):
        next(sim.blocks(labels, 4, sim.params_template(11), 0, 11, size=0))


def test_progress_reports_increments():
    calls = []
    simulate(21, 2, workers=2, progress=calls.append)
    assert sum(calls) == 21 and all(1 <= c <= 16 for c in calls)


def test_vectors_source_quantizes_blockwise_as_a_whole():
    from fixsim.fixed import quantize
    from fixsim.network.spec import load_spec
    from fixsim.vectors.sources import read_source

    spec = load_spec("specklenn-snl")
    data = read_source(spec, "simulated", 20, 6)
    frames = simulate(20, 6)[0]
    assert data.frames[:, 0].tobytes() == frames.tobytes()
    np.testing.assert_array_equal(data.inputs, quantize(frames[:, None], spec.input_format))
