"""Dropout and BatchNorm1d: training vs eval behaviour, running statistics, state, dtypes, errors."""

import numpy as np
import pytest

from ownnet.nn.init import manual_seed
from ownnet.nn.regularization import BatchNorm1d, Dropout


# --- Dropout --------------------------------------------------------------------------------------
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest():
    manual_seed(0)
    layer = Dropout(0.3)
    x = np.ones((200, 500), dtype=np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {np.float32(0.0), np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.005  # 100,000 draws
    assert abs(y.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation


def test_dropout_backward_uses_the_forward_mask():
    manual_seed(1)
    layer = Dropout(0.5)
    x = np.random.default_rng(0).standard_normal((4, 6))
    y = layer.forward(x)
    grad = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad == 0, y == 0)
    np.testing.assert_allclose(grad[grad != 0], 2.0)
    np.testing.assert_allclose(y, x * grad)


def test_dropout_is_reproducible_with_manual_seed():
    x = np.ones((8, 8))
    manual_seed(7)
    first = Dropout().forward(x)
    manual_seed(7)
    np.testing.assert_array_equal(Dropout().forward(x), first)
    assert not np.array_equal(Dropout().forward(x), first)


def test_dropout_is_the_identity_in_eval_mode_and_for_p_zero():
    x = np.random.default_rng(0).standard_normal((3, 4))
    for layer in (Dropout(0.9).eval(), Dropout(0.0)):
        np.testing.assert_array_equal(layer.forward(x), x)
        np.testing.assert_array_equal(layer.backward(x), x)


@pytest.mark.parametrize("p", [1, 1.0, -0.1, 1.5, True, "0.5", None])
def test_dropout_rejects_p_outside_zero_one(p):
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\)"):
        Dropout(p)


def test_dropout_config_and_errors():
    assert Dropout(0.25).get_config() == {"p": 0.25}
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"
    layer = Dropout()
    with pytest.raises(ValueError, match=r"backward\(\) called before forward\(\)"):
        layer.backward(np.ones((2, 2)))
    layer.forward(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(2, 2\)"):
        layer.backward(np.ones((2, 3)))


# --- BatchNorm1d ----------------------------------------------------------------------------------
def _batch(seed=0, shape=(16, 3)):
    return np.random.default_rng(seed).standard_normal(shape) * [1.0, 5.0, 0.1] + [0.0, -3.0, 10.0]


def test_batchnorm_normalises_each_feature_in_training():
    layer = BatchNorm1d(3, dtype="float64")
    x = _batch()
    y = layer.forward(x)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
    variance = x.var(axis=0)  # biased, as used for normalising
    np.testing.assert_allclose(y.var(axis=0), variance / (variance + 1e-5), rtol=1e-12)
    layer.weight.data[...] = [1.0, 2.0, 3.0]
    layer.bias.data[...] = [0.0, 1.0, -1.0]
    y = layer.forward(_batch())
    np.testing.assert_allclose(y.mean(axis=0), [0.0, 1.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), [1.0, 2.0, 3.0] * np.sqrt(variance / (variance + 1e-5)),
                               rtol=1e-12)


def test_batchnorm_running_statistics_by_hand():
    layer = BatchNorm1d(2, momentum=0.5, dtype="float64")
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 16.0]])
    layer.forward(x)
    # batch mean [3, 12]; unbiased variance [4, 12]: running = 0.5 * initial + 0.5 * batch
    np.testing.assert_allclose(layer.running_mean, [1.5, 6.0])
    np.testing.assert_allclose(layer.running_var, [0.5 + 2.0, 0.5 + 6.0])
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, [2.25, 9.0])
    np.testing.assert_allclose(layer.running_var, [3.25, 9.25])


def test_batchnorm_eval_mode_uses_the_running_statistics():
    layer = BatchNorm1d(2, dtype="float64")
    layer.running_mean[...] = [1.0, -1.0]
    layer.running_var[...] = [4.0, 0.25]
    layer.eval()
    x = np.array([[3.0, 0.0]])  # one sample is fine in eval mode
    inv_std = 1 / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(layer.forward(x), [[2.0, 1.0] * inv_std])
    np.testing.assert_allclose(layer.backward(np.ones((1, 2))), [inv_std])  # dy/dx = weight * inv_std
    np.testing.assert_array_equal(layer.running_mean, [1.0, -1.0])  # not updated in eval mode


def test_batchnorm_without_running_stats_always_uses_the_batch():
    layer = BatchNorm1d(3, track_running_stats=False, dtype="float64").eval()
    assert layer.named_buffers() == [] and layer.running_mean is None
    y = layer.forward(_batch())
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)


def test_batchnorm_without_affine_has_no_parameters():
    layer = BatchNorm1d(3, affine=False)
    assert layer.parameters() == [] and layer.weight is None
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var"]
    x = _batch().astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


def test_batchnorm_state_and_dtype():
    layer = BatchNorm1d(3)
    assert list(layer.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert all(a.dtype == np.float32 for a in layer.state_dict().values())
    y = layer.forward(_batch())  # float64 data into a float32 layer
    assert y.dtype == np.float32 and layer.running_mean.dtype == np.float32
    assert layer.backward(np.ones((16, 3), dtype=np.float32)).dtype == np.float32
    assert layer.weight.grad.dtype == np.float32

    layer.to("float64")  # the layer must use the converted buffers, not stale float32 ones
    assert layer.running_mean.dtype == np.float64 and layer.state_dict()["running_var"].dtype == np.float64
    before = layer.running_mean.copy()
    layer.forward(_batch(1))
    assert not np.array_equal(layer.state_dict()["running_mean"], before)

    other = BatchNorm1d(3, dtype="float64")
    other.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(other.running_var, layer.running_var)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"num_features": 0}, ValueError, "num_features must be a positive integer, got 0"),
    ({"num_features": 3, "eps": 0}, ValueError, "eps must be a positive number"),
    ({"num_features": 3, "momentum": 1.5}, ValueError, r"momentum must be a number in \[0, 1\]"),
    ({"num_features": 3, "momentum": None}, ValueError, r"momentum must be a number in \[0, 1\]"),
])
def test_batchnorm_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        BatchNorm1d(**kwargs)


def test_batchnorm_input_errors():
    layer = BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 3\), got \(2, 4\)"):
        layer.forward(np.ones((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        layer.forward(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="more than 1 sample"):
        layer.forward(np.ones((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"backward\(\) called before forward\(\)"):
        layer.backward(np.ones((2, 3), dtype=np.float32))


def test_batchnorm_config():
    layer = BatchNorm1d(4, eps=1e-3, momentum=0.2, affine=False)
    config = layer.get_config()
    assert config == {"num_features": 4, "eps": 1e-3, "momentum": 0.2, "affine": False,
                      "track_running_stats": True}
    assert BatchNorm1d(**config).get_config() == config
    assert repr(layer).startswith("BatchNorm1d(num_features=4, eps=0.001")
