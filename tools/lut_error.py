"""Measure how far the lookup-table activations are from the true functions.

For the default tables (hls4ml 1.3.0's: sigmoid/tanh 1024 entries of ap_fixed<18,8> over
[-8, 8) / [-4, 4); softmax exp/inverse tables of 1024 entries and ap_fixed<18,8,AP_RND,
AP_SAT> formats) this runs fixsim's exact twin and reports the largest absolute error
against the float64 function of the same (quantized) input.  The outputs are taken in a
wide result format (ap_fixed<32,8,AP_RND,AP_SAT>) so that only the tables, the index and
the softmax's internal formats contribute.  docs/datapath.md quotes the printed table;
tests/network/test_lut.py checks that it still matches.

Usage: ``python tools/lut_error.py`` (prints the markdown rows).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixsim.fixed import FixsimWarning, quantize, to_float  # noqa: E402
from fixsim.network import load_spec, run, run_float  # noqa: E402

#: hls4ml's default precision: the input of every measurement.
INPUT = "ap_fixed<16,6>"
#: A result format wide enough to add no error of its own.
WIDE = "ap_fixed<32,8,AP_RND,AP_SAT>"
#: Softmax: channels, vectors and the seed of the random inputs.
CHANNELS, VECTORS, SEED = 10, 20000, 0


def _max_error(layer: dict, x: np.ndarray, shape) -> tuple[float, float]:
    """(max abs error, input value where it occurs: the first coordinate) of one layer."""
    spec = load_spec({"name": "err", "input": {"shape": list(shape), "format": INPUT},
                      "layers": [{"name": "a", **layer, "formats": {
                          **layer.get("formats", {}), "result": WIDE}}]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        raw = quantize(x, INPUT)
    exact = to_float(run(spec, {}, raw)["a"], WIDE)
    ref = run_float(spec, {}, to_float(raw, INPUT))["a"]
    err = np.abs(exact - ref)
    k = np.unravel_index(int(np.argmax(err)), err.shape)
    return float(err[k]), float(to_float(raw, INPUT)[k])


def measure() -> list[dict]:
    """The rows of the error table (deterministic: every input code, or seeded vectors)."""
    f = 2.0 ** -10  # the LSB of ap_fixed<16,6>
    rows = []
    for fn, rng in (("sigmoid", 8), ("tanh", 4)):
        for index, lo, hi, what in (("trunc", -32, 32, "all codes"),
                                    ("floor", -32, 32, "all codes"),
                                    ("trunc", rng, 32, f"codes >= {rng}")):
            x = np.arange(lo, hi, f).reshape(-1, 1, 1, 1)
            if lo > 0:  # the clamped tails: both signs
                x = np.concatenate([-x - f, x])
            err, at = _max_error({"type": fn, "index": index}, x, (1, 1, 1))
            rows.append(dict(layer=fn, setup=f"1024 x ap_fixed<18,8>, [-{rng}, {rng}), {index}",
                             inputs=f"{what} of {INPUT}" + (" or < -" + str(rng) if lo > 0 else ""),
                             error=err, at=at))
    gen = np.random.default_rng(SEED)
    for impl in ("stable", "latency"):
        for span in (1, 4, 8):
            x = gen.uniform(-span, span, (VECTORS, CHANNELS, 1, 1))
            err, _ = _max_error({"type": "softmax", "implementation": impl}, x, (CHANNELS, 1, 1))
            rows.append(dict(layer="softmax", setup=f"{impl}, hls4ml defaults",
                             inputs=f"{VECTORS} x {CHANNELS} uniform in [-{span}, {span})",
                             error=err, at=None))
    return rows


def row_text(row: dict) -> str:
    """One markdown row (4 significant digits; where the largest error occurs)."""
    at = "" if row["at"] is None else f" (x = {row['at']:g})"
    return f"| {row['layer']} | {row['setup']} | {row['inputs']} | {row['error']:.4g}{at} |"


def main() -> int:
    print("| layer | tables | inputs | max abs error |")
    print("|---|---|---|---|")
    for row in measure():
        print(row_text(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
