"""Latency certification: budgets, verdicts, unknown evidence never passing."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.errors import InputError
from fixsim.hls.latency import Budget, certify
from fixsim.hls.model import CosimReport, CosimRow, SynthReport
from fixsim.hls.parts import PART_RESOURCES, part_resources
from fixsim.hls.reports import load_report

from .conftest import DATA

KCU = {"BRAM_18K": 4320, "DSP": 5520, "FF": 1326720, "LUT": 663360, "URAM": 0}
GOOD = SynthReport(kind="csynth.xml", tool="Vitis HLS", part="xcku115-flvb2104-2-e",
                   top="specklenn", target_clock_ns=5.0, clock_uncertainty_ns=1.35,
                   estimated_clock_ns=4.2, latency_best=8000, latency_avg=8500,
                   latency_worst=9000, interval_min=4300, interval_max=4300,
                   resources={"BRAM_18K": 100, "DSP": 3919, "FF": 636826, "LUT": 497520,
                              "URAM": 0},
                   available=dict(KCU))


def test_default_budget_is_45us_at_200mhz():
    b = Budget()
    assert (b.cycles, b.clock_mhz, b.period_ns) == (9000, 200.0, 5.0)
    assert Budget.from_time(45) == b
    assert Budget.from_time(45.015).cycles == 9003
    assert Budget.from_time(45, clock_mhz=250).cycles == 11250
    assert "9000 cycles at 200 MHz" in b.describe()


@pytest.mark.parametrize("kwargs", [dict(cycles=0), dict(cycles=1.5), dict(clock_mhz=0),
                                    dict(clock_mhz=float("nan")), dict(max_utilization=0),
                                    dict(interval_cycles=-3)])
def test_bad_budgets(kwargs):
    with pytest.raises(InputError):
        Budget(**kwargs)


def test_kcu1500_part_table():
    assert dict(part_resources("xcku115-flvb2104-2-e")) == KCU
    with pytest.raises(InputError, match="did you mean 'xcku115'"):
        part_resources("xcku15-flvb2104-2-e")
    assert part_resources("nonsense", strict=False) is None


def test_fixture_parts_match_their_reports():
    for path in DATA.glob("*_csynth.xml"):
        rep = load_report(path)
        assert dict(part_resources(rep.part)) == rep.available, path.name
    assert len(PART_RESOURCES) >= 7


def test_good_design_passes_and_states_threshold():
    v = certify(Budget(), GOOD)
    assert v.status == "pass", v.reasons
    data = json.loads(v.to_json())
    assert data["threshold_cycles"] == 9000 and data["clock_mhz"] == 200.0
    assert data["clock_period_ns"] == 5.0 and data["status"] == "pass"


def test_one_cycle_over_fails():
    v = certify(Budget(), dataclasses.replace(GOOD, latency_worst=9001))
    assert v.status == "fail"
    assert any("9001 > 9000 cycles at 200 MHz" in r for r in v.reasons)


@pytest.mark.parametrize("field", ["latency_worst", "interval_max"])
def test_undef_is_a_failure_not_zero(field):
    v = certify(Budget(), dataclasses.replace(GOOD, **{field: None}))
    assert v.status == "fail" and any("undef" in r for r in v.reasons)


def test_real_undef_fixture_fails():
    rep = load_report(DATA / "Imam-f__RL-SOC-Tutorial-Vitis__VecDotProduct_csynth.xml")
    v = certify(Budget(cycles=10**9, clock_mhz=100, part=None), rep)
    assert v.status == "fail"


def test_estimated_clock_must_meet_target():
    v = certify(Budget(), dataclasses.replace(GOOD, estimated_clock_ns=5.2))
    assert v.status == "fail" and any("estimated clock 5.2 ns > target 5 ns" in r
                                      for r in v.reasons)


def test_other_clock_is_converted_and_flagged():
    # 4,000 cycles at 10 ns = 40 us = 8,000 budget cycles: latency passes, clock differs.
    rep = dataclasses.replace(GOOD, target_clock_ns=10.0, estimated_clock_ns=7.0,
                              latency_worst=4000, interval_max=4000)
    v = certify(Budget(), rep)
    checks = {c.name: c for c in v.checks}
    assert checks["latency"].status == "pass" and checks["latency"].measured == 8000
    assert checks["target_clock"].status == "fail" and v.status == "fail"


def test_resources_over_the_part_fail_and_limit_applies():
    over = dataclasses.replace(GOOD, resources={**GOOD.resources, "DSP": 5521})
    assert certify(Budget(), over).status == "fail"
    assert certify(Budget(max_utilization=74), GOOD).status == "fail"  # 75% LUT
    assert certify(Budget(max_utilization=75), GOOD).status == "pass"


def test_resource_totals_from_part_table_when_report_lacks_them():
    rep = dataclasses.replace(GOOD, available={k: None for k in KCU})
    v = certify(Budget(), rep)
    assert v.status == "pass"
    unknown = dataclasses.replace(rep, part="xc9unknown-x-1")
    assert certify(Budget(part=None), unknown).status == "unknown"


def test_wrong_part_fails():
    v = certify(Budget(), dataclasses.replace(GOOD, part="xczu7ev-ffvc1156-2-e"))
    assert v.status == "fail" and any("is not the budget part" in r for r in v.reasons)


def _cosim(status, lat=None, ii=None):
    return CosimReport(rows=(CosimRow("Verilog", status, lat, lat, lat, ii, ii, ii),
                             CosimRow("VHDL", "NA")))


def test_cosim_evidence():
    assert certify(Budget(), GOOD, _cosim("Pass", 8999, 4300)).status == "pass"
    assert certify(Budget(), GOOD, _cosim("Pass", 9001)).status == "fail"
    assert certify(Budget(), GOOD, _cosim("Fail")).status == "fail"
    assert certify(Budget(), GOOD, _cosim("NA")).status == "unknown"
    assert certify(Budget(), GOOD, _cosim("Pass")).status == "unknown"  # no latency measured
    assert certify(Budget(), None, _cosim("Pass", 100)).status == "pass"


def test_real_cosim_fixtures():
    fail = load_report(DATA / "SpAllen0726__HG-DREAM-Pulse-Detection-Project__myproject_cosim.rpt")
    assert certify(Budget(), cosim=fail).status == "fail"
    ok = load_report(DATA / "mzrghorbani__lr_hls_dev__LR_top_cosim.rpt")
    assert certify(Budget(), cosim=ok).status == "pass"
    big = load_report(DATA / "SahJaiswal__MNIST_HLS__c_mnist_cosim.rpt")
    assert certify(Budget(), cosim=big).status == "fail"  # 4,642,865 cycles


def test_hardware_counts():
    assert certify(Budget(), hw_p99_cycles=8000, hw_max_cycles=9000).status == "pass"
    v = certify(Budget(), hw_p99_cycles=8000, hw_max_cycles=9003)
    assert v.status == "fail" and any("hardware max latency 9003 > 9000" in r for r in v.reasons)
    with pytest.raises(InputError):
        certify(Budget(), hw_max_cycles=-1)


def test_no_evidence_is_unknown():
    v = certify(Budget())
    assert v.status == "unknown" and not v.passed


@given(st.integers(0, 20000), st.integers(1, 20000))
def test_latency_verdict_is_a_threshold(latency, budget_cycles):
    rep = dataclasses.replace(GOOD, latency_worst=latency, interval_max=1)
    v = certify(Budget(cycles=budget_cycles), rep)
    assert (v.status == "pass") == (latency <= budget_cycles)
