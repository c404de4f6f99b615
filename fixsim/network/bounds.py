"""Static accumulator bounds: what the formats alone prove about every conv2d/dense layer.

For each layer, the largest magnitude any partial sum can take for *any* input in the
input format and *any* weights and bias in their formats (so it holds after a weight
reload too) is ``K * max|x| * max|w| + max|A(bias)|``.  If it lies inside the
accumulator's range, the accumulator can never overflow, and when moreover no product
is rounded (``F_acc >= F_in + F_w``) every order of summation gives the same bits; if the
bound on the product grid is below 2^53, a float64 GEMM of the mantissas is exact.

>>> from fixsim.network import load_spec
>>> b = accumulator_bounds(load_spec("specklenn-snl"))[0]
>>> b.layer, b.fan_in, b.max_abs, b.accum_limit, b.cannot_overflow, b.float64_exact
('conv1', 25, 6432.0, 8192.0, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fixed import FixedType, convert
from ..fixed.format import Overflow
from .spec import ModelSpec, load_spec


@dataclass(frozen=True)
class AccumulatorBound:
    """The static bound of one conv2d/dense layer (values in real units, exact)."""

    layer: str
    fan_in: int
    max_abs_input: float
    max_abs_weight: float
    max_abs_bias: float
    max_abs: float            # bound on |every partial sum| (bias included)
    accum: FixedType
    accum_limit: float        # |acc| < accum_limit never overflows (2^(I-1) signed)
    raw_partial_sum: int      # bound on |sum of products| as an integer on the product grid
    no_rounding: bool         # F_acc >= F_prod: no product is ever rounded
    cannot_overflow: bool
    float64_exact: bool       # raw_partial_sum < 2^53

    @property
    def order_free(self) -> bool:
        """Every summation order gives the contract's bits (for any data)."""
        wraps = self.accum.overflow == Overflow.AP_WRAP and self.accum.sat_bits == 0
        return self.no_rounding and (self.cannot_overflow or wraps)


def _max_abs_raw(fmt: FixedType) -> int:
    return max(-fmt.raw_min, fmt.raw_max)


def accumulator_bounds(spec) -> list[AccumulatorBound]:
    """The :class:`AccumulatorBound` of every conv2d/dense layer of ``spec``, in order."""
    spec: ModelSpec = load_spec(spec)
    out = []
    for layer in spec.mac_layers:
        fin, fw, acc = layer.in_format, layer.formats.weight, layer.formats.accum
        pt = layer.product_format
        xr, wr = _max_abs_raw(fin), _max_abs_raw(fw)
        psum = layer.fan_in * xr * wr  # product grid, F = F_in + F_w
        if layer.bias:
            fb = layer.formats.bias
            ends = convert([fb.raw_min, fb.raw_max], fb, acc).tolist()
            b_acc = max(abs(v) for v in ends)
            b_real = _max_abs_raw(fb) * fb.lsb
        else:
            b_acc, b_real = 0, 0.0
        shift = acc.frac_bits - pt.frac_bits
        no_rounding = shift >= 0
        total_raw = (psum << shift) + b_acc if no_rounding else None
        lo = acc.raw_min + (1 if (acc.overflow == Overflow.AP_SAT_SYM and acc.signed) else 0)
        fits = total_raw is not None and total_raw <= acc.raw_max and -total_raw >= lo
        out.append(AccumulatorBound(
            layer=layer.name, fan_in=layer.fan_in, max_abs_input=xr * fin.lsb,
            max_abs_weight=wr * fw.lsb, max_abs_bias=b_real,
            max_abs=layer.fan_in * xr * fin.lsb * wr * fw.lsb + b_real,
            accum=acc, accum_limit=2.0 ** (acc.int_bits - acc.signed),
            raw_partial_sum=psum, no_rounding=no_rounding, cannot_overflow=fits,
            float64_exact=psum < 2 ** 53))
    return out


def bounds_table(spec) -> str:
    """The bounds as a Markdown table (used in docs/datapath.md)."""
    rows = ["| layer | K | max abs x | max abs w | max abs bias | bound on abs(acc) | accumulator | "
            "limit | raw sum bound | cannot overflow | float64 exact |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for b in accumulator_bounds(spec):
        rows.append(f"| {b.layer} | {b.fan_in} | {b.max_abs_input:g} | {b.max_abs_weight:g} | "
                    f"{b.max_abs_bias:g} | {b.max_abs:g} | `{b.accum}` | {b.accum_limit:g} | "
                    f"{b.raw_partial_sum} (< 2^{b.raw_partial_sum.bit_length()}) | "
                    f"{'yes' if b.cannot_overflow else 'NO'} | {'yes' if b.float64_exact else 'NO'} |")
    return "\n".join(rows)


__all__ = ["AccumulatorBound", "accumulator_bounds", "bounds_table"]
