"""Every loss against torch.nn.functional in float64: values and gradients to 1e-10."""

import numpy as np
import pytest

from ownnet.nn.losses import LOSSES

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _torch_loss(name, kwargs):
    """The PyTorch loss with the same name and arguments (kwargs are PyTorch's names)."""
    return getattr(torch.nn, name)(**kwargs)


def _regression(rng, shape):
    return rng.normal(size=shape), rng.normal(size=shape)


def _labels(rng, n=7, classes=5):
    return rng.normal(size=(n, classes)) * 3, rng.integers(0, classes, size=n)


def _probabilities(rng, n=7, classes=5, normalized=True):
    target = rng.random((n, classes))
    if normalized:
        target /= target.sum(axis=1, keepdims=True)
    return rng.normal(size=(n, classes)) * 3, target


def _log_probabilities(rng, n=7, classes=5):
    logits, labels = _labels(rng, n, classes)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)), labels


def _binary_logits(rng, shape):
    return rng.normal(size=shape) * 4, rng.random(shape)


def _binary_probs(rng, shape):
    return rng.uniform(0.01, 0.99, size=shape), rng.integers(0, 2, size=shape).astype(np.float64)


CASES = []
for reduction in ("mean", "sum"):
    CASES += [
        ("MSELoss", {"reduction": reduction}, lambda rng: _regression(rng, (6, 3))),
        ("L1Loss", {"reduction": reduction}, lambda rng: _regression(rng, (6, 3))),
        ("HuberLoss", {"reduction": reduction}, lambda rng: _regression(rng, (6, 3))),
        ("HuberLoss", {"reduction": reduction, "delta": 0.3}, lambda rng: _regression(rng, (8,))),
        ("BCEWithLogitsLoss", {"reduction": reduction}, lambda rng: _binary_logits(rng, (8, 1))),
        ("BCEWithLogitsLoss", {"reduction": reduction}, lambda rng: _binary_logits(rng, (8,))),
        ("NLLLoss", {"reduction": reduction}, _log_probabilities),
        ("BCELoss", {"reduction": reduction}, lambda rng: _binary_probs(rng, (8,))),
        ("BCELoss", {"reduction": reduction},
         lambda rng: (np.array([0.0, 1.0, 1e-50, 0.5]), np.array([1.0, 0.0, 1.0, 0.3]))),  # clamped logs
    ]
    for smoothing in (0.0, 0.15):
        kwargs = {"reduction": reduction, "label_smoothing": smoothing}
        CASES += [
            ("CrossEntropyLoss", kwargs, _labels),
            ("CrossEntropyLoss", kwargs, _probabilities),
            ("CrossEntropyLoss", kwargs, lambda rng: _probabilities(rng, normalized=False)),
        ]
CASE_IDS = [f"{name}-{i}-{kwargs}" for i, (name, kwargs, _) in enumerate(CASES)]


def test_every_loss_is_compared():
    missing = sorted(set(LOSSES) - {name for name, _, _ in CASES})
    assert not missing, f"add PyTorch comparisons for {missing}"


@pytest.mark.parametrize(("name", "kwargs", "make"), CASES, ids=CASE_IDS)
def test_value_and_gradient_match_torch(name, kwargs, make):
    pred, target = make(np.random.default_rng(7))
    loss = LOSSES[name](**kwargs)
    value = loss(pred, target)
    grad = loss.backward()

    pred_t = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    target_t = torch.tensor(target)  # int64 labels stay int64, as torch wants
    expected = _torch_loss(name, kwargs)(pred_t, target_t)
    expected.backward()

    assert value == pytest.approx(expected.item(), rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(grad, pred_t.grad.numpy(), rtol=1e-10, atol=1e-10)


HUGE_LOGITS = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [3.0, -1e4, 1e4]])
HUGE_CASES = [
    ("CrossEntropyLoss", np.array([1, 2, 0])),
    ("CrossEntropyLoss", np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.2, 0.3, 0.5]])),
    ("BCEWithLogitsLoss", np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.5, 0.0]])),
]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(("name", "target"), HUGE_CASES)
def test_huge_logits_match_torch(name, target, reduction):
    loss = LOSSES[name](reduction=reduction)
    value = loss(HUGE_LOGITS, target)
    grad = loss.backward()
    pred_t = torch.tensor(HUGE_LOGITS, requires_grad=True)
    expected = _torch_loss(name, {"reduction": reduction})(pred_t, torch.tensor(target))
    expected.backward()
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, pred_t.grad.numpy(), rtol=1e-12, atol=1e-12)
