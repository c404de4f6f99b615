"""Every real report in tests/hls/data parses to the values listed in PROVENANCE.md."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from fixsim.hls.model import RESOURCE_KEYS, CosimReport, SynthReport
from fixsim.hls.reports import load_report, parse_report

from .conftest import DATA, provenance_rows

ROWS = provenance_rows()
SYNTH = [r for r in ROWS if r["kind"] != "cosim.rpt"]
COSIM = [r for r in ROWS if r["kind"] == "cosim.rpt"]


def _first(cell: str):
    """Leading token of a provenance cell: an int, a float, None (undef/n/a), or text."""
    token = cell.split()[0] if cell.split() else ""
    if token in ("undef", "n/a"):
        return None
    if token == "-":
        return "-"
    if re.fullmatch(r"\d+", token):
        return int(token)
    if re.fullmatch(r"\d+\.\d*", token):
        return float(token)
    return token


def _ns(text: str):
    value, unit = text.split()
    return float(value) * {"ns": 1, "us": 1e3, "ms": 1e6}[unit]


def _parse(row) -> "SynthReport | CosimReport":
    # Parse under the name the file had in its repository (the top comes from it).
    data = (DATA / row["saved file"]).read_bytes()
    return parse_report(data, Path(row["path in repo"]).name)


def test_every_file_is_in_the_table():
    listed = {r["saved file"] for r in ROWS}
    on_disk = {p.name for p in DATA.iterdir() if p.name != "PROVENANCE.md"}
    assert listed == on_disk


@pytest.mark.parametrize("row", ROWS, ids=[r["saved file"] for r in ROWS])
def test_byte_exact_copy(row):
    data = (DATA / row["saved file"]).read_bytes()
    assert len(data) == int(row["bytes"])
    assert hashlib.sha256(data).hexdigest() == row["sha256"]


@pytest.mark.parametrize("row", SYNTH, ids=[r["saved file"] for r in SYNTH])
def test_synthesis_report_matches_provenance(row):
    rep = _parse(row)
    assert isinstance(rep, SynthReport)
    assert rep.kind == row["kind"]
    tool = re.match(r"(Vivado HLS|Vitis HLS) (\d{4}\.\d)", row["tool + version"])
    assert (rep.tool, rep.tool_version) == (tool.group(1), tool.group(2))
    assert rep.part == row["part"]
    assert rep.top == row["top"]
    if row["PipelineType"]:
        assert rep.pipeline_type == row["PipelineType"]

    best, worst = [_first(x) for x in row["Best / Worst latency (cycles)"].split("/")[:2]]
    assert (rep.latency_best, rep.latency_worst) == (best, worst)
    if rep.kind == "csynth.xml":
        assert rep.latency_avg == worst  # all fixtures have a fixed latency
    lo, hi = [_first(x) for x in row["Interval min / max"].split("/")]
    assert (rep.interval_min, rep.interval_max) == (lo, hi)
    realtime = re.search(r"\((\S+ \w+) / (\S+ \w+)\)", row["Best / Worst latency (cycles)"])
    if realtime and "undef" not in realtime.group(0):
        assert rep.latency_best_ns == pytest.approx(_ns(realtime.group(1)))
        assert rep.latency_worst_ns == pytest.approx(_ns(realtime.group(2)))
    elif realtime:
        assert rep.latency_best_ns is None and rep.latency_worst_ns is None

    assert rep.target_clock_ns == _first(row["target clk"])
    assert rep.estimated_clock_ns == _first(row["est. clk"])
    for key, col in (("DSP", "DSP"), ("LUT", "LUT"), ("FF", "FF"), ("BRAM_18K", "BRAM_18K"),
                     ("URAM", "URAM")):
        expected = _first(row[col])
        # '-' in the Vitis summary table means the module uses none of that resource.
        assert rep.resources[key] == (0 if expected == "-" else expected), key
    assert set(rep.resources) == set(RESOURCE_KEYS) == set(rep.available)


@pytest.mark.parametrize("row", COSIM, ids=[r["saved file"] for r in COSIM])
def test_cosim_report_matches_provenance(row):
    rep = _parse(row)
    assert isinstance(rep, CosimReport)
    assert rep.top == _first(row["top"])
    expected = {}
    for part in row["Best / Worst latency (cycles)"].split("<br>"):
        lang, rest = part.split(":", 1)
        fields = [f.strip() for f in rest.split(";")]
        lat = [_first(v) for v in fields[1].split()[-1].split("/")]
        ii = [_first(v) for v in fields[2].split()[-1].split("/")]
        expected[lang.strip()] = (fields[0], *[None if v == "NA" else v for v in lat + ii])
    got = {r.language: (r.status, r.latency_min, r.latency_avg, r.latency_max,
                        r.interval_min, r.interval_avg, r.interval_max) for r in rep.rows}
    assert got == expected


def test_same_design_xml_and_rpt_agree():
    for xml, rpt in (("fastmachinelearning__hls4ml__myproject_csynth.xml",
                      "fastmachinelearning__hls4ml__myproject_csynth.rpt"),
                     ("hashi0203__Vitis_HLS_Gaussian__gaussian_csynth.xml",
                      "hashi0203__Vitis_HLS_Gaussian__csynth.rpt")):
        a, b = load_report(DATA / xml), load_report(DATA / rpt)
        for attr in ("top", "part", "tool", "tool_version", "latency_best", "latency_worst",
                     "interval_min", "interval_max", "resources"):
            assert getattr(a, attr) == getattr(b, attr), (xml, attr)


def test_vivado_rpt_has_clocks_and_available():
    rep = load_report(DATA / "fastmachinelearning__hls4ml__myproject_csynth.rpt")
    assert (rep.target_clock_ns, rep.estimated_clock_ns, rep.clock_uncertainty_ns) == \
        (5.0, 4.049, 0.62)
    assert rep.available == {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": 0}
    assert rep.latency_avg is None  # the text report has only min and max


def test_summary_rpt_slack_and_unknown_clocks():
    rep = load_report(DATA / "hashi0203__Vitis_HLS_Gaussian__csynth.rpt")
    assert rep.slack_ns == -0.87
    assert rep.target_clock_ns is None and rep.estimated_clock_ns is None
    assert all(v is None for v in rep.available.values())


def test_undef_latency_is_none_not_zero():
    rep = load_report(DATA / "SahJaiswal__MNIST_HLS__c_mnist_csynth.xml")
    assert rep.latency_worst is None and rep.interval_max is None
    zero = load_report(DATA / "skkwan__phase2_bjets_hls__get_discriminant_csynth.xml")
    assert zero.latency_worst == 0 and zero.interval_max == 1  # a real 0 stays 0


def test_vivado_dsp48e_becomes_dsp():
    rep = load_report(DATA / "fastmachinelearning__hls4ml__myproject_csynth.xml")
    assert rep.resources["DSP"] == 73 and rep.available["DSP"] == 220
    assert rep.tool == "Vivado HLS"


@pytest.mark.parametrize("row", ROWS, ids=[r["saved file"] for r in ROWS])
def test_crlf_copy_parses_identically(row):
    data = (DATA / row["saved file"]).read_bytes()
    name = Path(row["path in repo"]).name
    assert parse_report(data.replace(b"\n", b"\r\n"), name) == parse_report(data, name)


@pytest.mark.parametrize("row", ROWS, ids=[r["saved file"] for r in ROWS])
def test_json_export(row):
    import json
    rep = _parse(row)
    assert json.loads(rep.to_json()) == rep.to_dict()
    assert rep.to_dict()["kind"] == row["kind"]
