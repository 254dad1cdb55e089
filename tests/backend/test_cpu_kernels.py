"""The optional Numba kernels (``ownnet.backend.cpu_kernels``) give the NumPy code's results: bitwise for the
optimizer updates (SGD, Adam and RMSProp: every option they cover), the activations and the accuracy, to a
few ulps for the cross-entropy; float32 and float64. Skipped, with the reason, where Numba is not installed or
``OWNNET_NUMBA=0`` switches the kernels off (the rest of the suite then runs the NumPy code)."""

import os

import numpy as np
import pytest

import ownnet as on
from ownnet.backend import cpu_kernels
from ownnet.backend.ops import NumpyOps

OPTIMIZERS = [
    lambda p: on.SGD(p, lr=0.1),
    lambda p: on.SGD(p, lr=0.1, weight_decay=1e-2),
    lambda p: on.SGD(p, lr=0.1, momentum=0.9),
    lambda p: on.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: on.SGD(p, lr=0.07, momentum=0.5, dampening=0.3),
    lambda p: on.Adam(p, lr=1e-2),
    lambda p: on.Adam(p, lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-3),
    lambda p: on.AdamW(p, lr=1e-2, weight_decay=0.1),
    lambda p: on.RMSProp(p, lr=1e-2),
    lambda p: on.RMSProp(p, lr=1e-2, alpha=0.9, momentum=0.9, centered=True, weight_decay=1e-3),
]


def require_kernels():
    pytest.importorskip("numba")
    if os.environ.get("OWNNET_NUMBA") == "0":
        pytest.skip("OWNNET_NUMBA=0 switches the compiled kernels off")


def trajectory(make, dtype, compiled, steps=25, in_place=False):
    """``in_place``: the gradients are written into the same arrays every step (as backward does), and
    at step 12 every parameter's data is replaced by a copy and the optimizer's state is reloaded
    (new arrays): the compiled step must follow the new arrays, not the flat views it kept."""
    cpu_kernels.set_enabled(compiled)
    try:
        rng = np.random.default_rng(0)
        on.manual_seed(0)
        model = on.Sequential(on.Linear(7, 5, dtype=dtype), on.Linear(5, 3, dtype=dtype)).to("cpu")
        optimizer = make(model.parameters())
        for step in range(steps):
            for p in model.parameters():
                if in_place:
                    p.grad[...] = rng.standard_normal(p.shape).astype(dtype)
                else:
                    p.grad = rng.standard_normal(p.shape).astype(dtype)
            if in_place and step == 12:
                for p in model.parameters():
                    p.data = p.data.copy()
                optimizer.load_state_dict(optimizer.state_dict())
            if step == 10:
                optimizer.lr *= 0.5  # a schedule's change is read at the next step
            optimizer.step()
        return [p.data.copy() for p in model.parameters()], optimizer.state_dict()
    finally:
        cpu_kernels.set_enabled(True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make", OPTIMIZERS)
@pytest.mark.parametrize("in_place", [False, True])
def test_compiled_update_is_bitwise_the_numpy_update(make, dtype, in_place):
    require_kernels()
    numpy_params, numpy_state = trajectory(make, dtype, compiled=False, in_place=in_place)
    compiled_params, compiled_state = trajectory(make, dtype, compiled=True, in_place=in_place)
    assert cpu_kernels.available()
    for a, b in zip(numpy_params, compiled_params):
        np.testing.assert_array_equal(a, b)
    assert numpy_state["state"].keys() == compiled_state["state"].keys()
    for key, array in numpy_state["state"].items():
        np.testing.assert_array_equal(array, compiled_state["state"][key], err_msg=key)


def test_switched_off_the_numpy_code_runs(monkeypatch):
    cpu_kernels.set_enabled(False)
    try:
        assert not cpu_kernels.available()
        model = on.Linear(3, 2).to("cpu")
        optimizer = on.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model.weight.grad = np.ones((3, 2), np.float32)
        model.bias.grad = np.ones(2, np.float32)
        optimizer.step()
        assert type(optimizer.ops) is NumpyOps  # the reference, chosen when the optimizer was made
        assert "scratch" in optimizer._work[0]  # the NumPy rule's buffers
    finally:
        cpu_kernels.set_enabled(True)


def activation_passes(layer, x, grad, compiled):
    cpu_kernels.set_enabled(compiled)
    try:
        return layer.forward(x), layer.backward(grad)
    finally:
        cpu_kernels.set_enabled(True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make", [on.ReLU, on.Tanh, on.Sigmoid])
def test_compiled_activations_equal_the_numpy_code(make, dtype):
    require_kernels()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((33, 17)).astype(dtype)
    x[0, :3] = [0.0, -0.0, 1e-30]  # ties at zero and a tiny value
    grad = rng.standard_normal(x.shape).astype(dtype)
    expected = activation_passes(make(), x, grad, compiled=False)
    got = activation_passes(make(), x, grad, compiled=True)
    for a, b in zip(expected, got):
        assert b.dtype == x.dtype and b.shape == x.shape
        np.testing.assert_array_equal(a, b)


def test_compiled_relu_keeps_nan_and_skips_what_it_does_not_cover():
    require_kernels()
    x = np.array([[np.nan, -1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(on.ReLU().forward(x), [[np.nan, 0.0, 2.0]])
    assert cpu_kernels.elementwise_ready(x)
    assert not cpu_kernels.elementwise_ready(np.ones((4, 3), np.float32)[:, :2])  # not contiguous
    assert not cpu_kernels.elementwise_ready(np.ones(3, np.int64))
    assert not cpu_kernels.elementwise_ready(x, x.astype(np.float64))  # mixed dtypes
    assert not cpu_kernels.elementwise_ready(x, x.reshape(3, 1))  # another shape
    assert not cpu_kernels.elementwise_ready(x, x[:, ::-1])  # a later array not contiguous
    assert not cpu_kernels.elementwise_ready(x, x.tolist()) and not cpu_kernels.elementwise_ready([1.0])
    column = np.asfortranarray(np.arange(-3.0, 3.0).reshape(2, 3))
    np.testing.assert_array_equal(on.ReLU().forward(column), np.maximum(column, 0))  # NumPy's path


def cross_entropy_passes(loss, logits, labels, compiled):
    cpu_kernels.set_enabled(compiled)
    try:
        return loss.forward(logits, labels), loss.backward()
    finally:
        cpu_kernels.set_enabled(True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1}, {"reduction": "sum"}])
def test_compiled_cross_entropy_matches_the_numpy_code(options, dtype):
    require_kernels()
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((37, 10)) * 8).astype(dtype)
    logits[0] = [1e4, -1e4] + [0.0] * 8  # far apart: the shift by the row's max keeps exp finite
    labels = rng.integers(0, 10, 37).astype(np.int32)
    loss = on.CrossEntropyLoss(**options)
    value, grad = cross_entropy_passes(loss, logits, labels, compiled=False)
    fused_value, fused_grad = cross_entropy_passes(loss, logits, labels, compiled=True)
    assert fused_grad.dtype == logits.dtype and fused_grad.shape == logits.shape
    assert isinstance(fused_value, float) and np.isfinite(fused_value)
    tol = 1e-5 if dtype == "float32" else 1e-12  # exp, log and sums in another order: a few ulps
    np.testing.assert_allclose(fused_value, value, rtol=tol)
    np.testing.assert_allclose(fused_grad, grad, rtol=tol, atol=tol * np.abs(grad).max())


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8])
def test_compiled_accuracy_counts_as_argmax_does(label_dtype):
    require_kernels()
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 3, (200, 4)).astype(np.float32)  # many ties: the first largest wins
    scores[0] = [np.nan, 5.0, np.nan, 1.0]  # NaN counts as the largest, the first one
    scores[1] = [1.0, 7.0, np.nan, 1.0]
    labels = rng.integers(0, 4, 200).astype(label_dtype)
    labels[:2] = [0, 2]
    expected = float((scores.argmax(axis=1) == labels).mean())
    assert cpu_kernels.available()
    assert cpu_kernels.count_correct(scores, labels) == round(expected * 200)
    assert on.metrics.accuracy(labels, scores) == expected
    assert on.metrics.zero_one_loss(labels, scores) == pytest.approx(1 - expected)
    cpu_kernels.set_enabled(False)
    try:
        assert on.metrics.accuracy(labels, scores) == expected  # the NumPy code agrees
    finally:
        cpu_kernels.set_enabled(True)


def test_compiled_accuracy_leaves_errors_to_the_checks():
    require_kernels()
    scores = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match=">= 0"):
        on.metrics.accuracy(np.array([0, -1, 2]), scores)
    with pytest.raises(ValueError, match="same length"):
        on.metrics.accuracy(np.array([0, 1]), scores)
    assert on.metrics.accuracy(np.array([0, 1, 2]), np.asfortranarray(scores)) == 1.0  # NumPy's path
