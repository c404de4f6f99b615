"""``compare --data`` and ``certify --data``: your own frames (``fixsim data import``).

Without labels, certify says accuracy is not measured (never assumed) and still measures
the float-vs-fixed decision agreement and the C-simulation bit-exactness on the data.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixsim.cli.main import main
from fixsim.verify.certify import NOT_MEASURED, PASS

#: Lenient thresholds: a handful of frames says nothing about accuracy; each test states
#: what it checks.
TINY = ["--min-accuracy", "0", "--max-gap-pp", "100", "--min-agreement", "0"]


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    """Simulated photon frames imported as a user would import detector data: six frames
    (binned means, standardized at import), with and without labels."""
    import fixsim.data as fd

    tmp = tmp_path_factory.mktemp("data")
    frames, labels, names, _ = fd.simulate(6, seed=4242, standardized=False)
    np.save(tmp / "run.npy", frames)
    np.save(tmp / "labels.npy", np.array([names[k] for k in labels]))
    common = ["data", "import", str(tmp / "run.npy"), "--standardize", "--no-progress"]
    assert main([*common, "-o", str(tmp / "lab.h5"), "--labels", str(tmp / "labels.npy")]) == 0
    assert main([*common, "-o", str(tmp / "nolab.h5")]) == 0
    return {"lab": tmp / "lab.h5", "nolab": tmp / "nolab.h5", "labels": labels,
            "frames": fd.standardize(frames)}


def _certify(tmp_path, tiny_set, data, *extra, name="cert"):
    out = tmp_path / name
    code = main(["certify", "--vectors", str(tiny_set), "--data", str(data), "--out", str(out),
                 "--quiet", *TINY, *extra])
    cert = json.loads((out / "certificate.json").read_text()) if out.is_dir() else None
    return code, cert, out


def _by_name(cert):
    return {c["name"]: c for c in cert["checks"]}


def test_certify_unlabeled_data(tmp_path, tiny_set, data_files, need_gxx, need_golden):
    from fixsim._files import sha256_file

    code, cert, out = _certify(tmp_path, tiny_set, data_files["nolab"])
    assert code == 1 and cert["verdict"] == "INCOMPLETE"
    checks = _by_name(cert)
    for name in ("float_accuracy", "fixed_accuracy", "accuracy_gap"):
        assert checks[name]["status"] == NOT_MEASURED and checks[name]["required"]
        assert checks[name]["detail"] == "accuracy not measured (the data has no labels)"
        assert checks[name]["measured"] is None
    assert checks["same_decision"]["status"] == PASS
    assert 0 <= checks["same_decision"]["measured"] <= 1
    for name in ("vectors_vs_fixsim", "fixsim_vs_csim", "fixsim_vs_csim_held_out"):
        assert checks[name]["status"] == PASS and checks[name]["measured"] == 0
    assert "frames of --data" in checks["fixsim_vs_csim_held_out"]["detail"]
    assert cert["bit_exactness"]["held_out_golden"]["frames"] == 6
    acc = cert["accuracy"]
    assert acc["float"]["overall"] is None and acc["fixed"]["overall"] is None
    assert acc["held_out"]["source"] == "data" and acc["held_out"]["labels"] is False
    assert acc["held_out"]["n"] == 6
    data = cert["data"]
    assert data["sha256"] == sha256_file(data_files["nolab"]) and data["labels"] is False
    assert data["source"]["file"] == "run.npy" and data["import"]["standardize"] is True
    assert cert["seeds"]["held_out"] is None
    reasons = " ".join(cert["reasons"])
    assert "NOT MEASURED float_accuracy" in reasons
    md = (out / "certificate.md").read_text()
    assert "accuracy: not measured (the data has no labels)" in md and "run.npy" in md
    # the certified vector set is not made from the data: said, as information only
    assert checks["vector_set_of_data"]["status"] == NOT_MEASURED
    assert checks["vector_set_of_data"]["required"] is False


def test_certify_labeled_data_measures_accuracy(tmp_path, tiny_set, data_files, need_gxx,
                                                need_golden):
    code, cert, _ = _certify(tmp_path, tiny_set, data_files["lab"], "--n-eval", "5")
    checks = _by_name(cert)
    for name in ("float_accuracy", "fixed_accuracy", "accuracy_gap", "same_decision"):
        assert checks[name]["status"] == PASS, checks[name]
    acc = cert["accuracy"]
    assert acc["held_out"]["n"] == 5 and acc["held_out"]["labels"] is True
    assert sum(acc["held_out"]["counts"]) == 5
    assert sum(r["n"] for r in acc["float"]["per_class"].values()) == 5
    assert 0 <= acc["float"]["overall"] <= 1 and cert["data"]["used"] == 5


def test_certify_on_a_vector_set_of_the_data(tmp_path, data_files, need_gxx, need_golden):
    vs = tmp_path / "vs"
    assert main(["vectors", "gen", "--data", str(data_files["nolab"]), "--n", "2",
                 "--out", str(vs)]) == 0
    _, cert, _ = _certify(tmp_path, vs, data_files["nolab"])
    check = _by_name(cert)["vector_set_of_data"]
    assert check["status"] == PASS and check["measured"] == cert["data"]["sha256"]


@pytest.mark.parametrize("case, match", [
    ("missing", "--data"),
    ("shape", "expected (N, 1, 65, 65)"),
    ("too_few", "fewer than --n-eval 7"),
])
def test_certify_bad_data_exit_2_nothing_written(tmp_path, data_files, need_golden, capsys,
                                                 case, match):
    np.save(tmp_path / "small.npy", np.ones((2, 10, 10), np.float32))
    assert main(["data", "import", str(tmp_path / "small.npy"), "-o",
                 str(tmp_path / "small.h5")]) == 0
    data = {"missing": tmp_path / "none.h5", "shape": tmp_path / "small.h5",
            "too_few": data_files["lab"]}[case]
    extra = ["--n-eval", "7"] if case == "too_few" else []
    capsys.readouterr()
    out = tmp_path / "cert"
    assert main(["certify", "--data", str(data), "--out", str(out), "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not out.exists()


def test_compare_on_data(tmp_path, tiny_set, data_files, capsys):
    from fixsim.fixed import quantize
    from fixsim.network import run
    from fixsim.vectors import load_vector_set
    from fixsim.verify.sources import SourceOptions, load_source

    vs = load_vector_set(tiny_set)
    opts = SourceOptions(data=data_files["lab"])
    fx = load_source(f"fixsim:{tiny_set}", opts)
    x = quantize(data_files["frames"], vs.spec.input_format)[:, None]
    expected = run(vs.spec, vs.weights, x)
    assert set(fx.taps) == set(expected)
    for name, arr in expected.items():
        np.testing.assert_array_equal(np.asarray(fx.taps[name]), arr)
    assert fx.labels.tolist() == data_files["labels"].tolist()
    assert fx.info["data"]["labels"] is True
    capsys.readouterr()
    code = main(["compare", f"float:{tiny_set}", f"fixsim:{tiny_set}", "--data",
                 str(data_files["nolab"]), "--support", "none", "--quiet", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and doc["mode"] == "fixed-float"
    assert doc["frames"] == 6 and doc["a"]["frames"] == 6 and doc["b"]["frames"] == 6
    for side in ("a", "b"):
        assert doc[side]["info"]["data"]["file"] == "nolab.h5"
        assert doc[side]["info"]["data"]["labels"] is False and doc[side]["labels"] is False


def test_compare_refuses_expected_outputs_with_data(tiny_set, data_files, capsys):
    assert main(["compare", str(tiny_set), f"fixsim:{tiny_set}", "--data",
                 str(data_files["lab"]), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "expected outputs are of its own frames" in err and err.count("\n") == 1


def test_golden_seeds_are_not_refused_with_data(data_files, need_golden):
    """--seed simulates nothing with --data, so a seed of the golden model's data is fine."""
    import json as _json

    from fixsim.verify.certify import CertifyConfig, _golden
    from fixsim.verify.defaults import golden_dir

    manifest = _json.loads((golden_dir() / "manifest.json").read_text())
    used = sorted(v["seed"] for v in manifest["data"].values()
                  if isinstance(v, dict) and v.get("seed") is not None)
    with pytest.raises(Exception, match="simulated the golden model's own data"):
        _golden(CertifyConfig(seed=used[0]))
    assert _golden(CertifyConfig(seed=used[0], data=data_files["lab"]))["seeds_used"] == used
