"""Finite-difference gradient checks for every registered Module (layers and containers), in float64.

The check is parametrized from ``ownnet.nn.module.MODULES``: a new layer is picked up automatically and
fails ``test_every_registered_module_is_covered`` until it either builds with no arguments or has an
entry in ``CASES``.
"""

import copy
import importlib
import pkgutil

import numpy as np
import pytest

import ownnet
from ownnet.nn import init
from ownnet.nn.activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.gradcheck import GradcheckResult, gradcheck
from ownnet.nn.linear import Linear
from ownnet.nn.module import MODULES, Module
from ownnet.nn.regularization import BatchNorm1d, Dropout
from ownnet.nn.shape import Flatten


def import_all_of_ownnet():
    """Import every ownnet module, so that every Module subclass, including new ones, is registered."""
    for info in pkgutil.walk_packages(ownnet.__path__, "ownnet."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            try:
                importlib.import_module(info.name)
            except ImportError:  # a module whose optional dependency is missing defines no layer here
                pass


import_all_of_ownnet()

DEFAULT_SHAPE = (4, 5)
"""The input shape for a layer built with no arguments."""

CASES = {
    # class name: [(builder, input shape), ...]; each case is checked in training and in eval mode
    "Linear": [(lambda: Linear(5, 3), (4, 5)), (lambda: Linear(5, 2, bias=False), (3, 5))],
    "LeakyReLU": [(lambda: LeakyReLU(0.2), (4, 5))],
    "GELU": [(lambda: GELU(), (4, 5)), (lambda: GELU(approximate="tanh"), (4, 5))],
    "Softmax": [
        (lambda: Softmax(), (4, 5)), (lambda: Softmax(dim=0), (4, 5)), (lambda: Softmax(1), (2, 3, 4)),
    ],
    "LogSoftmax": [(lambda: LogSoftmax(), (4, 5)), (lambda: LogSoftmax(dim=0), (4, 5))],
    "Dropout": [(lambda: Dropout(0.3), (4, 5)), (lambda: Dropout(0.0), (4, 5))],
    "BatchNorm1d": [
        (lambda: BatchNorm1d(5), (6, 5)),
        (lambda: BatchNorm1d(5, affine=False), (6, 5)),
        (lambda: BatchNorm1d(5, track_running_stats=False), (6, 5)),
    ],
    "Flatten": [
        (lambda: Flatten(), (2, 3, 4)), (lambda: Flatten(0, 1), (2, 3, 4)), (lambda: Flatten(-2), (2, 2, 3)),
    ],
    "Sequential": [
        (lambda: Sequential(Linear(5, 4), Tanh(), Linear(4, 3)), (4, 5)),
        (lambda: Sequential(
            Linear(5, 6), BatchNorm1d(6), ReLU(), Dropout(0.25), Linear(6, 3), Softmax()
        ), (6, 5)),
        (lambda: Sequential(Flatten(), Linear(6, 3), GELU(), Linear(3, 2), Sigmoid()), (4, 2, 3)),
        (lambda: Sequential(  # nested containers
            Residual(Sequential(Linear(5, 4), Tanh(), Linear(4, 5))),
            Concat(Residual(Sequential(Linear(5, 5), LeakyReLU())), Sequential(Linear(5, 2), Sigmoid())),
            Linear(7, 3),
        ), (4, 5)),
    ],
    "Residual": [(lambda: Residual(Sequential(Linear(5, 4), Tanh(), Linear(4, 5))), (4, 5))],
    "Concat": [
        (lambda: Concat(Linear(5, 2), Sequential(Linear(5, 3), Sigmoid()), Tanh()), (4, 5)),
        (lambda: Concat(Sequential(Linear(5, 3), Tanh())), (3, 5)),
    ],
}


def library_modules():
    """Every registered Module class defined by ownnet itself (not test helpers)."""
    return {name: cls for name, cls in sorted(MODULES.items()) if cls.__module__.startswith("ownnet.")}


def all_cases():
    cases = []
    for name, cls in library_modules().items():
        builders = CASES.get(name, [(cls, DEFAULT_SHAPE)])
        for index, (builder, shape) in enumerate(builders):
            for mode in ("train", "eval"):
                cases.append(pytest.param(builder, shape, mode, id=f"{name}-{index}-{mode}"))
    return cases


def test_every_registered_module_is_covered():
    assert {"Linear", "ReLU", "Dropout", "BatchNorm1d", "Flatten", "Sequential"} <= set(library_modules())
    x = np.random.default_rng(0).standard_normal(DEFAULT_SHAPE)
    uncovered = []
    for name, cls in library_modules().items():
        if name in CASES:
            continue
        try:
            cls().forward(x)
        except Exception as error:  # any failure means the table needs an entry
            uncovered.append(f"{name} ({type(error).__name__}: {error})")
    assert not uncovered, f"add these modules to CASES in {__file__}: {uncovered}"


@pytest.mark.parametrize(("builder", "shape", "mode"), all_cases())
def test_gradients_match_finite_differences(builder, shape, mode):
    module = builder().train(mode == "train")
    x = np.random.default_rng(1).standard_normal(shape)
    result = gradcheck(module, x)
    assert isinstance(result, GradcheckResult)
    assert result.ok, str(result)
    assert result.max_rel_error < 1e-6


# --- gradcheck catches wrong gradients ----------------------------------------------------------
class _BrokenTanh(Tanh):
    def backward(self, grad_out):
        return super().backward(grad_out) * 1.001  # 0.1 % off


class _BrokenLinear(Linear):
    def backward(self, grad_out):
        grad_x = super().backward(grad_out)
        self.weight.grad[1, 2] += 1e-4  # one entry slightly wrong
        return grad_x


class _NoBackward(Module):
    def forward(self, x):
        return x


def test_detects_a_wrong_input_gradient():
    result = gradcheck(_BrokenTanh(), np.random.default_rng(0).standard_normal((3, 4)))
    assert not result.ok
    assert not bool(result)
    assert result.where.startswith("input[")
    assert result.max_rel_error > 1e-4
    assert "FAILED" in str(result)


def test_names_the_parameter_with_the_wrong_gradient():
    model = Sequential(Linear(3, 4), Tanh(), _BrokenLinear(4, 3))
    result = gradcheck(model, np.random.default_rng(0).standard_normal((5, 3)))
    assert not result.ok
    assert result.where.startswith("2.weight[1, 2]")
    assert "_BrokenLinear (layer 2 of the Sequential)" in result.where
    assert "input" not in result.where


def test_detects_a_gradient_of_the_wrong_shape():
    class _Transposing(Module):
        def forward(self, x):
            return x * 2.0

        def backward(self, grad_out):
            return grad_out.T * 2.0

    result = gradcheck(_Transposing(), np.ones((2, 3)))
    assert not result.ok
    assert result.max_rel_error == np.inf
    assert "shape (3, 2)" in result.where


def test_a_module_without_backward_is_a_clear_error():
    with pytest.raises(TypeError, match="_NoBackward does not implement backward"):
        gradcheck(_NoBackward(), np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"_NoBackward \(layer 1 of the Sequential\)"):
        gradcheck(Sequential(Linear(3, 3), _NoBackward()), np.ones((2, 3)))
    with pytest.raises(TypeError, match="no backward"):
        gradcheck(object(), np.ones((2, 3)), target=np.ones((2, 3)))


def test_rejects_bad_tolerances():
    with pytest.raises(ValueError, match="eps"):
        gradcheck(Tanh(), np.ones((2, 2)), eps=0)
    with pytest.raises(ValueError, match="rtol"):
        gradcheck(Tanh(), np.ones((2, 2)), rtol=0)


# --- gradcheck leaves everything as it found it -------------------------------------------------
def test_works_on_a_float64_copy_and_restores_the_global_generator():
    init.manual_seed(5)
    model = Sequential(Linear(4, 3), Dropout(0.5), Linear(3, 2))
    model[0].needs_input_grad = False
    before = copy.deepcopy(model.state_dict())
    generator = init.rng()
    state = copy.deepcopy(generator.bit_generator.state)

    result = gradcheck(model, np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))

    assert result.ok, str(result)
    assert result.details[0].startswith("input:")  # the input gradient was checked on the copy
    assert init.rng() is generator and generator.bit_generator.state == state
    assert model[0].needs_input_grad is False
    for name, array in model.state_dict().items():
        assert array.dtype == np.float32
        np.testing.assert_array_equal(array, before[name])
    assert all(not p.grad.any() for p in model.parameters())


def test_a_python_list_input_works():
    assert gradcheck(Sigmoid(), [[0.5, -1.0], [2.0, 0.0]]).ok


# --- losses: the gradient with respect to the prediction ----------------------------------------
class _HalfSquaredError:
    """A duck-typed loss: forward(pred, target) -> float, backward() -> dL/dpred."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def forward(self, pred, target):
        self.diff = pred - target
        return float(0.5 * (self.diff**2).sum() / len(pred))

    def backward(self):
        return self.scale * self.diff / len(self.diff)


def test_checks_a_loss_against_its_target():
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert gradcheck(_HalfSquaredError(), pred, target).ok
    wrong = gradcheck(_HalfSquaredError(scale=0.99), pred, target)
    assert not wrong.ok
    assert wrong.where.startswith("pred[")


def test_result_is_readable():
    result = gradcheck(Linear(2, 2), np.ones((1, 2)))
    text = str(result)
    assert text.startswith("gradcheck passed: max relative error")
    assert "weight (weight of Linear)" in text and "bias (bias of Linear)" in text
