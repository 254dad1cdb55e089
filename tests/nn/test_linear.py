"""``Linear``: a small example worked by hand, initialisation schemes, options and errors."""

import math

import numpy as np
import pytest

from ownnet.nn.activations import GELU, LeakyReLU, ReLU, Sigmoid, Tanh
from ownnet.nn.containers import Sequential
from ownnet.nn.init import manual_seed
from ownnet.nn.linear import Linear


def test_a_tiny_example_worked_by_hand():
    layer = Linear(2, 2, dtype="float64")
    layer.weight.data[...] = [[1.0, 2.0],
                              [3.0, 4.0]]  # (in_features, out_features)
    layer.bias.data[...] = [0.5, -1.0]
    x = np.array([[1.0, 2.0],
                  [3.0, -1.0]])

    # y = x @ W + b:  [1*1 + 2*3, 1*2 + 2*4] + b = [7.5, 9];  [3*1 - 1*3, 3*2 - 1*4] + b = [0.5, 1]
    np.testing.assert_array_equal(layer.forward(x), [[7.5, 9.0],
                                                     [0.5, 1.0]])

    grad_out = np.array([[1.0, 0.0],
                         [0.0, 2.0]])
    grad_x = layer.backward(grad_out)
    # dL/dx = g @ W^T:  [1*1 + 0*2, 1*3 + 0*4] = [1, 3];  [0*1 + 2*2, 0*3 + 2*4] = [4, 8]
    np.testing.assert_array_equal(grad_x, [[1.0, 3.0],
                                           [4.0, 8.0]])
    # dL/dW = x^T @ g:  [[1*1 + 3*0, 1*0 + 3*2], [2*1 - 1*0, 2*0 - 1*2]]
    np.testing.assert_array_equal(layer.weight.grad, [[1.0, 6.0],
                                                      [2.0, -2.0]])
    # dL/db = the sum of g over the batch
    np.testing.assert_array_equal(layer.bias.grad, [1.0, 2.0])


@pytest.mark.parametrize(("init", "expected_std"), [
    ("he_uniform", math.sqrt(2 / 1000)),
    ("he_normal", math.sqrt(2 / 1000)),
    ("kaiming_uniform", math.sqrt(2 / 1000)),
    ("xavier_uniform", math.sqrt(2 / (1000 + 500))),
    ("xavier_normal", math.sqrt(2 / (1000 + 500))),
    ("glorot_normal", math.sqrt(2 / (1000 + 500))),
])
def test_initial_weights_have_the_scheme_standard_deviation(init, expected_std):
    manual_seed(0)
    layer = Linear(1000, 500, init=init)
    weight = layer.weight.data
    assert weight.shape == (1000, 500) and weight.dtype == np.float32
    assert abs(weight.std() / expected_std - 1) < 0.01  # 500,000 draws: the std is within 1 %
    assert abs(weight.mean()) < 0.01 * expected_std
    if init.endswith("uniform"):
        assert np.abs(weight).max() <= math.sqrt(3) * expected_std  # a uniform on [-a, a]: std a / sqrt(3)
    assert not layer.bias.data.any()


def test_the_default_is_he_uniform_and_auto_is_its_old_name():
    manual_seed(1)
    default = Linear(1000, 500)
    manual_seed(1)
    auto = Linear(1000, 500, init="auto")  # the default's name in older versions and model files
    np.testing.assert_array_equal(auto.weight.data, default.weight.data)
    assert default.get_config()["init"] == auto.get_config()["init"] == "he_uniform"
    assert abs(default.weight.data.std() / math.sqrt(2 / 1000) - 1) < 0.01


@pytest.mark.parametrize("activation", [ReLU, LeakyReLU, GELU, Tanh, Sigmoid])
@pytest.mark.parametrize("init", ["he_uniform", "auto", "xavier_normal"])
def test_a_sequential_never_redraws_the_weights_of_a_linear(activation, init):
    manual_seed(1)
    layer = Linear(50, 40, init=init)
    drawn = layer.weight.data.copy()
    model = Sequential(layer, activation())
    assert model[0] is layer
    np.testing.assert_array_equal(layer.weight.data, drawn)


def test_an_old_model_file_with_init_auto_still_loads(tmp_path):
    import json

    from ownnet.io import load, read_tensors, save, write_tensors

    manual_seed(2)
    model = Sequential(Linear(6, 5), Tanh(), Linear(5, 3))
    new_file = save(model, tmp_path / "new.safetensors")
    tensors, metadata = read_tensors(new_file)
    architecture = json.loads(metadata["architecture"])
    for node in architecture["children"]:
        if node["type"] == "Linear":
            node["config"]["init"] = "auto"  # as older versions saved it
    metadata["architecture"] = json.dumps(architecture)
    old_file = write_tensors(tmp_path / "old.safetensors", tensors, metadata)
    loaded = load(old_file)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)
    assert loaded[0].get_config()["init"] == "he_uniform"


def test_manual_seed_makes_weights_reproducible():
    manual_seed(3)
    first = Linear(4, 3).weight.data.copy()
    manual_seed(3)
    np.testing.assert_array_equal(Linear(4, 3).weight.data, first)
    assert not np.array_equal(Linear(4, 3).weight.data, first)


def test_needs_input_grad_false_returns_none_and_still_fills_grads():
    layer = Linear(3, 2)
    layer.needs_input_grad = False
    x = np.ones((4, 3), dtype=np.float32)
    layer.forward(x)
    assert layer.backward(np.ones((4, 2), dtype=np.float32)) is None
    np.testing.assert_array_equal(layer.weight.grad, np.full((3, 2), 4.0))
    np.testing.assert_array_equal(layer.bias.grad, [4.0, 4.0])


def test_without_bias():
    layer = Linear(3, 2, bias=False)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(layer.forward(x), x @ layer.weight.data)
    assert layer.get_config() == {"in_features": 3, "out_features": 2, "bias": False, "init": "he_uniform"}


def test_dtype_float64_on_request_and_float32_by_default():
    assert Linear(3, 2).weight.dtype == np.float32
    layer = Linear(3, 2, dtype="float64")
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    assert Linear(3, 2).forward(np.ones((1, 3))).dtype == np.float32  # float64 input, float32 layer


@pytest.mark.parametrize(("args", "message"), [
    ((0, 3), "in_features must be a positive integer, got 0"),
    ((3, 2.5), "out_features must be a positive integer, got 2.5"),
    ((True, 3), "in_features must be a positive integer, got True"),
])
def test_rejects_bad_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        Linear(*args)


def test_rejects_an_unknown_init():
    with pytest.raises(ValueError, match="init: expected one of"):
        Linear(3, 2, init="lecun")


def test_input_shape_errors_explain_what_was_expected():
    layer = Linear(3, 2)
    hint = r"expected input of shape \(batch, 3\), got \(3,\).*reshape\(1, -1\)"
    with pytest.raises(ValueError, match=hint):
        layer.forward(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 3\), got \(2, 4\)$"):
        layer.forward(np.ones((2, 4), dtype=np.float32))
    layer.forward(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(2, 2\).*got \(2, 3\)"):
        layer.backward(np.ones((2, 3), dtype=np.float32))


def test_backward_before_forward_is_an_error():
    with pytest.raises(ValueError, match="backward\\(\\) called before forward\\(\\)"):
        Linear(3, 2).backward(np.ones((1, 2), dtype=np.float32))
