import numpy as np
import pytest

import ownnet as on


def test_mlp_layout_and_shapes():
    model = on.mlp([784, 128, 64, 10], activation="tanh", dropout=0.1)
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert model(np.zeros((3, 784))).shape == (3, 10)
    assert model.num_parameters() == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10


def test_one_layer_perceptron_is_a_single_linear():
    model = on.mlp([784, 10])
    assert len(model) == 1 and isinstance(model[0], on.Linear)


@pytest.mark.parametrize("kwargs, message", [
    (dict(sizes=[784]), "at least"),
    (dict(sizes=[784, 0, 10]), "positive"),
    (dict(sizes=[4, 2], activation="nope"), "activation"),
    (dict(sizes=[4, 3, 2], dropout=1.0), "dropout"),
])
def test_mlp_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        on.mlp(**kwargs)


def test_activation_class_accepts_names_and_classes():
    from ownnet.nn.mlp import activation_class

    assert activation_class("LeakyReLU") is on.LeakyReLU
    assert activation_class("leaky_relu") is on.LeakyReLU
    assert activation_class(on.GELU) is on.GELU


def test_random_shift_moves_pixels_and_is_seeded():
    image = np.zeros((1, 784), dtype=np.float32)
    image[0, 14 * 28 + 14] = 1.0
    shifted = on.RandomShift(2, seed=0)(np.repeat(image, 50, axis=0))
    assert shifted.dtype == np.float32 and shifted.shape == (50, 784)
    assert np.all(shifted.sum(axis=1) == 1.0)  # the pixel stays inside the frame
    rows, cols = np.nonzero(shifted.reshape(50, 28, 28))[1:]
    assert rows.min() >= 12 and rows.max() <= 16 and cols.min() >= 12 and cols.max() <= 16
    assert len(set(zip(rows, cols))) > 5
    np.testing.assert_array_equal(shifted, on.RandomShift(2, seed=0)(np.repeat(image, 50, axis=0)))


@pytest.mark.parametrize(("activation", "hidden_std"), [
    ("tanh", np.sqrt(2 / (400 + 300))),     # Xavier: keeps the variance through a symmetric activation
    ("sigmoid", np.sqrt(2 / (400 + 300))),
    ("relu", np.sqrt(2 / 400)),             # He: gain sqrt(2) for the half that ReLU zeroes
])
def test_mlp_draws_the_initialisation_its_activation_prefers(activation, hidden_std):
    on.manual_seed(0)
    model = on.mlp([400, 300, 200], activation=activation)
    hidden, output = model[0].weight.data, model[2].weight.data
    assert abs(hidden.std() / hidden_std - 1) < 0.02       # 120,000 draws: the std is within 2 %
    assert np.abs(hidden).max() <= np.sqrt(3) * hidden_std  # uniform on [-a, a], a = sqrt(3) * std
    assert np.abs(hidden).max() > 0.99 * np.sqrt(3) * hidden_std
    assert abs(output.std() / np.sqrt(2 / 300) - 1) < 0.02  # the output layer: He (no activation after it)
    expected = "he_uniform" if activation == "relu" else "xavier_uniform"
    assert model[0].get_config()["init"] == expected and model[2].get_config()["init"] == "he_uniform"


def test_mlp_draws_each_weight_once():
    # the same weights as building the layers by hand from the same seed: nothing is re-drawn
    on.manual_seed(0)
    model = on.mlp([6, 5, 3], activation="tanh")
    on.manual_seed(0)
    first = on.Linear(6, 5, init="xavier_uniform")
    second = on.Linear(5, 3)
    np.testing.assert_array_equal(model[0].weight.data, first.weight.data)
    np.testing.assert_array_equal(model[2].weight.data, second.weight.data)
    on.manual_seed(0)
    relu = on.mlp([6, 5, 3])
    on.manual_seed(0)
    np.testing.assert_array_equal(relu[0].weight.data, on.Linear(6, 5).weight.data)
    np.testing.assert_array_equal(relu[2].weight.data, on.Linear(5, 3).weight.data)


def test_mlp_with_batch_norm_keeps_he_before_the_batch_norm():
    on.manual_seed(0)
    model = on.mlp([400, 300, 2], activation="tanh", batch_norm=True)
    assert [type(layer).__name__ for layer in model.layers] == ["Linear", "BatchNorm1d", "Tanh", "Linear"]
    assert model[0].get_config()["init"] == "he_uniform"
