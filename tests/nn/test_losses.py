"""Tests of ownnet.nn.losses: finite-difference gradients for every loss, a hand-worked example,
extreme logits, float32 in -> float32 out, and every validation error."""

import math
import warnings

import numpy as np
import pytest

from ownnet.nn.gradcheck import gradcheck
from ownnet.nn.losses import (
    LOSSES,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    Loss,
    MSELoss,
)


# --- makers of (pred, target) pairs, float64 ------------------------------------------------------
def _regression(shape):
    def make(rng):
        return rng.normal(size=shape), rng.normal(size=shape)
    return make


def _away_from_kinks(shape, kinks):
    """pred, target with |pred - target| at least 0.1 away from every kink (0 for L1, delta for Huber)."""
    def make(rng):
        pred = rng.normal(size=shape)
        diff = rng.uniform(0.1, 2.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        for kink in kinks:
            near = np.abs(np.abs(diff) - kink) < 0.1
            diff[near] += 0.25 * np.sign(diff[near])
        return pred, pred - diff
    return make


def _labels(n, classes, as_float=False):
    def make(rng):
        labels = rng.integers(0, classes, size=n)
        return rng.normal(size=(n, classes)), labels.astype(np.float64) if as_float else labels
    return make


def _log_probabilities(n, classes, as_float=False):
    """Rows of log-probabilities (a log-softmax of random logits) and class labels."""
    def make(rng):
        logits = rng.normal(size=(n, classes))
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        labels = rng.integers(0, classes, size=n)
        return log_probs, labels.astype(np.float64) if as_float else labels
    return make


def _probabilities(n, classes, one_hot=False, normalized=True):
    """Rows summing to one, one-hot rows, or (normalized=False) any nonnegative weights, as PyTorch allows."""
    def make(rng):
        if one_hot:
            target = np.eye(classes)[rng.integers(0, classes, size=n)]
        else:
            target = rng.random((n, classes))
            if normalized:
                target /= target.sum(axis=1, keepdims=True)
        return rng.normal(size=(n, classes)), target
    return make


def _binary_logits(shape, soft=False):
    def make(rng):
        target = rng.random(shape) if soft else rng.integers(0, 2, size=shape).astype(np.float64)
        return 2.0 * rng.normal(size=shape), target
    return make


def _binary_probs(shape, soft=False):
    def make(rng):
        target = rng.random(shape) if soft else rng.integers(0, 2, size=shape).astype(np.float64)
        return rng.uniform(0.05, 0.95, size=shape), target
    return make


CASES = [
    ("MSELoss", {}, _regression((5, 3))),
    ("MSELoss", {"reduction": "sum"}, _regression((6,))),
    ("L1Loss", {}, _away_from_kinks((5, 3), [0.0])),
    ("L1Loss", {"reduction": "sum"}, _away_from_kinks((6, 1), [0.0])),
    ("HuberLoss", {}, _away_from_kinks((5, 3), [0.0, 1.0])),
    ("HuberLoss", {"reduction": "sum", "delta": 0.5}, _away_from_kinks((5, 3), [0.0, 0.5])),
    ("CrossEntropyLoss", {}, _labels(5, 4)),
    ("CrossEntropyLoss", {"reduction": "sum"}, _labels(5, 4)),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, _labels(5, 4)),
    ("CrossEntropyLoss", {"reduction": "sum", "label_smoothing": 0.3}, _labels(5, 4, as_float=True)),
    ("CrossEntropyLoss", {}, _probabilities(5, 4)),
    ("CrossEntropyLoss", {"reduction": "sum"}, _probabilities(5, 4, one_hot=True)),
    ("CrossEntropyLoss", {"label_smoothing": 0.2}, _probabilities(5, 4)),
    ("CrossEntropyLoss", {"label_smoothing": 0.2}, _probabilities(5, 4, normalized=False)),
    ("NLLLoss", {}, _log_probabilities(5, 4)),
    ("NLLLoss", {"reduction": "sum"}, _log_probabilities(5, 4, as_float=True)),
    ("BCEWithLogitsLoss", {}, _binary_logits((6,))),
    ("BCEWithLogitsLoss", {"reduction": "sum"}, _binary_logits((6, 1), soft=True)),
    ("BCEWithLogitsLoss", {}, _binary_logits((4, 3), soft=True)),
    ("BCELoss", {}, _binary_probs((6,))),
    ("BCELoss", {"reduction": "sum"}, _binary_probs((6, 1), soft=True)),
]
CASE_IDS = [f"{name}-{i}-{kwargs}" for i, (name, kwargs, _) in enumerate(CASES)]


def test_every_loss_is_covered_by_the_gradient_table():
    covered = {name for name, _, _ in CASES}
    missing = sorted(set(LOSSES) - covered)
    assert not missing, f"add gradient-check cases for {missing} to CASES"
    for name in LOSSES:
        reductions = {kwargs.get("reduction", "mean") for case, kwargs, _ in CASES if case == name}
        assert reductions == {"mean", "sum"}, f"{name}: both reductions must be checked"


def _central_differences(loss, pred, target, eps=1e-6):
    """An independent numerical gradient: (L(x + eps) - L(x - eps)) / 2 eps, entry by entry."""
    pred = pred.copy()
    numeric = np.zeros_like(pred)
    for index in np.ndindex(pred.shape):
        original = pred[index]
        pred[index] = original + eps
        plus = loss.forward(pred, target)
        pred[index] = original - eps
        minus = loss.forward(pred, target)
        pred[index] = original
        numeric[index] = (plus - minus) / (2 * eps)
    return numeric


@pytest.mark.parametrize(("name", "kwargs", "make"), CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences(name, kwargs, make):
    pred, target = make(np.random.default_rng(len(name)))
    result = gradcheck(LOSSES[name](**kwargs), pred, target)
    assert result.ok, result
    assert result.max_rel_error < 1e-6

    loss = LOSSES[name](**kwargs)
    loss.forward(pred, target)
    analytic = loss.backward()
    assert analytic.shape == pred.shape and analytic.dtype == np.float64
    numeric = _central_differences(loss, pred, target)
    relative = np.abs(analytic - numeric) / (np.maximum(np.abs(analytic), np.abs(numeric)) + 1e-2)
    assert relative.max() < 1e-6, (analytic, numeric)


def test_gradient_check_can_fail():
    class _WrongMSE(MSELoss):  # the 1/2-factor gradient: off by a factor of two
        def backward(self):
            return super().backward() / 2

    pred, target = _regression((4, 2))(np.random.default_rng(0))
    assert not gradcheck(_WrongMSE(), pred, target).ok


# --- hand-worked examples ---------------------------------------------------------------------------
def test_cross_entropy_by_hand():
    # sample 0: logits (0, 0, 0) -> p = (1/3, 1/3, 1/3), label 0: loss log 3
    # sample 1: logits (0, log 2, 0) -> p = (1/4, 1/2, 1/4), label 1: loss log 2
    logits = np.array([[0.0, 0.0, 0.0], [0.0, math.log(2.0), 0.0]])
    labels = np.array([0, 1])
    loss = CrossEntropyLoss()
    assert loss(logits, labels) == pytest.approx((math.log(3) + math.log(2)) / 2, abs=1e-15)
    # (p - one_hot) / 2
    expected = np.array([[-2 / 3, 1 / 3, 1 / 3], [1 / 4, -1 / 2, 1 / 4]]) / 2
    np.testing.assert_allclose(loss.backward(), expected, atol=1e-15)

    assert CrossEntropyLoss(reduction="sum")(logits, labels) == pytest.approx(math.log(6), abs=1e-15)
    # label smoothing 0.3 with 3 classes: target (0.8, 0.1, 0.1) for class 0, (0.1, 0.8, 0.1) for class 1
    smooth = CrossEntropyLoss(label_smoothing=0.3)
    value = (math.log(3) + (0.8 * math.log(2) + 0.2 * math.log(4))) / 2
    assert smooth(logits, labels) == pytest.approx(value, abs=1e-15)


def test_regression_losses_by_hand():
    pred, target = np.array([1.0, 2.0]), np.array([0.0, 4.0])  # differences 1 and -2
    mse = MSELoss()
    assert mse(pred, target) == 2.5  # (1 + 4) / 2
    np.testing.assert_array_equal(mse.backward(), [1.0, -2.0])  # 2 d / 2
    l1 = L1Loss(reduction="sum")
    assert l1(pred, target) == 3.0
    np.testing.assert_array_equal(l1.backward(), [1.0, -1.0])
    huber = HuberLoss()  # d = 0.5 (quadratic) and 3 (linear)
    assert huber(np.array([0.5, 3.0]), np.zeros(2)) == (0.125 + 2.5) / 2
    np.testing.assert_array_equal(huber.backward(), [0.25, 0.5])


def test_binary_losses_by_hand():
    bce = BCELoss()
    assert bce(np.array([0.5, 0.8]), np.array([1.0, 0.0])) == pytest.approx(
        (math.log(2) - math.log(0.2)) / 2, abs=1e-15)
    logistic = BCEWithLogitsLoss(reduction="sum")
    assert logistic(np.array([0.0, math.log(3)]), np.array([1.0, 1.0])) == pytest.approx(
        math.log(2) + math.log(4 / 3), abs=1e-15)  # sigmoid(log 3) = 3/4
    np.testing.assert_allclose(logistic.backward(), [-0.5, -0.25], atol=1e-15)


def test_labels_and_one_hot_targets_agree():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    for smoothing in (0.0, 0.25):
        by_label, by_one_hot = CrossEntropyLoss(label_smoothing=smoothing), CrossEntropyLoss(
            label_smoothing=smoothing)
        value = by_label(logits, labels)
        assert value == pytest.approx(by_one_hot(logits, np.eye(4)[labels]), rel=1e-14)
        np.testing.assert_allclose(by_label.backward(), by_one_hot.backward(), atol=1e-15)


# --- extreme logits ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4]], dtype=dtype)
    loss = CrossEntropyLoss(reduction="sum")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or divide warnings either
        right = loss(logits, np.array([0, 1]))
        np.testing.assert_array_equal(loss.backward(), [[0, 0, 0], [0, 0, 0]])
        wrong = loss(logits, np.array([1, 2]))  # limits: 1e4 - (-1e4) for each sample
        grad = loss.backward()
        soft = CrossEntropyLoss()(logits, np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]))
    assert right == 0.0
    assert wrong == 4e4
    np.testing.assert_array_equal(grad, [[1, -1, 0], [0, 1, -1]])
    assert soft == pytest.approx((0.5 * 2e4 + 2e4) / 2)
    assert grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_finite_for_huge_logits(dtype):
    logits = np.array([1e4, 1e4, -1e4, -1e4], dtype=dtype)
    target = np.array([1.0, 0.0, 1.0, 0.0])
    loss = BCEWithLogitsLoss(reduction="sum")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss(logits, target)
        grad = loss.backward()
    assert value == 2e4  # 0 + 1e4 + 1e4 + 0
    np.testing.assert_array_equal(grad, [0.0, 1.0, -1.0, 0.0])  # sigmoid(x) - y
    assert grad.dtype == dtype


def test_bce_clamps_the_log_at_minus_100():
    loss = BCELoss(reduction="sum")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss(np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
        grad = loss.backward()
    assert value == 200.0
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, [-1e12, 1e12, 0.0])  # (p - y) / max(p (1 - p), 1e-12)


# --- dtypes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "kwargs", "make"), CASES, ids=CASE_IDS)
def test_float32_in_float32_out(name, kwargs, make):
    pred, target = make(np.random.default_rng(3))
    pred32 = pred.astype(np.float32)
    loss = LOSSES[name](**kwargs)
    value = loss(pred32, target)  # float64 targets are cast to pred's dtype
    assert type(value) is float
    saved = [v for v in vars(loss).values() if isinstance(v, np.ndarray)]
    saved += [v for v in (loss._cache or ()) if isinstance(v, np.ndarray)]
    assert all(array.dtype != np.float64 for array in saved)
    grad = loss.backward()
    assert grad.dtype == np.float32 and grad.shape == pred.shape
    loss64 = LOSSES[name](**kwargs)
    assert value == pytest.approx(loss64(pred, target), rel=1e-5)
    np.testing.assert_allclose(grad, loss64.backward(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("name", "kwargs", "make"), CASES, ids=CASE_IDS)
def test_inputs_are_not_modified(name, kwargs, make):
    pred, target = make(np.random.default_rng(4))
    pred_copy, target_copy = pred.copy(), target.copy()
    loss = LOSSES[name](**kwargs)
    loss(pred, target)
    loss.backward()
    np.testing.assert_array_equal(pred, pred_copy)
    np.testing.assert_array_equal(target, target_copy)


# --- the Loss interface -----------------------------------------------------------------------------
def test_registry_config_and_repr():
    expected = {"MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "BCELoss"}
    assert expected <= set(LOSSES)
    assert all(issubclass(cls, Loss) for cls in LOSSES.values())
    loss = CrossEntropyLoss(reduction="sum", label_smoothing=0.1)
    assert loss.get_config() == {"reduction": "sum", "label_smoothing": 0.1}
    assert repr(loss) == "CrossEntropyLoss(reduction='sum', label_smoothing=0.1)"
    assert repr(HuberLoss(delta=2)) == "HuberLoss(reduction='mean', delta=2.0)"
    for cls in LOSSES.values():
        rebuilt = cls(**cls().get_config())
        assert rebuilt.get_config() == cls().get_config()

    class _Private(Loss):
        pass

    assert "_Private" not in LOSSES


def test_call_is_forward_and_pred_can_be_a_list():
    loss = MSELoss()
    assert loss([1.0, 2.0], [1.0, 0.0]) == loss.forward(np.array([1.0, 2.0]), np.array([1.0, 0.0])) == 2.0


def test_backward_before_forward_and_twice():
    loss = CrossEntropyLoss()
    with pytest.raises(ValueError, match="CrossEntropyLoss: backward\\(\\) called before forward"):
        loss.backward()
    loss(np.zeros((2, 3)), np.array([0, 1]))
    loss.backward()
    with pytest.raises(ValueError, match="called twice"):
        loss.backward()


@pytest.mark.parametrize("cls", [MSELoss, CrossEntropyLoss, BCELoss])
def test_bad_reduction(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: reduction must be 'mean' or 'sum', got 'none'"):
        cls(reduction="none")


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="label_smoothing must be \\[0.0, 1.0\\], got 1.5"):
        CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(TypeError, match="label_smoothing must be a number"):
        CrossEntropyLoss(label_smoothing="0.1")
    with pytest.raises(ValueError, match="HuberLoss: delta must be > 0.0, got 0.0"):
        HuberLoss(delta=0)


# --- validation of pred and target ------------------------------------------------------------------
@pytest.mark.parametrize("cls", [MSELoss, L1Loss, HuberLoss, CrossEntropyLoss, BCEWithLogitsLoss, BCELoss])
def test_pred_must_be_float(cls):
    with pytest.raises(TypeError, match=f"{cls.__name__}: pred must be a float array .*got dtype int64"):
        cls()(np.zeros((2, 2), dtype=np.int64), np.zeros(2, dtype=np.int64))


@pytest.mark.parametrize("cls", [MSELoss, L1Loss, HuberLoss, CrossEntropyLoss, BCEWithLogitsLoss, BCELoss])
def test_batch_size_mismatch(cls):
    pred = np.full((4, 2), 0.5)
    target = np.zeros(3, dtype=np.int64) if cls is CrossEntropyLoss else np.zeros((3, 2))
    message = f"{cls.__name__}: batch size mismatch: pred has 4 samples.*target has 3"
    with pytest.raises(ValueError, match=message):
        cls()(pred, target)


@pytest.mark.parametrize("cls", [MSELoss, L1Loss, HuberLoss, BCEWithLogitsLoss, BCELoss])
def test_no_silent_broadcasting(cls):
    with pytest.raises(ValueError, match=r"same shape as pred \(4, 1\), got \(4,\); reshape it with "
                                         r"target.reshape\(\(4, 1\)\)"):
        cls()(np.full((4, 1), 0.5), np.zeros(4))
    with pytest.raises(ValueError, match=r"same shape as pred \(4,\), got \(4, 1\)"):
        cls()(np.full(4, 0.5), np.zeros((4, 1)))


def test_class_labels_must_be_integers():
    loss = CrossEntropyLoss()
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match="class labels must be integers, got 2.5 at index 1"):
        loss(logits, np.array([0.0, 2.5, 1.0]))
    assert loss(logits, np.array([0.0, 3.0, 1.0])) == pytest.approx(math.log(4))  # integral floats: fine
    with pytest.raises(TypeError, match="class labels must be integers, got dtype bool"):
        loss(logits, np.array([True, False, True]))


@pytest.mark.parametrize(("labels", "bad"), [([0, 4, 1], "4"), ([0, -1, 1], "-1")])
def test_class_labels_must_be_in_range(labels, bad):
    with pytest.raises(ValueError, match=rf"class labels must lie in \[0, 4\) for pred with 4 classes, got "
                                         rf"label {bad}"):
        CrossEntropyLoss()(np.zeros((3, 4)), np.array(labels))


def test_probability_targets_must_match_pred():
    loss = CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"probability targets must have the same shape as pred \(3, 4\), "
                                         r"got \(3, 3\)"):
        loss(np.zeros((3, 4)), np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"got \(3, 1\) \(for class labels pass a 1-D array"):
        loss(np.zeros((3, 4)), np.zeros((3, 1), dtype=np.int64))


def test_cross_entropy_needs_2d_logits():
    message = r"logits pred of shape \(batch, classes\), got \(3,\).*reshape\(1, -1\)"
    with pytest.raises(ValueError, match=message):
        CrossEntropyLoss()(np.zeros(3), np.array([0, 1, 2]))


@pytest.mark.parametrize("cls", [BCEWithLogitsLoss, BCELoss])
def test_binary_targets_must_be_in_unit_interval(cls):
    message = f"{cls.__name__}: targets must lie in \\[0, 1\\], got a value of 2.0"
    with pytest.raises(ValueError, match=message):
        cls()(np.full(3, 0.5), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="targets must lie in \\[0, 1\\], got a value of -1.0"):
        cls()(np.full(3, 0.5), np.array([0.0, -1.0, 1.0]))


def test_bce_pred_must_be_probabilities():
    message = r"BCELoss: pred \(probabilities\) must lie in \[0, 1\], got a value of 1.5"
    with pytest.raises(ValueError, match=message):
        BCELoss()(np.array([0.5, 1.5]), np.array([0.0, 1.0]))


def test_integer_binary_targets_are_cast_to_pred_dtype():
    loss = BCEWithLogitsLoss()
    value = loss(np.zeros(4, dtype=np.float32), np.array([0, 1, 1, 0]))
    assert value == pytest.approx(math.log(2))
    assert loss.backward().dtype == np.float32
