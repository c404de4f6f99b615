"""Property tests: csynth.xml round trips, malformed input, text-table variants."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.errors import InputError
from fixsim.hls.csynth_xml import parse_csynth_xml, render_csynth_xml
from fixsim.hls.model import RESOURCE_KEYS, SynthReport
from fixsim.hls.reports import parse_report
from fixsim.hls.rpt_text import parse_cosim_rpt, parse_csynth_rpt

from .conftest import DATA

counts = st.one_of(st.none(), st.integers(0, 10**9))
times = st.one_of(st.none(), st.integers(1, 10**6).map(lambda k: k / 1000))
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
parts = st.from_regex(r"x[a-z0-9]{3,10}-[a-z0-9]{4,10}-[0-9]-[a-z]", fullmatch=True)
resources = st.fixed_dictionaries({k: counts for k in RESOURCE_KEYS})


@st.composite
def synth_reports(draw):
    tool = draw(st.sampled_from(["Vivado HLS", "Vitis HLS"]))
    return SynthReport(
        kind="csynth.xml", tool=tool,
        tool_version=draw(st.sampled_from([None, "2018.2", "2020.1", "2023.1"])),
        part=draw(st.one_of(st.none(), parts)), top=draw(st.one_of(st.none(), names)),
        target_clock_ns=draw(times), clock_uncertainty_ns=draw(times),
        estimated_clock_ns=draw(times),
        latency_best=draw(counts), latency_avg=draw(counts), latency_worst=draw(counts),
        latency_best_ns=draw(times), latency_avg_ns=draw(times), latency_worst_ns=draw(times),
        interval_min=draw(counts), interval_max=draw(counts),
        pipeline_type=draw(st.sampled_from([None, "dataflow", "none", "pipeline"])),
        resources=draw(resources), available=draw(resources))


@given(synth_reports(), st.randoms(use_true_random=False), st.sampled_from(["\n", "\r\n"]))
def test_round_trip_any_order_and_line_ending(report, rnd, newline):
    text = render_csynth_xml(report, newline=newline, shuffle=rnd)
    assert parse_csynth_xml(text.encode()) == report
    assert parse_report(text.encode()) == report


@given(synth_reports(), st.integers(1, 10**4))
def test_truncated_xml_is_one_line_input_error(report, cut):
    text = render_csynth_xml(report).encode()
    cut = min(cut, len(text) - len(b"</profile>\n") - 1)
    with pytest.raises(InputError) as info:
        parse_report(text[:cut], "t.xml")
    assert "\n" not in str(info.value)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data):
    try:
        parse_report(data, "junk")
    except InputError as exc:
        assert "\n" not in str(exc)


@given(st.text(max_size=300))
def test_arbitrary_text_never_crash(text):
    for parse in (parse_report, parse_csynth_rpt, parse_cosim_rpt):
        try:
            parse(text)
        except InputError as exc:
            assert "\n" not in str(exc)


def test_undef_never_becomes_zero():
    rep = SynthReport(kind="csynth.xml", tool="Vitis HLS", latency_worst=None,
                      interval_max=None, resources={k: 1 for k in RESOURCE_KEYS})
    text = render_csynth_xml(rep)
    assert "<Worst-caseLatency>undef</Worst-caseLatency>" in text
    back = parse_csynth_xml(text)
    assert back.latency_worst is None and back.interval_max is None


def test_nested_range_values():
    text = """<profile><UserAssignments><TopModelName>f</TopModelName></UserAssignments>
    <PerformanceEstimates><SummaryOfOverallLatency>
    <Best-caseLatency><range><min>3</min><max>40</max></range></Best-caseLatency>
    <Average-caseLatency><range><min>3</min><max>40</max></range></Average-caseLatency>
    <Worst-caseLatency><range><min>3</min><max>40</max></range></Worst-caseLatency>
    <Interval-min><range><min>4</min><max>41</max></range></Interval-min>
    <Interval-max><range><min>4</min><max>undef</max></range></Interval-max>
    </SummaryOfOverallLatency></PerformanceEstimates></profile>"""
    rep = parse_csynth_xml(text)
    assert (rep.latency_best, rep.latency_avg, rep.latency_worst) == (3, None, 40)
    assert (rep.interval_min, rep.interval_max) == (4, None)


def test_sections_missing_and_elements_elsewhere():
    # No section wrappers around the latency: found by name anywhere.
    text = ("<profile><PerformanceEstimates><Worst-caseLatency>12</Worst-caseLatency>"
            "</PerformanceEstimates><AreaEstimates><Resources><DSP48E2>5</DSP48E2>"
            "<LUTRAM>3</LUTRAM></Resources></AreaEstimates></profile>")
    rep = parse_csynth_xml(text)
    assert rep.latency_worst == 12 and rep.resources["DSP"] == 5
    assert set(rep.resources) == set(RESOURCE_KEYS)
    assert rep.target_clock_ns is None and rep.available["LUT"] is None


@pytest.mark.parametrize("text, message", [
    ("<profile><UserAssignments><TargetClockPeriod>fast</TargetClockPeriod>"
     "</UserAssignments></profile>", "TargetClockPeriod"),
    ("<profile><PerformanceEstimates><Worst-caseLatency>1.5e3</Worst-caseLatency>"
     "</PerformanceEstimates></profile>", "Worst-caseLatency"),
    ("<profile><PerformanceEstimates><Worst-caseRealTimeLatency>3 parsecs"
     "</Worst-caseRealTimeLatency></PerformanceEstimates></profile>", "time unit"),
    ("<html><body>hi</body></html>", "not an HLS csynth.xml"),
    ("<profile><Other/></profile>", "no UserAssignments"),
    ("<profile><UserAssignments>", "malformed or truncated"),
])
def test_bad_values_name_the_element(text, message):
    with pytest.raises(InputError, match=message):
        parse_report(text, "bad.xml")


VIVADO_UNDEF_RPT = """\
================================================================
== Vivado HLS Report for 'top_fn'
================================================================
* Version:        2019.1 (Build 2552052 on Fri May 24 15:28:33 MDT 2019)
* Target device:  xcku115-flvb2104-2-e

+ Timing (ns):
    * Summary:
    +--------+-------+----------+------------+
    |  Clock | Target| Estimated| Uncertainty|
    +--------+-------+----------+------------+
    |ap_clk  |   5.00|     4.375|        0.62|
    +--------+-------+----------+------------+

+ Latency (clock cycles):
    * Summary:
    +-----+-----+-----+-----+---------+
    |  Latency  |  Interval | Pipeline|
    | min | max | min | max |   Type  |
    +-----+-----+-----+-----+---------+
    |    ?|    ?|    ?|    ?|   none  |
    +-----+-----+-----+-----+---------+
"""


def test_classic_rpt_question_marks_are_unknown():
    # Vivado HLS 2019 writes "Latency (clock cycles)" in the section title, not the table.
    rep = parse_csynth_rpt(VIVADO_UNDEF_RPT)
    assert rep.tool == "Vivado HLS" and rep.top == "top_fn" and rep.tool_version == "2019.1"
    assert rep.target_clock_ns == 5.0 and rep.estimated_clock_ns == 4.375
    assert rep.latency_worst is None and rep.interval_max is None
    assert rep.pipeline_type == "none"
    known = parse_csynth_rpt(VIVADO_UNDEF_RPT.replace(
        "|    ?|    ?|    ?|    ?|   none  |", "|   17|   23|   18|   24| dataflow|"))
    assert (known.latency_best, known.latency_worst) == (17, 23)
    assert (known.interval_min, known.interval_max) == (18, 24)
    assert known.pipeline_type == "dataflow"


NEW_SUMMARY_RPT = """\
================================================================
== Synthesis Summary Report of 'kernel'
================================================================
+ General Information:
    * Version:        2023.2 (Build 4023990 on Oct 11 2023)
    * Target device:  xcku115-flvb2104-2-e

+ Performance & Resource Estimates:

    PS: '+' for module; 'o' for loop; '*' for dataflow
    +-----------+--------+-------+---------+-----------+----------+-----------+------+----------+---------+----------+-----------+-----------+-----+
    |  Modules  |  Issue |       |Violation| Latency   |  Latency | Iteration |      |  Trip    |         |          |           |           |     |
    |  & Loops  |  Type  | Slack |  Type   | (cycles)  |   (ns)   |  Latency  | Interval| Count | Pipelined|   BRAM   |    DSP    |     FF    | URAM|
    +-----------+--------+-------+---------+-----------+----------+-----------+------+----------+---------+----------+-----------+-----------+-----+
    |+ kernel*  |  Timing|  -0.55|        -| 12 ~ 4000 |         -|          -|  4001|         -| dataflow|  2 (~0%) |  12 (~1%) |  300 (~0%)|    -|
    +-----------+--------+-------+---------+-----------+----------+-----------+------+----------+---------+----------+-----------+-----------+-----+
"""  # noqa: E501 (a Vitis HLS report table, as the tool writes it)


def test_summary_rpt_column_positions_found_by_name():
    rep = parse_csynth_rpt(NEW_SUMMARY_RPT.replace("\n", "\r\n"))
    assert rep.top == "kernel" and rep.tool == "Vitis HLS" and rep.tool_version == "2023.2"
    assert (rep.latency_best, rep.latency_worst, rep.interval_max) == (12, 4000, 4001)
    assert rep.slack_ns == -0.55
    assert rep.resources == {"BRAM_18K": 2, "DSP": 12, "FF": 300, "LUT": None, "URAM": 0}


def test_cosim_extra_column_and_crlf():
    text = (DATA / "SpAllen0726__HG-DREAM-Pulse-Detection-Project__myproject_cosim.rpt"
            ).read_text().replace("\n", "\r\n")
    rep = parse_cosim_rpt(text, top="myproject")
    assert rep.status == "Fail" and rep.latency_max is None
    assert [r.total_cycles for r in rep.rows] == [None, None]


def test_cosim_interval_and_unknown_status():
    text = """\
+----------+----------+-------------------+-------------------+
|          |          |      Latency      |      Interval     |
+   RTL    +  Status  +-------------------+-------------------+
|          |          |  min | avg  | max |  min | avg  | max |
+----------+----------+-------------------+-------------------+
|   Verilog|      Pass|    10|    11|   12|     5|     5|    6|
+----------+----------+-------------------+-------------------+
"""
    rep = parse_cosim_rpt(text)
    assert rep.rows[0].latency_avg == 11 and rep.interval_max == 6 and rep.latency_max == 12
    with pytest.raises(InputError, match="unknown co-simulation status 'Maybe'"):
        parse_cosim_rpt(text.replace("Pass", "Maybe"))


def test_random_layout_shuffle_of_real_xml():
    # Reverse the children of every element of a real report: same result.
    import xml.etree.ElementTree as ET
    path = DATA / "ayumiohno__mnist_depthwise_hls__MNIST_csynth.xml"
    root = ET.parse(path).getroot()
    rnd = random.Random(1)
    for elem in root.iter():
        children = list(elem)
        rnd.shuffle(children)
        elem[:] = children
    assert parse_csynth_xml(ET.tostring(root)) == parse_csynth_xml(path.read_bytes())


FIXTURES = sorted(p for p in DATA.iterdir() if p.suffix in (".xml", ".rpt"))


@given(st.sampled_from(FIXTURES), st.lists(st.integers(0, 10**6), max_size=8),
       st.integers(0, 10**6))
def test_mutilated_real_reports_parse_or_raise_input_error(path, drop, cut):
    """Drop random lines and truncate: the parser returns or raises InputError, never crashes."""
    lines = path.read_bytes().splitlines(keepends=True)
    for index in drop:
        if lines:
            del lines[index % len(lines)]
    data = b"".join(lines)
    data = data[:cut % (len(data) + 1)]
    try:
        parse_report(data, path.name)
    except InputError as exc:
        assert "\n" not in str(exc)


def test_unknown_xml_encoding_is_input_error():
    with pytest.raises(InputError, match="malformed"):
        parse_report(b'<?xml version="1.0" encoding="foo"?><profile/>', "x.xml")
