"""``fixsim spec``: exit codes, canonical output, one-line errors."""

from __future__ import annotations

import json

from fixsim.cli.main import main
from fixsim.network import load_spec


def test_summary_json_and_resolved_output(tmp_path, capsys):
    assert main(["spec", "specklenn-snl", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["params"] == 64660
    assert summary["spec_hash"] == load_spec("specklenn-snl").spec_hash()
    assert all(r["cannot_overflow"] for r in summary["layers"] if "accum" in r)
    out = tmp_path / "r.json"
    assert main(["spec", "specklenn-snl", "--resolved", "--out", str(out)]) == 0
    assert load_spec(str(out)) == load_spec("specklenn-snl")
    assert json.loads(out.read_text())["layers"][0]["out_shape"] == [7, 61, 61]


def test_summary_names_each_mac_layers_datapath(tmp_path, capsys):
    d = json.loads(load_spec("specklenn-snl").to_json())
    d["layers"][5]["options"] = {"product": "to_accum", "sum_order": "resource",
                                 "reuse_factor": 4, "activation_on": "result"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(d))
    assert main(["spec", str(path)]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines()[1:]}
    assert lines["fc1"].endswith("[to_accum, resource R=4, activation on result]")
    assert lines["conv1"].endswith("[to_accum, ci_kh_kw, activation on result]")
    assert "[" not in lines["pool1"]
    assert main(["spec", str(path), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["layers"]}
    assert rows["fc1"]["options"]["reuse_factor"] == 4 and "options" not in rows["pool1"]


def test_invalid_specs_exit_2_with_one_line(tmp_path, capsys):
    bad = json.loads(load_spec("specklenn-snl").to_json())
    bad["layers"][5]["type"] = "dens"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    assert main(["spec", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "did you mean 'dense'" in err and "\n" not in err
    assert main(["spec", "specklenn-sln"]) == 2
    assert main(["spec", str(tmp_path / "missing.json")]) == 2
    assert not list(tmp_path.glob(".*.tmp"))
