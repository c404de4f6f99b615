"""The rtl/ test bench loads weight images at run time: one binary, two images, no rebuild."""

from __future__ import annotations

import numpy as np
import pytest

from fixsim.csim import twin
from fixsim.errors import FixsimError, ToolError
from fixsim.network import run
from fixsim.network.weights import random_weights
from fixsim.vectors.weight_image import build_image

from .test_weight_image import recrc


@pytest.fixture(scope="module")
def bench(snl_spec, small_spec):
    from tests.conftest import oracle_unavailable_reason

    reason = oracle_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return twin.build([snl_spec, small_spec])


def test_one_binary_two_images_bit_exact(bench, snl_spec, tmp_path):
    x = np.random.default_rng(3).standard_normal((3, 1, 65, 65)) * 3
    outs = []
    for seed, bits in ((11, None), (12, 64)):
        w = random_weights(snl_spec, seed=seed)
        path = tmp_path / f"w{seed}.img"
        path.write_bytes(build_image(snl_spec, w, word_bits=bits))
        got = twin.run_testbench(bench, "specklenn_snl", path, x)
        want = run(snl_spec, w, x)
        assert set(got) == set(want)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], err_msg=f"seed {seed} tap {name}")
        outs.append(got["fc2"])
    assert not np.array_equal(outs[0], outs[1])  # the two images really differ


def test_hwc_dense_and_unsigned_weights_through_the_image(bench, small_spec, small_weights):
    x = np.random.default_rng(4).integers(-128, 128, size=(5, 2, 5, 6))
    got = twin.run_testbench(bench, "small_hwc", build_image(small_spec, small_weights), x)
    want = run(small_spec, small_weights, x)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_cpp_rejects_damaged_or_foreign_images(bench, snl_spec, small_spec, small_weights):
    blob = build_image(snl_spec, random_weights(snl_spec, seed=1))
    x = np.zeros((1, 1, 65, 65))
    cases = [(blob[:-9], "truncated"), (b"XXXXXXXX" + blob[8:], "bad magic"),
             (build_image(small_spec, small_weights), "is for spec")]
    flipped = bytearray(blob)
    flipped[5000] ^= 4
    cases.append((bytes(flipped), "CRC32"))
    wide = bytearray(build_image(snl_spec, random_weights(snl_spec, seed=1), word_bits=32))
    off = 1664
    wide[off:off + 4] = (70000).to_bytes(4, "little", signed=True)
    cases.append((recrc(wide), "outside the raw range"))
    for data, message in cases:
        with pytest.raises(ToolError, match=message):
            twin.run_testbench(bench, "specklenn_snl", data, x)


def test_serve_weights_request_swaps_images(bench, snl_spec, tmp_path):
    from fixsim.hil.csim import CsimProcess

    w1, w2 = random_weights(snl_spec, seed=21), random_weights(snl_spec, seed=22)
    x = np.random.default_rng(5).integers(-5000, 5000, size=(2, 1, 65, 65))
    want1, want2 = run(snl_spec, w1, x)["fc2"], run(snl_spec, w2, x)["fc2"]
    args = twin.serve_args(bench, "specklenn_snl", build_image(snl_spec, w1), tmp_path)
    assert args[2] == "--image"
    proc = CsimProcess(bench.exe, args).start()
    try:
        np.testing.assert_array_equal(proc(x[0].reshape(-1))[0], want1[0])
        proc.load_weights(build_image(snl_spec, w2))
        np.testing.assert_array_equal(proc(x[1].reshape(-1))[0], want2[1])
        with pytest.raises(FixsimError, match="CRC32"):
            proc.load_weights(build_image(snl_spec, w1)[:-8] + b"\0\0\0\0WEND")
        # a rejected image leaves the previous weights in place
        np.testing.assert_array_equal(proc(x[0].reshape(-1))[0], want2[0])
    finally:
        proc.stop()


def test_hil_csim_run_loads_the_vector_sets_image(bench, tiny_set):
    from fixsim.hil import make_backend, run_vectors
    from fixsim.hil.vectors import read_vector_set

    vs = read_vector_set(tiny_set)
    # start the device with other weights: only the image sent by the run makes it pass
    other = build_image("specklenn-snl", random_weights("specklenn-snl", seed=99))
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        args = twin.serve_args(bench, "specklenn_snl", other, d)
        backend = make_backend("csim", exe=str(bench.exe), args=args)
        rep = run_vectors(backend, vs.inputs, vs.expected, word_bytes=vs.word_bytes,
                          weights=vs.weights, timeout=20)
    assert rep.passed, rep.failures
