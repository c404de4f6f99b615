"""Cases hls4ml cannot express or gets wrong: fixsim is checked against its own contract.

The differential test (``test_hls4ml_diff.py``) leaves these out; here each one says why
and checks fixsim against docs/datapath.md instead (no hls4ml build needed).
"""

from __future__ import annotations

import numpy as np
import pytest

from fixsim.fixed import FixedType
from fixsim.network import load_spec, run


def _naive_maxpool(x: np.ndarray, kernel, stride, ceil_mode: bool) -> np.ndarray:
    """docs/datapath.md section 5, spelled out: the max of the window's valid elements."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride

    def count(size, k, s):
        if not ceil_mode:
            return (size - k) // s + 1
        out = -(-(size - k) // s) + 1
        return out - 1 if (out - 1) * s >= size else out

    oh, ow = count(h, kh, sh), count(w, kw, sw)
    out = np.empty((n, c, oh, ow), np.int64)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    vals = [int(x[b, ch, i * sh + u, j * sw + v]) for u in range(kh) for v in range(kw)
                            if i * sh + u < h and j * sw + v < w]
                    out[b, ch, i, j] = max(vals)
    return out


@pytest.mark.parametrize("fmt", ["ap_ufixed<8,4,AP_RND,AP_SAT>", "ap_fixed<8,4,AP_RND,AP_SAT>"])
@pytest.mark.parametrize("kernel,stride", [((2, 2), (2, 2)), ((3, 2), (2, 3)), ((3, 3), (2, 2))])
def test_ceil_mode_pool_takes_the_max_of_valid_elements(fmt, kernel, stride):
    """hls4ml cannot express a ceil-mode pool: its PyTorch front end ignores ``ceil_mode``
    (``parse_pooling_layer`` computes the floor output size), and a padded hls4ml pool fills
    the padding with ``pad_val`` = the code with only the MSB set, which for an unsigned
    map is 2^(I-1), not the smallest code (nnet_pooling.h), so its edge outputs are wrong.
    fixsim's partial windows take the max of their valid elements only: checked against
    the contract, with edge windows whose valid elements all lie below 2^(I-1) (where
    hls4ml's unsigned pad value would win)."""
    f = FixedType.parse(fmt)
    h, w = (_partial_size(k, st) for k, st in zip(kernel, stride))
    spec = load_spec({"name": "ceilpool", "input": {"shape": [2, h, w], "format": fmt},
                      "layers": [{"name": "pool", "type": "maxpool2d", "kernel": list(kernel),
                                  "stride": list(stride), "ceil_mode": True}]})
    rng = np.random.default_rng(11)
    pad = 2 ** (f.width - 1)  # hls4ml's pad value as a raw code (only the MSB set)
    x = rng.integers(f.raw_min, pad, size=(5,) + spec.input_shape)  # raw codes below it
    x[:, :, 0, 0] = f.raw_max  # and a few maxima inside
    taps = run(spec, {}, x)
    want = _naive_maxpool(taps["input"], kernel, stride, True)
    assert np.array_equal(taps["pool"], want)
    edge = np.concatenate([taps["pool"][:, :, -1, 1:].ravel(), taps["pool"][:, :, 1:, -1].ravel()])
    assert edge.max() < pad


def _partial_size(k: int, s: int) -> int:
    """The smallest size >= 5 whose ceil-mode sweep ends in a partial window."""
    size = 5
    while True:
        out = -(-(size - k) // s) + 1
        out -= (out - 1) * s >= size
        if (out - 1) * s + k > size:
            return size
        size += 1
