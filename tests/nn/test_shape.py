"""Flatten: PyTorch's start_dim/end_dim semantics, backward reshaping, errors."""

import numpy as np
import pytest

from ownnet.nn.shape import Flatten


@pytest.mark.parametrize(("args", "in_shape", "out_shape"), [
    ((), (2, 3, 4), (2, 12)),
    ((), (2, 3), (2, 3)),
    ((0,), (2, 3, 4), (24,)),
    ((0, 1), (2, 3, 4), (6, 4)),
    ((1, 2), (2, 3, 4, 5), (2, 12, 5)),
    ((-2,), (2, 3, 4), (2, 12)),
    ((-1,), (2, 3, 4), (2, 3, 4)),
    ((-3, -2), (2, 3, 4), (6, 4)),
])
def test_flatten_shapes_match_pytorch(args, in_shape, out_shape):
    layer = Flatten(*args)
    x = np.arange(np.prod(in_shape), dtype=np.float32).reshape(in_shape)
    y = layer.forward(x)
    assert y.shape == out_shape and y.dtype == np.float32
    np.testing.assert_array_equal(y.ravel(), x.ravel())  # same order (C order)
    grad = layer.backward(y * 2)
    assert grad.shape == in_shape
    np.testing.assert_array_equal(grad, x * 2)


def test_flatten_errors():
    with pytest.raises(ValueError, match=r"start_dim=2 comes after end_dim=1"):
        Flatten(2, 1).forward(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"dim 1 is out of range for an input of shape \(3,\)"):
        Flatten().forward(np.ones(3))
    with pytest.raises(TypeError, match="start_dim must be an integer, got 1.5"):
        Flatten(1.5)
    layer = Flatten()
    with pytest.raises(ValueError, match=r"backward\(\) called before forward\(\)"):
        layer.backward(np.ones((2, 12)))
    layer.forward(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(2, 12\)"):
        layer.backward(np.ones((2, 3, 4)))


def test_flatten_config():
    assert Flatten().get_config() == {"start_dim": 1, "end_dim": -1}
    assert repr(Flatten(0, 2)) == "Flatten(start_dim=0, end_dim=2)"
