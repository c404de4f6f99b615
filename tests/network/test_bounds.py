"""The bundled spec's formats prove that no accumulator can overflow (docs/datapath.md)."""

from __future__ import annotations

from pathlib import Path

from fixsim.network import load_spec
from fixsim.network.bounds import accumulator_bounds, bounds_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "datapath.md"


def test_specklenn_accumulators_cannot_overflow_and_are_float64_exact():
    bounds = accumulator_bounds("specklenn-snl")
    assert [b.layer for b in bounds] == ["conv1", "conv2", "fc1", "fc2"]
    for b in bounds:
        assert b.no_rounding and b.cannot_overflow and b.float64_exact and b.order_free
        assert b.max_abs == 256 * b.fan_in + 32
        assert b.max_abs < b.accum_limit
        # narrowest: one integer bit fewer would not hold the bound
        assert b.max_abs >= b.accum_limit / 2


def test_bound_detects_a_too_narrow_accumulator():
    d = load_spec("specklenn-snl").to_dict()
    d["layers"][5]["formats"]["accum"] = "ap_fixed<40,18,AP_TRN,AP_SAT>"
    fc1 = accumulator_bounds(d)[2]
    assert fc1.layer == "fc1" and not fc1.cannot_overflow and not fc1.order_free
    d["layers"][5]["formats"]["accum"] = "ap_fixed<40,20>"  # F = 20 < 22: rounds
    assert not accumulator_bounds(d)[2].no_rounding


def test_docs_table_is_current():
    assert bounds_table("specklenn-snl") in DOC.read_text()
