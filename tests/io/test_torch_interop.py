"""``from_torch`` / ``to_torch``: the same weights give the same outputs on both sides, and a round trip
gives back the very same numbers."""

import importlib
import pkgutil

import numpy as np
import pytest

import ownnet as on
from ownnet.io.torch_interop import from_torch, to_torch
from ownnet.nn import init
from ownnet.nn.module import MODULES

torch = pytest.importorskip("torch")
nn = torch.nn

NO_TORCH_EQUIVALENT = {"Residual", "Concat"}
"""Library modules that ``torch.nn`` does not have: ``to_torch`` refuses them with a clear error."""
TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}  # different matmul kernels: rounding only


def torch_outputs(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def warm_up(net, shape):
    """Training-mode forwards (BatchNorm running statistics move) and random parameters."""
    generator = torch.Generator().manual_seed(0)
    dtype = next((t.dtype for t in list(net.parameters()) + list(net.buffers()) if t.is_floating_point()),
                 torch.float32)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, *shape, generator=generator, dtype=dtype) * 2 + 0.5)
        for parameter in net.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator, dtype=parameter.dtype) - 0.5)
    return net


CASES = [
    ("Linear", lambda: nn.Sequential(nn.Linear(5, 3)), (5,)),
    ("Linear-nobias", lambda: nn.Sequential(nn.Linear(5, 3, bias=False)), (5,)),
    ("activations", lambda: nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 6), nn.LeakyReLU(0.2),
                                          nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 6), nn.Sigmoid(),
                                          nn.Linear(6, 6), nn.GELU(), nn.Linear(6, 6), nn.GELU("tanh"),
                                          nn.Identity(), nn.Dropout(0.3), nn.Linear(6, 3),
                                          nn.Softmax(dim=-1)), (5,)),
    ("LeakyReLU-default", lambda: nn.Sequential(nn.LeakyReLU()), (5,)),
    ("BatchNorm1d", lambda: nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4, eps=1e-3, momentum=0.2)), (5,)),
    ("BatchNorm1d-noaffine", lambda: nn.Sequential(nn.BatchNorm1d(5, affine=False)), (5,)),
    ("BatchNorm1d-nostats", lambda: nn.Sequential(nn.BatchNorm1d(5, track_running_stats=False)), (5,)),
    ("Flatten", lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), (3, 4)),
    ("Flatten-middle", lambda: nn.Sequential(nn.Flatten(1, 2), nn.Softmax(dim=1)), (3, 4, 2)),
    ("nested", lambda: nn.Sequential(nn.Sequential(nn.Linear(5, 4), nn.Tanh()),
                                     nn.Sequential(nn.Sequential(nn.Linear(4, 4)), nn.BatchNorm1d(4)),
                                     nn.Linear(4, 2)), (5,)),
    ("single-layer", lambda: nn.Linear(5, 3), (5,)),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize(("builder", "shape"), [pytest.param(b, s, id=name) for name, b, s in CASES])
def test_from_torch_and_back_give_the_same_outputs(builder, shape, mode, dtype):
    torch.manual_seed(0)
    net = warm_up(builder().to(dtype), shape).train(mode == "train")
    if mode == "train":  # a random Dropout mask cannot be shared: compare train mode without Dropout
        for module in net.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
    model = from_torch(net)
    has_weights = bool(list(net.parameters()) + list(net.buffers()))  # else: the default dtype, float32
    expected_dtype = np.dtype(str(dtype).split(".")[1] if has_weights else "float32")
    assert model.training == (mode == "train") and model.dtype == expected_dtype
    x = np.random.default_rng(1).standard_normal((8, *shape)).astype(model.dtype)
    expected = torch_outputs(net, x)  # before ownnet's forward: train-mode BatchNorm moves its statistics
    tolerance = TOLERANCE[getattr(torch, expected_dtype.name)]
    np.testing.assert_allclose(model(x), expected, rtol=0, atol=tolerance)

    back = to_torch(from_torch(net))  # a round trip copies every number exactly
    state, back_state = net.state_dict(), back.state_dict()
    assert [key for key in back_state if "num_batches" not in key] == \
           [key for key in state if "num_batches" not in key]
    for key, value in back_state.items():
        if "num_batches" not in key:
            assert value.dtype == state[key].dtype
            assert torch.equal(value, state[key]), key
    assert back.training == net.training


def _ownnet_models():
    return [
        on.Sequential(on.Linear(5, 8), on.Tanh(), on.Linear(8, 8), on.BatchNorm1d(8), on.LeakyReLU(0.1),
                      on.Dropout(0.2), on.Sequential(on.Linear(8, 4), on.GELU("tanh")), on.Linear(4, 3),
                      on.Softmax()),
        on.Sequential(on.Flatten(), on.Linear(5, 3, bias=False), on.Sigmoid(), on.Identity(), on.GELU()),
        on.mlp([5, 16, 3]),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index", range(len(_ownnet_models())))
def test_to_torch_and_back_give_the_same_outputs(index, dtype):
    on.manual_seed(0)
    model = _ownnet_models()[index].to(dtype)
    x = np.random.default_rng(1).standard_normal((8, 5)).astype(dtype)
    model.train()(x)  # move the BatchNorm running statistics
    model.eval()
    net = to_torch(model)
    assert not net.training and next(net.parameters()).dtype == getattr(torch, dtype)
    np.testing.assert_allclose(torch_outputs(net, x), model(x), rtol=0,
                               atol=TOLERANCE[getattr(torch, dtype)])
    again = from_torch(net)
    assert repr(again) == repr(model)
    for (name, ours), (_, theirs) in zip(model.state_dict().items(), again.state_dict().items()):
        assert theirs.dtype == ours.dtype and np.array_equal(theirs, ours), name


def test_linear_weight_is_transposed():
    layer = nn.Linear(3, 2)
    model = from_torch(nn.Sequential(layer))
    assert model[0].weight.shape == (3, 2)
    np.testing.assert_array_equal(model[0].weight.data, layer.weight.detach().numpy().T)
    np.testing.assert_array_equal(model[0].bias.data, layer.bias.detach().numpy())


def test_weights_survive_a_sequential_that_reinitialises_linear_before_tanh():
    net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2), nn.Sigmoid())
    model = from_torch(net)
    np.testing.assert_array_equal(model[0].weight.data, net[0].weight.detach().numpy().T)
    np.testing.assert_array_equal(model[2].weight.data, net[2].weight.detach().numpy().T)


def test_gradients_match_after_conversion():
    """The basis of PyTorch comparisons: the same model on both sides, the same loss, the same gradients."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.GELU(), nn.Linear(5, 3)).double()
    model = from_torch(net)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 6)), rng.integers(0, 3, 10)
    loss = on.CrossEntropyLoss()
    loss.forward(model(x), y)
    model.backward(loss.backward())
    nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    np.testing.assert_allclose(model[0].weight.grad, net[0].weight.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model[1].weight.grad, net[1].weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model[3].bias.grad, net[3].bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_converted_model_saves_as_safetensors_and_loads_back(tmp_path):
    net = warm_up(nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)), (4,)).eval()
    path = on.save(from_torch(net), tmp_path / "from_torch")
    assert path.endswith(".safetensors")
    loaded = on.load(path).eval()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(loaded(x), torch_outputs(net, x), rtol=0, atol=1e-6)


def test_from_torch_leaves_the_seeded_generator_alone():
    on.manual_seed(3)
    expected = init.rng().random(4)
    on.manual_seed(3)
    from_torch(nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 2)))
    np.testing.assert_array_equal(init.rng().random(4), expected)


def test_batchnorm_without_bias_becomes_a_zero_bias():
    net = nn.Sequential(nn.BatchNorm1d(3, bias=False))
    model = from_torch(net)
    np.testing.assert_array_equal(model[0].bias.data, np.zeros(3, np.float32))


# --- errors --------------------------------------------------------------------------------------------
def test_from_torch_names_an_unsupported_layer():
    net = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), nn.Conv1d(1, 1, 1)))
    with pytest.raises(ValueError, match=r"from_torch: model\.1\.1 is Conv1d, which has no ownnet "
                                         r"equivalent"):
        from_torch(net)


def test_from_torch_refuses_what_ownnet_cannot_compute():
    with pytest.raises(ValueError, match=r"model\.0 is nn\.Softmax\(dim=None\)"):
        from_torch(nn.Sequential(nn.Softmax()))
    with pytest.raises(ValueError, match="momentum=None"):
        from_torch(nn.Sequential(nn.BatchNorm1d(3, momentum=None)))
    with pytest.raises(ValueError, match="torch.float16"):
        from_torch(nn.Sequential(nn.Linear(3, 2)).half())
    with pytest.raises(ValueError, match="mixes float dtypes"):
        from_torch(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2).double()))
    with pytest.raises(TypeError, match="torch_module: expected a torch.nn.Module"):
        from_torch(on.Linear(3, 2))


def test_to_torch_names_a_module_torch_does_not_have():
    model = on.Sequential(on.Linear(4, 4), on.Residual(on.Sequential(on.Linear(4, 4))))
    with pytest.raises(ValueError, match=r"to_torch: cannot convert Residual \(layer 1 of the Sequential\) "
                                         r"at model\.1: Residual has no torch\.nn equivalent"):
        to_torch(model)
    with pytest.raises(TypeError, match="model: expected an ownnet Module"):
        to_torch(nn.Linear(3, 2))


def test_every_library_layer_converts_or_is_refused():
    for info in pkgutil.walk_packages(on.__path__, "ownnet."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            try:
                importlib.import_module(info.name)
            except ImportError:
                pass
    library = {name: cls for name, cls in MODULES.items() if cls.__module__.startswith("ownnet.")}
    from ownnet.io.torch_interop import _to_torch_table

    convertible = {cls.__name__ for cls in _to_torch_table(nn)}
    assert not set(library) - convertible - NO_TORCH_EQUIVALENT, "add the layer to torch_interop"
