"""Containers: Sequential, Residual and Concat (forward wiring, backward chain rule, errors)."""

import numpy as np
import pytest

from ownnet.nn.activations import ReLU, Sigmoid, Tanh
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.linear import Linear


def _linear(weight, bias):
    layer = Linear(len(weight), len(weight[0]), dtype="float64")
    layer.weight.data[...] = weight
    layer.bias.data[...] = bias
    return layer


# --- Sequential -----------------------------------------------------------------------------------
def test_sequential_applies_layers_in_order_and_backward_in_reverse():
    model = Sequential(_linear([[1.0, -1.0]], [0.0, 0.0]), ReLU(), _linear([[2.0], [3.0]], [1.0]))
    x = np.array([[2.0], [-1.0]])
    # first layer: [[2, -2], [-1, 1]]; ReLU: [[2, 0], [0, 1]]; last: [[2*2 + 1], [1*3 + 1]]
    np.testing.assert_array_equal(model.forward(x), [[5.0], [4.0]])
    grad_x = model.backward(np.ones((2, 1)))
    # dL/d(relu out) = [2, 3] per row; ReLU keeps [2, 0] and [0, 3]; through W1^T = [1, -1]: 2 and -3
    np.testing.assert_array_equal(grad_x, [[2.0], [-3.0]])


def test_sequential_add_indexing_and_labels():
    model = Sequential()
    assert len(model) == 0
    model.add(Linear(3, 4)).add(ReLU())
    assert len(model) == 2 and isinstance(model[1], ReLU)
    assert model.layers == [model[0], model[1]]
    assert model[1].label == "ReLU (layer 1 of the Sequential)"
    with pytest.raises(TypeError, match="expected a Module, got int"):
        model.add(3)


def test_an_empty_sequential_is_the_identity():
    x = np.arange(6.0).reshape(2, 3)
    model = Sequential()
    np.testing.assert_array_equal(model.forward(x), x)
    np.testing.assert_array_equal(model.backward(x), x)


def test_needs_input_grad_on_a_sequential_is_its_first_layer():
    model = Sequential(Linear(3, 4), Tanh(), Linear(4, 2))
    assert model.needs_input_grad
    model.needs_input_grad = False
    assert model[0].needs_input_grad is False and model[2].needs_input_grad is True
    model.forward(np.ones((2, 3), dtype=np.float32))
    assert model.backward(np.ones((2, 2), dtype=np.float32)) is None
    assert model[0].weight.grad.any() and model[2].weight.grad.any()


# --- Residual -------------------------------------------------------------------------------------
def test_residual_adds_the_identity_path():
    block = _linear([[1.0, 2.0], [3.0, 4.0]], [0.0, 1.0])
    model = Residual(block)
    x = np.array([[1.0, 1.0]])
    np.testing.assert_array_equal(model.forward(x), x + [[4.0, 7.0]])
    grad_x = model.backward(np.array([[1.0, -1.0]]))
    # identity path [1, -1] plus the block's path [1, -1] @ W^T = [1 - 2, 3 - 4]
    np.testing.assert_array_equal(grad_x, [[0.0, -2.0]])
    np.testing.assert_array_equal(block.bias.grad, [1.0, -1.0])


def test_residual_needs_a_block_that_keeps_the_shape():
    with pytest.raises(ValueError, match=r"must keep the shape of its input \(2, 3\), it returned \(2, 4\)"):
        Residual(Linear(3, 4)).forward(np.ones((2, 3), dtype=np.float32))


# --- Concat ---------------------------------------------------------------------------------------
def test_concat_joins_branches_and_splits_the_gradient():
    left = _linear([[1.0], [1.0]], [0.0])
    right = _linear([[1.0, 0.0], [0.0, 2.0]], [0.0, 0.0])
    model = Concat(left, right, Tanh())
    x = np.array([[1.0, 2.0]])
    out = model.forward(x)
    np.testing.assert_allclose(out, [[3.0, 1.0, 4.0, np.tanh(1.0), np.tanh(2.0)]])
    grad_x = model.backward(np.array([[1.0, 1.0, 1.0, 0.0, 0.0]]))
    # left: 1 * [1, 1]; right: [1, 1] @ W^T = [1, 2]; tanh branch: 0 -> summed: [2, 3]
    np.testing.assert_allclose(grad_x, [[2.0, 3.0]])
    np.testing.assert_array_equal(right.weight.grad, [[1.0, 1.0], [2.0, 2.0]])


def test_concat_errors():
    with pytest.raises(ValueError, match="at least one branch"):
        Concat()
    with pytest.raises(ValueError, match=r"\(batch, features\).*Tanh returned \(2, 3, 1\)"):
        Concat(Tanh()).forward(np.ones((2, 3, 1), dtype=np.float32))
    model = Concat(Linear(3, 2), Tanh())
    model.forward(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(2, 5\)"):
        model.backward(np.ones((2, 4), dtype=np.float32))


def test_nested_containers_chain_correctly():
    inner = Sequential(Linear(4, 4), ReLU())
    model = Sequential(Residual(inner), Concat(Linear(4, 2), Linear(4, 3)), Linear(5, 1))
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    out = model.forward(x)
    assert out.shape == (3, 1) and out.dtype == np.float32
    grad = model.backward(np.ones((3, 1), dtype=np.float32))
    assert grad.shape == (3, 4) and grad.dtype == np.float32
    names = [name for name, _ in model.named_parameters()]
    assert names[:2] == ["0.0.0.weight", "0.0.0.bias"] and names[-1] == "2.bias"
    assert names[2:6] == ["1.0.weight", "1.0.bias", "1.1.weight", "1.1.bias"]


# --- containers never change the layers they are given -------------------------------------------
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize(("wrap", "expected"), [
    (lambda lin: Sequential(lin, Tanh()), lambda x, z: np.tanh(z)),
    (lambda lin: Residual(Sequential(lin, Tanh())), lambda x, z: x + np.tanh(z)),
    (lambda lin: Sequential(Residual(Sequential(lin, Sigmoid())), Tanh()),
     lambda x, z: np.tanh(x + _sigmoid(z))),
    (lambda lin: Concat(Sequential(lin, Sigmoid()), Sequential(Linear(5, 2), Tanh())),
     lambda x, z: _sigmoid(z)),
])
def test_weights_set_before_composing_are_kept(wrap, expected):
    # issue 16: a Sequential used to re-draw a Linear followed by tanh or sigmoid
    known, bias = np.arange(25.0).reshape(5, 5) / 50 - 0.25, np.linspace(-0.2, 0.2, 5)
    lin = _linear(known, bias)
    model = wrap(lin)
    np.testing.assert_array_equal(lin.weight.data, known)
    np.testing.assert_array_equal(lin.bias.data, bias)
    x = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_allclose(model.forward(x)[:, :5], expected(x, x @ known + bias))
