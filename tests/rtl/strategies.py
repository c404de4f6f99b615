"""Hypothesis strategies for run-time data of a compiled network: weights and inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def raw_array(fmt, shape):
    """Raw mantissas of ``fmt``: Hypothesis values (edges favoured) or a seeded fill."""
    full = hnp.arrays(np.int64, shape, elements=st.integers(fmt.raw_min, fmt.raw_max))

    @st.composite
    def seeded(draw):
        # Large tensors: a seeded uniform fill, scaled down sometimes so that sums stay
        # in range as often as they saturate.
        seed = draw(st.integers(0, 2**32 - 1))
        shift = draw(st.integers(0, max(fmt.width - 2, 0)))
        rng = np.random.default_rng(seed)
        return rng.integers(fmt.raw_min >> shift, (fmt.raw_max >> shift) + 1, size=shape)

    return st.one_of(full, seeded()) if int(np.prod(shape)) <= 64 else seeded()


@st.composite
def weights_for(draw, spec):
    """A complete raw weight dict for ``spec``."""
    formats = spec.weight_formats()
    return {name: draw(raw_array(formats[name], shape))
            for name, shape in spec.weight_shapes().items()}


@st.composite
def inputs_for(draw, spec, max_frames: int = 3):
    """Frames (N, C, H, W): float64 values (quantized by the input layer) or raw integers."""
    n = draw(st.integers(1, max_frames))
    shape = (n,) + tuple(spec.input_shape)
    fmt = spec.input_format
    if draw(st.booleans()):
        return draw(raw_array(fmt, shape))
    # Floats around and beyond the input range, and exact ties of the input LSB.
    top = 2.0 ** (fmt.int_bits - 1) * 1.5
    if draw(st.booleans()):
        # Mostly in and around the range; sometimes any double (huge, tiny, inf, NaN).
        elements = st.one_of(st.floats(-top, top, allow_nan=False, allow_infinity=False),
                             st.floats(allow_nan=True, allow_infinity=True))
        return draw(hnp.arrays(np.float64, shape, elements=elements))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    halves = rng.integers(-2 * 2**fmt.width, 2 * 2**fmt.width, size=shape)
    return halves * (fmt.lsb / 2)  # every value a multiple of half an LSB: many ties
