"""Every layer and container against ``torch.nn`` in float64: outputs, input and parameter gradients.

The ownnet model is translated into the equivalent PyTorch model with the same weights (PyTorch's
``Linear.weight`` is ``(out, in)``, ownnet's ``(in, out)``: transposed), both run the same batch and
the same upstream gradient, and everything must agree to 1e-10.
"""

import importlib
import pkgutil

import numpy as np
import pytest

import ownnet
from ownnet.nn.activations import GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.linear import Linear
from ownnet.nn.module import MODULES
from ownnet.nn.regularization import BatchNorm1d, Dropout
from ownnet.nn.shape import Flatten

torch = pytest.importorskip("torch")
nn = torch.nn

TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


class _TorchResidual(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)


class _TorchConcat(nn.Module):
    def __init__(self, branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class _TorchSameMask(nn.Module):
    """Dropout in training mode with ownnet's mask (read after ownnet's forward): random masks cannot be
    shared, so this compares the rest of the computation; the mask itself is tested without PyTorch."""

    def __init__(self, dropout):
        super().__init__()
        self.dropout = dropout

    def forward(self, x):
        if not self.training or self.dropout.p == 0:
            return x
        return x * _tensor(self.dropout.mask)


def _tensor(array):
    return torch.tensor(np.array(array), dtype=torch.float64)


def _linear(m, pairs):
    t = nn.Linear(m.in_features, m.out_features, bias=m.has_bias, dtype=torch.float64)
    with torch.no_grad():
        t.weight.copy_(_tensor(m.weight.data.T))
        pairs.append((m.weight, t.weight, True))
        if m.has_bias:
            t.bias.copy_(_tensor(m.bias.data))
            pairs.append((m.bias, t.bias, False))
    return t


def _batchnorm(m, pairs):
    t = nn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                       track_running_stats=m.track_running_stats, dtype=torch.float64)
    with torch.no_grad():
        if m.affine:
            t.weight.copy_(_tensor(m.weight.data))
            t.bias.copy_(_tensor(m.bias.data))
            pairs += [(m.weight, t.weight, False), (m.bias, t.bias, False)]
        if m.track_running_stats:
            t.running_mean.copy_(_tensor(m.running_mean))
            t.running_var.copy_(_tensor(m.running_var))
    return t


TRANSLATIONS = {
    "Linear": _linear,
    "BatchNorm1d": _batchnorm,
    "ReLU": lambda m, pairs: nn.ReLU(),
    "LeakyReLU": lambda m, pairs: nn.LeakyReLU(m.negative_slope),
    "Tanh": lambda m, pairs: nn.Tanh(),
    "Sigmoid": lambda m, pairs: nn.Sigmoid(),
    "GELU": lambda m, pairs: nn.GELU(approximate=m.approximate),
    "Softmax": lambda m, pairs: nn.Softmax(dim=m.dim),
    "LogSoftmax": lambda m, pairs: nn.LogSoftmax(dim=m.dim),
    "Identity": lambda m, pairs: nn.Identity(),
    "Dropout": lambda m, pairs: nn.Dropout(m.p) if not m.training else _TorchSameMask(m),
    "Flatten": lambda m, pairs: nn.Flatten(m.start_dim, m.end_dim),
    "Sequential": lambda m, pairs: nn.Sequential(*[to_torch(child, pairs) for child in m.children()]),
    "Residual": lambda m, pairs: _TorchResidual(to_torch(m.block, pairs)),
    "Concat": lambda m, pairs: _TorchConcat([to_torch(child, pairs) for child in m.children()]),
}


def to_torch(module, pairs):
    """The PyTorch twin of ``module`` with the same weights; ``pairs`` collects
    ``(ownnet parameter, torch parameter, transposed)``."""
    twin = TRANSLATIONS[type(module).__name__](module, pairs)
    twin.train(module.training)
    return twin


def assert_same_forward_and_backward(model, x, seed=0):
    pairs = []
    twin = to_torch(model, pairs)
    model.zero_grad()
    out = model.forward(x)
    grad_out = np.random.default_rng(seed).standard_normal(out.shape)
    grad_x = model.backward(grad_out)

    x_torch = _tensor(x).requires_grad_(True)
    out_torch = twin(x_torch)
    out_torch.backward(_tensor(grad_out))

    np.testing.assert_allclose(out, out_torch.detach().numpy(), **TOLERANCE, err_msg="forward")
    np.testing.assert_allclose(grad_x, x_torch.grad.numpy(), **TOLERANCE, err_msg="input gradient")
    assert len(pairs) == len(model.parameters())
    for ours, theirs, transposed in pairs:
        expected = theirs.grad.numpy().T if transposed else theirs.grad.numpy()
        np.testing.assert_allclose(ours.grad, expected, **TOLERANCE, err_msg=f"gradient of {ours.name}")
    return twin


def _model(builder):
    return builder().to("float64")


CASES = [
    ("Linear", lambda: Linear(5, 3), (4, 5)),
    ("Linear-nobias", lambda: Linear(5, 3, bias=False), (4, 5)),
    ("ReLU", ReLU, (4, 5)),
    ("LeakyReLU", lambda: LeakyReLU(0.2), (4, 5)),
    ("LeakyReLU-default", LeakyReLU, (4, 5)),
    ("Tanh", Tanh, (4, 5)),
    ("Sigmoid", Sigmoid, (4, 5)),
    ("GELU", GELU, (4, 5)),
    ("GELU-tanh", lambda: GELU(approximate="tanh"), (4, 5)),
    ("Softmax", Softmax, (4, 5)),
    ("Softmax-dim0", lambda: Softmax(dim=0), (4, 5)),
    ("Softmax-3d", lambda: Softmax(dim=1), (2, 3, 4)),
    ("LogSoftmax", LogSoftmax, (4, 5)),
    ("LogSoftmax-dim0", lambda: LogSoftmax(dim=0), (4, 5)),
    ("Identity", Identity, (4, 5)),
    ("Dropout-p0", lambda: Dropout(0.0), (4, 5)),
    ("Dropout", lambda: Dropout(0.4), (4, 5)),
    ("Flatten", Flatten, (2, 3, 4)),
    ("Flatten-0-1", lambda: Flatten(0, 1), (2, 3, 4)),
    ("Flatten-middle", lambda: Flatten(1, 2), (2, 3, 4, 2)),
    ("BatchNorm1d", lambda: BatchNorm1d(5), (6, 5)),
    ("BatchNorm1d-noaffine", lambda: BatchNorm1d(5, affine=False), (6, 5)),
    ("BatchNorm1d-nostats", lambda: BatchNorm1d(5, track_running_stats=False), (6, 5)),
    ("Sequential", lambda: Sequential(Linear(5, 4), Tanh(), Linear(4, 3)), (4, 5)),
    ("Sequential-all", lambda: Sequential(
        Flatten(), Linear(6, 8), BatchNorm1d(8), ReLU(), Linear(8, 6), LeakyReLU(), Linear(6, 5), GELU(),
        Linear(5, 4), Sigmoid(), Identity(), Dropout(0.5), Linear(4, 3), Softmax(),
    ), (5, 2, 3)),
    ("Residual", lambda: Residual(Sequential(Linear(5, 4), Tanh(), Linear(4, 5))), (4, 5)),
    ("Concat", lambda: Concat(Linear(5, 2), Sequential(Linear(5, 3), Sigmoid()), Tanh()), (4, 5)),
    ("nested", lambda: Sequential(
        Residual(Sequential(Linear(5, 5), GELU("tanh"))),
        Concat(Residual(Sequential(Linear(5, 5), ReLU())), Sequential(Linear(5, 2), Sigmoid())),
        Linear(7, 3),
    ), (4, 5)),
]


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize(("builder", "shape"), [pytest.param(b, s, id=name) for name, b, s in CASES])
def test_matches_torch(builder, shape, mode):
    model = _model(builder).train(mode == "train")
    x = np.random.default_rng(1).standard_normal(shape) * 2
    assert_same_forward_and_backward(model, x)


def test_every_layer_is_compared():
    for info in pkgutil.walk_packages(ownnet.__path__, "ownnet."):  # register every Module subclass
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            try:
                importlib.import_module(info.name)
            except ImportError:
                pass
    library = {name for name, cls in MODULES.items() if cls.__module__.startswith("ownnet.")}
    assert not library - set(TRANSLATIONS), "add a PyTorch translation and a case for these modules"
    compared = set()
    for _, builder, _ in CASES:
        compared |= {type(m).__name__ for m in builder().modules()}
    assert not library - compared


def test_batchnorm_running_statistics_follow_torch():
    rng = np.random.default_rng(2)
    model = BatchNorm1d(4, momentum=0.3).to("float64")
    model.weight.data[...] = rng.uniform(0.5, 2.0, 4)
    model.bias.data[...] = rng.standard_normal(4)
    twin = to_torch(model, [])
    for _ in range(4):
        x = rng.standard_normal((8, 4)) * 3 + 1
        model.forward(x)
        twin(_tensor(x))
    np.testing.assert_allclose(model.running_mean, twin.running_mean.numpy(), **TOLERANCE)
    np.testing.assert_allclose(model.running_var, twin.running_var.numpy(), **TOLERANCE)

    model.eval()  # now the running statistics normalise: compare forward and gradients in eval mode
    x = rng.standard_normal((5, 4))
    assert_same_forward_and_backward(model, x)
    np.testing.assert_allclose(model.forward(x), to_torch(model, []).eval()(_tensor(x)).detach().numpy(),
                               **TOLERANCE)


def test_dropout_in_eval_mode_is_the_identity_as_in_torch():
    model = Dropout(0.7).eval()
    x = np.random.default_rng(3).standard_normal((4, 5))
    twin = to_torch(model, []).eval()
    np.testing.assert_array_equal(model.forward(x), twin(_tensor(x)).numpy())
