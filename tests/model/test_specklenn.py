"""SpeckleNN geometry, parameter count, BatchNorm folding and the numpy reference."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the 'model' extra (torch)")

from fixsim.errors import InputError  # noqa: E402
from fixsim.model import INFERENCE_PARAMETERS  # noqa: E402
from fixsim.model.specklenn import (SpeckleNNInference, SpeckleNNTrain,  # noqa: E402
                                    count_parameters, flat_features, fold_batchnorm,
                                    init_weights)
from fixsim.model.weights import (WEIGHT_SHAPES, check_weights, load_npz,  # noqa: E402
                                  reference_forward, save_npz)


def _trained_like(seed=0):
    """A training model with non-trivial BatchNorm statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    m = SpeckleNNTrain()
    init_weights(m, g)
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(16, 65, 65, generator=g) * 3 + 1)
        for bn in (m.bn1, m.bn2):
            bn.weight.uniform_(0.3, 2.0, generator=g)
            bn.bias.uniform_(-0.5, 0.5, generator=g)
    return m.eval(), g


def test_inference_parameter_count_is_64660():
    assert count_parameters(SpeckleNNInference()) == INFERENCE_PARAMETERS == 64_660
    shapes = {k: tuple(v.shape) for k, v in SpeckleNNInference().state_dict().items()}
    assert shapes == WEIGHT_SHAPES


def test_training_variant_has_bn_and_no_conv_bias():
    m = SpeckleNNTrain()
    assert m.conv1.bias is None and m.conv2.bias is None
    # 64,660 - 10 conv biases + 2 * (7 + 3) BatchNorm affine parameters
    assert count_parameters(m) == 64_660 - 10 + 20


def test_ceil_mode_geometry():
    assert flat_features(65) == 588
    m = SpeckleNNInference().eval()
    x = torch.randn(2, 1, 65, 65)
    with torch.no_grad():
        a = torch.nn.functional.max_pool2d(torch.relu(m.conv1(x)), 2, 2, ceil_mode=True)
        assert a.shape == (2, 7, 31, 31)
        b = torch.nn.functional.max_pool2d(torch.relu(m.conv2(a)), 2, 2, ceil_mode=True)
        assert b.shape == (2, 3, 14, 14)
        assert m(x).shape == (2, 50)


def test_training_output_is_unit_norm():
    m, g = _trained_like()
    with torch.no_grad():
        e = m(torch.randn(5, 65, 65, generator=g))
    np.testing.assert_allclose(e.norm(dim=1).numpy(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fold_equals_training_variant_in_eval_mode(seed):
    m, g = _trained_like(seed)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    f = fold_batchnorm(m)
    x = torch.randn(32, 65, 65, generator=g) * 2
    with torch.no_grad():
        a, b = m.embed_raw(x), f(x)
    assert a.abs().max() > 0.1  # a non-degenerate comparison
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    # and the normalized training output is the normalized folded output
    torch.testing.assert_close(torch.nn.functional.normalize(b), m(x), rtol=1e-5, atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_numpy_reference_matches_torch(tmp_path):
    m, g = _trained_like()
    f = fold_batchnorm(m)
    weights = {k: v.numpy() for k, v in f.state_dict().items()}
    save_npz(tmp_path / "w.npz", weights)
    loaded = load_npz(tmp_path / "w.npz")
    assert all(np.array_equal(loaded[k], weights[k]) for k in WEIGHT_SHAPES)
    x = torch.randn(4, 65, 65, generator=g)
    with torch.no_grad():
        ref = f(x).numpy()
    np.testing.assert_allclose(reference_forward(loaded, x.numpy()), ref, rtol=1e-4, atol=1e-4)


def test_weight_validation_names_the_problem(tmp_path):
    w = {k: np.zeros(s, np.float32) for k, s in WEIGHT_SHAPES.items()}
    bad = dict(w, **{"fc1.weight": np.zeros((588, 100), np.float32)})
    with pytest.raises(InputError, match="fc1.weight"):
        check_weights(bad)
    with pytest.raises(InputError, match="missing"):
        check_weights({k: v for k, v in w.items() if k != "conv1.bias"})
    with pytest.raises(InputError, match="does not exist"):
        load_npz(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError):
        load_npz(tmp_path / "junk.npz")


def test_bad_input_shape():
    with pytest.raises(InputError, match="shape"):
        SpeckleNNInference()(torch.zeros(2, 3, 65, 65))


def test_init_is_seeded_and_kaiming():
    a, b = SpeckleNNTrain(), SpeckleNNTrain()
    init_weights(a, torch.Generator().manual_seed(5))
    init_weights(b, torch.Generator().manual_seed(5))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    # Kaiming normal, fan_in 7*25 for conv2: std sqrt(2/175)
    assert abs(float(a.conv2.weight.detach().std()) / (2 / 175) ** 0.5 - 1) < 0.3
