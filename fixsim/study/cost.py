"""Hardware cost of a spec: multipliers, DSP48E2 slices, rough LUT/FF/BRAM, latency cycles.

The mapping (how many multipliers each layer gets) follows the SpeckleNN deployment that
:data:`fixsim.hls.latency_model.SPECKLENN_LAYERS` describes: a conv2d computes one output
window per beat with every product in parallel (``C*KH*KW*F`` multipliers), a dense layer
reuses each multiplier ``dense_reuse`` times (20); a layer whose spec sums in hls4ml's
Resource order uses its own reuse factor.  The cycles are the analytical latency model's
for that mapping (:func:`fixsim.hls.latency_model.predict`); in this model they depend on
the layer shapes and the mapping, not on the formats.

DSP48E2 rule (one slice multiplies a 27-bit by an 18-bit signed operand): an operand of
``w`` bits (plus one for an unsigned format) needs ``1`` slice column if ``w <= n`` and
``1 + ceil((w - n) / (n - 1))`` otherwise (each further partial product takes ``n - 1``
unsigned bits), for ``n`` = 27 on one side and 18 on the other; a product takes the
product of the two counts, in the cheaper orientation.  ``ap_fixed<32,..>`` by
``ap_fixed<32,..>`` takes 2 x 2 = 4 slices, 16 x 16 one.  When both operands have at most
``lut_mult_bits`` (10) bits the multiplier is assumed to be built from LUTs (Vivado's
choice for narrow products; 0 disables the rule) and takes no slice.

LUT, FF and BRAM are rough, documented estimates (docs/study.md), for ranking points, not
for sign-off:

- LUT: ``ceil(wa*wb/2)`` per LUT multiplier; one accumulator-width adder per multiplier;
  ``2 * result width`` per parallel output lane (conversion and activation).
- FF: per multiplier a product register (``wa + wb``) and an accumulator register; the
  weights of fully parallel layers held in registers (``params * weight width``).
- BRAM36: weights of reused dense layers, ``max(ceil(bits / 36864), ceil(mults * w / 72))``
  (capacity, and 72 bits a cycle per block); conv line buffers ``(KH - 1) * W * C * in width``
  bits, ``ceil(bits / 36864)`` blocks.

>>> from fixsim.study.cost import dsp_per_multiplier
>>> dsp_per_multiplier(16, 16), dsp_per_multiplier(27, 18), dsp_per_multiplier(32, 32)
(1, 1, 4)
>>> dsp_per_multiplier(8, 8), dsp_per_multiplier(8, 8, lut_mult_bits=0)
(0, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError
from ..network import load_spec
from ..network.spec_types import MacLayer

#: DSP48E2 multiplier operand widths (signed).
DSP_A, DSP_B = 27, 18
#: Bits of one BRAM36 block, and the bits it delivers per cycle (two 36-bit ports).
BRAM36_BITS, BRAM36_PORT_BITS = 36864, 72
#: Reuse of the dense layers in the SpeckleNN mapping (SPECKLENN_LAYERS).
DENSE_REUSE = 20
#: Widest operands assumed built from LUTs (both operands at most this many bits).
LUT_MULT_BITS = 10


@dataclass(frozen=True)
class CostModel:
    """The assumptions of :func:`cost`: dense reuse, the LUT-multiplier rule, the clock."""

    dense_reuse: int = DENSE_REUSE
    lut_mult_bits: int = LUT_MULT_BITS
    clock_mhz: float = 200.0

    def __post_init__(self):
        for name in ("dense_reuse", "lut_mult_bits"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "dense_reuse"
                                                                      else 0):
                raise InputError(f"cost model {name} must be an integer >= "
                                 f"{1 if name == 'dense_reuse' else 0}, got {v!r}")

    def to_dict(self) -> dict:
        return {"dense_reuse": self.dense_reuse, "lut_mult_bits": self.lut_mult_bits,
                "clock_mhz": self.clock_mhz, "dsp": f"DSP48E2 {DSP_A}x{DSP_B} signed"}


def _columns(width: int, n: int) -> int:
    return 1 if width <= n else 1 + math.ceil((width - n) / (n - 1))


def dsp_per_multiplier(wa: int, wb: int, *, lut_mult_bits: int = LUT_MULT_BITS) -> int:
    """DSP48E2 slices of one signed ``wa x wb`` multiplier (module docstring rule)."""
    if max(wa, wb) <= lut_mult_bits:
        return 0
    return min(_columns(wa, DSP_A) * _columns(wb, DSP_B), _columns(wa, DSP_B) * _columns(wb, DSP_A))


def _signed_width(fmt) -> int:
    return fmt.width + (0 if fmt.signed else 1)


def latency_layers(spec, model: CostModel = CostModel()) -> tuple[list[dict], list[int]]:
    """The spec as layer dicts of :func:`fixsim.hls.latency_model.predict`, with the mapping.

    Returns (layers, input shape as [H, W, C] or [L, C]).

    Raises
    ------
    InputError
        A layer the latency model does not describe.
    """
    from ..hls.latency_model import KINDS

    spec = load_spec(spec)
    out: list[dict] = []
    for layer in spec.layers:
        t = layer.type
        if t == "conv2d":
            ph, pw = layer.padding
            if ph or pw:
                out.append({"name": f"{layer.name}_pad", "kind": "zeropad2d",
                            "padding": [[ph, ph], [pw, pw]]})
            d = {"name": layer.name, "kind": "conv2d", "filters": layer.out_channels,
                 "kernel": list(layer.kernel), "stride": list(layer.stride)}
        elif t == "dense":
            d = {"name": layer.name, "kind": "dense", "units": layer.out_shape[0]}
        elif t == "maxpool2d":
            d = {"name": layer.name, "kind": "maxpool2d", "pool": list(layer.kernel),
                 "stride": list(layer.stride), "ceil_mode": bool(layer.ceil_mode)}
        elif t in KINDS and not KINDS[t].keys:
            d = {"name": layer.name, "kind": t}
        elif t == "activation" and getattr(layer.activation, "kind", None) in KINDS:
            d = {"name": layer.name, "kind": layer.activation.kind}
        else:
            raise InputError(f"layer {layer.name!r} ({t}) is not described by the latency "
                             "model of the study")
        if isinstance(layer, MacLayer):
            if layer.options.sum_order == "resource":
                d["reuse"] = layer.options.reuse_factor
            elif t == "dense":
                d["reuse"] = model.dense_reuse
            else:
                d["parallelism"] = layer.fan_in * layer.out_shape[0]
            out.append(d)
            act = layer.activation.kind
            if act != "linear" and act in KINDS:
                out.append({"name": f"{layer.name}_{act}", "kind": act})
        else:
            out.append(d)
    shape = spec.input_shape
    hwc = [shape[1], shape[2], shape[0]] if len(shape) == 3 else [shape[1], shape[0]]
    return out, hwc


def cost(spec, model: CostModel = CostModel()) -> dict:
    """Cost of ``spec`` under ``model``: a flat dict of numbers (module docstring).

    Keys: ``multipliers``, ``dsp``, ``lut_multipliers``, ``lut``, ``ff``, ``bram36``,
    ``weight_bits`` (every weight and bias times its width), ``cycles`` (None with
    ``cycles_note`` when the latency model does not describe a layer), ``latency_us``.
    """
    from ..hls.latency_model import predict

    spec = load_spec(spec)
    try:
        layers, shape = latency_layers(spec, model)
        pred = predict(layers, input_shape=shape, clock_mhz=model.clock_mhz)
        mults = {e.name: e.multipliers for e in pred.layers}
        cycles, note = pred.latency_cycles, ""
    except InputError as exc:
        pred, cycles, note = None, None, str(exc)
        mults = {l.name: l.fan_in * l.out_shape[0] for l in spec.mac_layers}
    tot = dict(multipliers=0, dsp=0, lut_multipliers=0, lut=0, ff=0, bram36=0, weight_bits=0)
    for layer in spec.mac_layers:
        f = layer.formats
        wa, wb = _signed_width(layer.in_format), _signed_width(f.weight)
        m = mults[layer.name]
        per = dsp_per_multiplier(wa, wb, lut_mult_bits=model.lut_mult_bits)
        wbits = sum(t.size * t.format.width for t in layer.tensors())
        tot["multipliers"] += m
        tot["dsp"] += m * per
        tot["lut_multipliers"] += 0 if per else m
        lanes = max(1, math.ceil(m / layer.fan_in))  # outputs finished per cycle
        tot["lut"] += (0 if per else m * math.ceil(wa * wb / 2)) + m * f.accum.width \
            + 2 * lanes * f.result.width
        tot["ff"] += m * (wa + wb + f.accum.width)
        tot["weight_bits"] += wbits
        if layer.type == "dense" and m < layer.fan_in * layer.out_shape[0]:
            tot["bram36"] += max(math.ceil(wbits / BRAM36_BITS),
                                 math.ceil(m * f.weight.width / BRAM36_PORT_BITS))
        else:
            tot["ff"] += wbits
        if layer.type == "conv2d":
            c, _, w = layer.in_shape
            line = (layer.kernel[0] - 1) * w * c * layer.in_format.width
            tot["bram36"] += math.ceil(line / BRAM36_BITS)
    tot["cycles"] = cycles
    tot["latency_us"] = None if cycles is None else cycles / model.clock_mhz
    if note:
        tot["cycles_note"] = note
    return tot


__all__ = ["CostModel", "cost", "dsp_per_multiplier", "latency_layers", "DSP_A", "DSP_B",
           "DENSE_REUSE", "LUT_MULT_BITS"]
