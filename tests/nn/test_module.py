"""The Module/Parameter protocol: parameters, gradients, modes, state, description, dtypes, errors."""

import importlib
import pkgutil

import numpy as np
import pytest

import ownnet
from ownnet import backend
from ownnet.nn.activations import GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.init import manual_seed
from ownnet.nn.linear import Linear
from ownnet.nn.module import MODULES, Module, Parameter
from ownnet.nn.regularization import BatchNorm1d, Dropout
from ownnet.nn.shape import Flatten


def mlp():
    return Sequential(Linear(3, 4), ReLU(), Linear(4, 2))


def every_layer_network():
    """A float32 network that contains every layer type and every container."""
    return Sequential(
        Flatten(), Linear(6, 8), BatchNorm1d(8), ReLU(), Dropout(0.2), Linear(8, 8), LeakyReLU(),
        Residual(Sequential(Linear(8, 8), GELU())),
        Concat(Sequential(Linear(8, 3), Tanh()), Sequential(Linear(8, 3), Sigmoid()), Identity()),
        Linear(14, 4), GELU(approximate="tanh"), LogSoftmax(), Softmax(),
    )


def walk(module):
    yield module
    for child in module.children():
        yield from walk(child)


# --- parameters ---------------------------------------------------------------------------------
def test_parameters_come_in_order_with_pytorch_style_names():
    model = mlp()
    named = model.named_parameters()
    assert [name for name, _ in named] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert model.parameters() == [p for _, p in named]
    assert model.parameters()[0] is model[0].weight and model.parameters()[3] is model[2].bias
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    nested = Sequential(Residual(Sequential(Linear(2, 2))), BatchNorm1d(2))
    names = [name for name, _ in nested.named_parameters()]
    assert names == ["0.0.0.weight", "0.0.0.bias", "1.weight", "1.bias"]


def test_parameter_holds_data_and_a_gradient_of_the_same_shape_and_dtype():
    p = Parameter(np.ones((2, 3), dtype=np.float32), "weight")
    assert p.shape == (2, 3) and p.dtype == np.float32 and p.size == 6
    assert p.grad.shape == (2, 3) and p.grad.dtype == np.float32 and not p.grad.any()
    assert "weight" in repr(p)


def test_gradients_accumulate_until_zero_grad():
    model = mlp()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    grad_out = np.ones((5, 2), dtype=np.float32)
    model.forward(x)
    model.backward(grad_out)
    once = [p.grad.copy() for p in model.parameters()]
    assert any(g.any() for g in once)
    model.backward(grad_out)  # a second backward adds the same gradients again
    for p, g in zip(model.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6)
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


# --- modes ----------------------------------------------------------------------------------------
def test_train_and_eval_reach_every_nested_module():
    model = every_layer_network()
    assert model.eval() is model
    assert all(not m.training for m in walk(model))
    assert model.train() is model
    assert all(m.training for m in walk(model))
    model.train(False)
    assert all(not m.training for m in walk(model))


# --- state ----------------------------------------------------------------------------------------
def test_state_dict_holds_parameters_and_buffers():
    model = Sequential(Linear(3, 4), BatchNorm1d(4), ReLU())
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"]
    assert state["0.weight"] is model[0].weight.data


def test_load_state_dict_restores_a_model():
    manual_seed(0)
    source = Sequential(Linear(3, 4), BatchNorm1d(4), Tanh(), Linear(4, 2))
    x = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    source.forward(x)  # moves the running statistics
    target = Sequential(Linear(3, 4), BatchNorm1d(4), Tanh(), Linear(4, 2))
    assert not np.array_equal(source.eval().forward(x), target.eval().forward(x))
    target.load_state_dict({name: array.copy() for name, array in source.state_dict().items()})
    np.testing.assert_array_equal(target.forward(x), source.forward(x))
    np.testing.assert_array_equal(target[1].running_var, source[1].running_var)


def test_load_state_dict_names_missing_unexpected_and_misshapen_entries():
    model = mlp()
    state = {name: array.copy() for name, array in model.state_dict().items()}
    del state["2.bias"]
    with pytest.raises(ValueError, match=r"missing \['2.bias'\]"):
        model.load_state_dict(state)
    state["2.bias"], state["3.weight"] = np.zeros(2, np.float32), np.zeros(2, np.float32)
    with pytest.raises(ValueError, match=r"unexpected \['3.weight'\]"):
        model.load_state_dict(state)
    del state["3.weight"]
    state["0.weight"] = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"'0.weight' expected shape \(3, 4\).*got \(4, 3\)"):
        model.load_state_dict(state)
    state["0.weight"] = np.zeros((3, 4), np.float64)
    with pytest.raises(ValueError, match="float64"):
        model.load_state_dict(state)


# --- description ------------------------------------------------------------------------------------
def test_repr_shows_the_architecture_and_the_parameter_count():
    model = Sequential(Linear(784, 128), ReLU(), Dropout(0.1), Linear(128, 10))
    text = repr(model)
    assert text.splitlines()[0] == "Sequential("
    assert "(0): Linear(in_features=784, out_features=128, bias=True, init='he_uniform')" in text
    assert "(1): ReLU()" in text and "(2): Dropout(p=0.1)" in text
    assert text.endswith(")  # 101,770 parameters")


def test_summary_shows_output_shapes():
    model = Sequential(Linear(784, 128), ReLU(), BatchNorm1d(128), Linear(128, 10), Softmax())
    text = model.summary((784,))
    assert "('batch', 128)" in text and "('batch', 10)" in text
    assert "total: 102,026 trainable parameters, dtype float32" in text  # 784*128+128 + 2*128 + 128*10+10
    assert model.training  # summary ran in eval mode and restored the mode
    assert not model[2].running_mean.any()  # and did not move the running statistics


# --- dtypes ---------------------------------------------------------------------------------------
def test_to_float64_converts_parameters_gradients_and_buffers():
    model = every_layer_network()
    assert model.to("float64") is model
    assert model.dtype == np.float64
    for _, p in model.named_parameters():
        assert p.data.dtype == np.float64 and p.grad.dtype == np.float64
    for _, buffer in model.named_buffers():
        assert buffer.dtype == np.float64
    out = model.eval()(np.ones((2, 2, 3)))
    assert out.dtype == np.float64
    model.train().forward(np.random.default_rng(0).standard_normal((4, 2, 3)))
    assert all(buffer.dtype == np.float64 for _, buffer in model.named_buffers())


def test_a_float32_network_keeps_float32_everywhere():
    import_all_of_ownnet()
    model = every_layer_network()
    library = {n for n, c in MODULES.items() if c.__module__.startswith("ownnet.")}
    assert library <= {type(m).__name__ for m in walk(model)}, "add the new layer to every_layer_network"

    x = np.random.default_rng(0).standard_normal((5, 2, 3))  # float64 data
    out = model(x)
    assert out.dtype == np.float32
    h = backend.as_float_array(x, dtype=model.dtype)
    for layer in model.layers:  # every intermediate output
        h = layer.forward(h)
        assert h.dtype == np.float32, layer.label
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    for layer in reversed(model.layers):  # every intermediate gradient
        grad = layer.backward(grad)
        assert grad.dtype == np.float32, layer.label
    for name, p in model.named_parameters():
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32, name
        assert np.isfinite(p.grad).all(), name
    for name, buffer in model.named_buffers():
        assert buffer.dtype == np.float32, name


# --- errors a user can cause ------------------------------------------------------------------------
def test_linear_explains_a_single_sample_and_a_wrong_width():
    model = Sequential(Linear(3, 4), Linear(5, 2))
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        model(np.ones(3))
    with pytest.raises(ValueError, match=r"Linear \(layer 1 of the Sequential\): expected input of shape "
                                         r"\(batch, 5\), got \(2, 4\)"):
        model(np.ones((2, 3)))


@pytest.mark.parametrize("module", [
    Linear(3, 2), ReLU(), LeakyReLU(), Tanh(), Sigmoid(), GELU(), Softmax(), LogSoftmax(), Identity(),
    Dropout(), BatchNorm1d(2), Flatten(), mlp(), Residual(Linear(2, 2)), Concat(Linear(2, 2)),
], ids=lambda m: type(m).__name__)
def test_backward_before_forward_is_a_value_error(module):
    with pytest.raises(ValueError, match=r"backward\(\) called before forward\(\)"):
        module.backward(np.ones((2, 2), dtype=np.float32))


def test_nan_input_is_refused_unless_the_check_is_off():
    model = mlp()
    x = np.ones((2, 3))
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        model(x)
    backend.set_check_finite(False)
    try:
        assert np.isnan(model(x)).any()
    finally:
        backend.set_check_finite(True)


def test_a_python_list_input_works():
    out = mlp()([[1, 2, 3], [0.5, -1.0, 2.0]])
    assert out.shape == (2, 2) and out.dtype == np.float32


def test_a_module_without_forward_or_backward_says_so():
    class _Empty(Module):
        pass

    with pytest.raises(NotImplementedError, match="_Empty does not implement forward"):
        _Empty()(np.ones((1, 2)))
    with pytest.raises(NotImplementedError, match="_Empty does not implement backward"):
        _Empty().backward(np.ones((1, 2)))
    assert "_Empty" not in MODULES  # private helper classes are not registered


def import_all_of_ownnet():
    """Import every ownnet module, so that every Module subclass is registered."""
    for info in pkgutil.walk_packages(ownnet.__path__, "ownnet."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            try:
                importlib.import_module(info.name)
            except ImportError:
                pass


def test_zero_grad_is_lazy_but_reads_as_zero_and_accumulate_matmul_adds():
    from ownnet.nn.module import Parameter

    p = Parameter(np.zeros((2, 2), dtype=np.float32))
    a, b = np.eye(2, dtype=np.float32), np.full((2, 2), 3.0, dtype=np.float32)
    p.accumulate_matmul(a, b)
    p.accumulate_matmul(a, b)
    np.testing.assert_array_equal(p.grad, 6.0)  # accumulated
    p.zero_grad()
    np.testing.assert_array_equal(p.grad, 0.0)  # reading after zero_grad gives zeros
    p.zero_grad()
    p.accumulate_matmul(a, b)  # written straight in after zero_grad, not added to the old 6
    np.testing.assert_array_equal(p.grad, 3.0)
    assert p.grad.dtype == np.float32


def test_modules_walks_the_whole_tree_depth_first():
    inner = Sequential(Linear(3, 3), Tanh())
    model = Sequential(Linear(3, 3), Residual(inner), Concat(ReLU(), Linear(3, 2)))
    assert [type(m).__name__ for m in model.modules()] == [
        "Sequential", "Linear", "Residual", "Sequential", "Linear", "Tanh", "Concat", "ReLU", "Linear"]
    assert list(ReLU().modules())[0].label == "ReLU"


def test_modules_take_their_ops_when_built_and_when_moved():
    from ownnet.backend import cpu_kernels, ops_for_device
    from ownnet.backend.ops import NumpyOps

    model = Sequential(Linear(3, 4), ReLU(), Residual(Sequential(Linear(4, 4))))
    cpu_ops = ops_for_device("cpu")
    assert all(m.ops is cpu_ops for m in model.modules()) and model.parameters()[0].ops is cpu_ops
    cpu_kernels.set_enabled(False)  # the CPU's ops become the NumPy reference for what chooses next
    try:
        assert model.parameters()[0].ops is cpu_ops  # chosen once: not re-chosen at every call
        model.to("cpu")  # moving walks the tree and takes the ops again
        assert all(type(m.ops) is NumpyOps for m in model.modules())
        p = model.parameters()[0]
        p.grad = np.zeros(p.shape, np.float32)  # a new gradient array: its device's ops
        assert type(p.ops) is NumpyOps
    finally:
        cpu_kernels.set_enabled(True)
