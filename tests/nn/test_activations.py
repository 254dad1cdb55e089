"""Activations: values, numerical stability, dtypes, configuration and errors.

Their gradients are checked by finite differences in tests/test_gradcheck.py and against PyTorch in
tests/test_torch_compare_layers.py.
"""

import math
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ownnet.backend.ops import numpy_ops
from ownnet.nn.activations import GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh

ACTIVATIONS = [ReLU, LeakyReLU, Tanh, Sigmoid, GELU, lambda: GELU("tanh"), Softmax, LogSoftmax, Identity]
IDS = ["ReLU", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "GELU-tanh", "Softmax", "LogSoftmax", "Identity"]


def test_relu_and_leaky_relu_values_and_gradients():
    x = np.array([[-2.0, 0.0, 3.0]])
    relu, leaky = ReLU(), LeakyReLU(0.1)
    np.testing.assert_array_equal(relu.forward(x), [[0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 0.0, 5.0]])  # 0 at 0
    np.testing.assert_allclose(leaky.forward(x), [[-0.2, 0.0, 3.0]])
    np.testing.assert_allclose(leaky.backward(np.array([[5.0, 5.0, 5.0]])), [[0.5, 0.5, 5.0]])


def test_tanh_and_sigmoid_values():
    x = np.array([[-1.5, 0.0, 0.7]])
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    assert Sigmoid().forward(np.zeros((1, 1)))[0, 0] == 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_huge_inputs(dtype):
    x = np.array([[-1e4, -800.0, -100.0, 100.0, 800.0, 1e4]], dtype=dtype)
    layer = Sigmoid()
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = layer.forward(x)
        grad = layer.backward(np.ones_like(x))
    assert y.dtype == dtype and np.isfinite(y).all() and np.isfinite(grad).all()
    np.testing.assert_array_equal(y[0, 3:], 1.0)
    assert (y[0, :3] >= 0).all() and y[0, 2] < 1e-40
    assert (grad >= 0).all()


@given(arrays(np.float64, (3, 4), elements=st.floats(-1e300, 1e300)))
@settings(max_examples=50, deadline=None)
def test_sigmoid_matches_the_two_sided_formula(x):
    with np.errstate(over="ignore", invalid="ignore"):  # in the branch np.where discards
        expected = np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
    y = Sigmoid().forward(x)
    assert ((y >= 0) & (y <= 1)).all()
    np.testing.assert_allclose(y, expected, rtol=1e-15, atol=1e-300)  # below 1e-308 y may be 0


def test_gelu_matches_its_definitions():
    x = np.array([[-3.0, -1.0, 0.0, 0.5, 2.0]])
    exact = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x[0]]
    np.testing.assert_allclose(GELU().forward(x)[0], exact, rtol=1e-15, atol=1e-300)
    c = math.sqrt(2 / math.pi)
    approx = [0.5 * v * (1 + math.tanh(c * (v + 0.044715 * v**3))) for v in x[0]]
    np.testing.assert_allclose(GELU(approximate="tanh").forward(x)[0], approx, rtol=1e-15)
    assert GELU().forward(np.array([[1.0]]))[0, 0] == pytest.approx(0.8413447460685429, rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_erf_without_scipy(monkeypatch, dtype):
    monkeypatch.setitem(sys.modules, "scipy.special", None)  # importing it now raises ImportError
    monkeypatch.setattr(numpy_ops, "_erf", None)
    x = np.linspace(-4, 4, 17, dtype=dtype).reshape(1, -1)
    y = GELU().forward(x)
    assert y.dtype == dtype
    expected = [float(v) * 0.5 * (1 + math.erf(float(v) / math.sqrt(2))) for v in x[0]]
    np.testing.assert_allclose(y[0], expected, rtol=1e-6 if dtype == np.float32 else 1e-15, atol=1e-7)


def test_gelu_erf_with_scipy(monkeypatch):
    special = pytest.importorskip("scipy.special")
    monkeypatch.setattr(numpy_ops, "_erf", None)
    x = np.linspace(-4, 4, 17).reshape(1, -1)
    np.testing.assert_allclose(GELU().forward(x), x * 0.5 * (1 + special.erf(x / math.sqrt(2))), rtol=1e-15)


def test_softmax_is_a_stable_distribution():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise"):
        y = Softmax().forward(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0)
    np.testing.assert_allclose(y[0], Softmax().forward(np.array([[0.0, 1.0, 2.0]]))[0])  # shift invariant
    np.testing.assert_allclose(y[1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(Softmax(dim=0).forward(x).sum(axis=0), 1.0)


def test_softmax_backward_ignores_a_gradient_constant_along_dim():
    layer = Softmax()
    layer.forward(np.random.default_rng(0).standard_normal((3, 4)))
    np.testing.assert_allclose(layer.backward(np.full((3, 4), 7.0)), 0.0, atol=1e-15)


@given(arrays(np.float64, (2, 5), elements=st.floats(-1e6, 1e6)))
@settings(max_examples=50, deadline=None)
def test_softmax_sums_to_one_for_any_finite_input(x):
    y = Softmax().forward(x)
    assert np.isfinite(y).all() and (y >= 0).all()
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", ACTIVATIONS, ids=IDS)
def test_dtype_is_preserved_and_inputs_are_not_modified(make, dtype):
    layer = make()
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(dtype) * 3
    grad_out = np.random.default_rng(1).standard_normal((4, 6)).astype(dtype)
    x_before, grad_before = x.copy(), grad_out.copy()
    y = layer.forward(x)
    grad = layer.backward(grad_out)
    assert y.dtype == dtype and grad.dtype == dtype
    assert y.shape == x.shape and grad.shape == x.shape
    np.testing.assert_array_equal(x, x_before)  # Residual and Concat reuse x and grad_out
    np.testing.assert_array_equal(grad_out, grad_before)


@pytest.mark.parametrize("make", ACTIVATIONS, ids=IDS)
def test_backward_checks_before_forward_and_the_gradient_shape(make):
    layer = make()
    with pytest.raises(ValueError, match=r"backward\(\) called before forward\(\)"):
        layer.backward(np.ones((2, 3)))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(2, 3\)"):
        layer.backward(np.ones((3, 2)))


def test_preferred_init_tells_mlp_how_to_initialise_the_linear_before_it():
    assert ReLU.preferred_init == LeakyReLU.preferred_init == GELU.preferred_init == "he_uniform"
    assert Tanh.preferred_init == Sigmoid.preferred_init == "xavier_uniform"
    assert getattr(Softmax, "preferred_init", None) is None


@pytest.mark.parametrize(("layer", "config", "text"), [
    (ReLU(), {}, "ReLU()"),
    (LeakyReLU(0.2), {"negative_slope": 0.2}, "LeakyReLU(negative_slope=0.2)"),
    (LeakyReLU(), {"negative_slope": 0.01}, "LeakyReLU(negative_slope=0.01)"),
    (GELU("tanh"), {"approximate": "tanh"}, "GELU(approximate='tanh')"),
    (Softmax(dim=0), {"dim": 0}, "Softmax(dim=0)"),
    (Identity(), {}, "Identity()"),
])
def test_config_rebuilds_the_layer(layer, config, text):
    assert layer.get_config() == config
    assert repr(layer) == text
    assert type(layer)(**config).get_config() == config


def test_argument_errors():
    with pytest.raises(TypeError, match="negative_slope must be a number, got 'a'"):
        LeakyReLU("a")
    with pytest.raises(ValueError, match="approximate must be one of \\('none', 'tanh'\\), got 'fast'"):
        GELU("fast")
    with pytest.raises(TypeError, match="dim must be an integer, got 1.0"):
        Softmax(1.0)
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        Softmax(dim=2).forward(np.ones((2, 3)))
