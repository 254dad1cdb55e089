"""Synthetic data sets: shapes, dtypes, seeds, balance, and which ones a linear model can separate."""

import numpy as np
import pytest

from ownnet import backend
from ownnet.data.datasets.synthetic import (
    make_blobs,
    make_circles,
    make_heteroscedastic,
    make_linearly_separable,
    make_moons,
    make_regression,
    make_sine,
    make_spirals,
    make_xor,
)

CLASSIFICATION = {  # function -> (keyword arguments, number of features, number of classes)
    make_blobs: ({}, 2, 3),
    make_moons: ({}, 2, 2),
    make_circles: ({}, 2, 2),
    make_spirals: ({}, 2, 2),
    make_xor: ({}, 2, 2),
    make_linearly_separable: ({"n_features": 3}, 3, 2),
}
REGRESSION = {
    make_regression: ({"n_features": 4}, 4),
    make_sine: ({}, 1),
    make_heteroscedastic: ({}, 1),
}
ALL = list(CLASSIFICATION) + list(REGRESSION)


def least_squares_accuracy(x, y):
    """Accuracy of a linear classifier fitted by least squares to one-hot targets (with a bias)."""
    features = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    targets = np.eye(y.max() + 1)[y]
    weights = np.linalg.lstsq(features, targets, rcond=None)[0]
    return float(np.mean(np.argmax(features @ weights, axis=1) == y))


@pytest.mark.parametrize("make", list(CLASSIFICATION), ids=lambda f: f.__name__)
def test_classification_shapes_dtypes_and_balance(make):
    kwargs, n_features, n_classes = CLASSIFICATION[make]
    x, y = make(n_samples=301, seed=0, **kwargs)
    assert x.shape == (301, n_features) and x.dtype == backend.get_default_dtype()
    assert y.shape == (301,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=n_classes)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1
    assert np.isfinite(x).all()
    assert not np.array_equal(y[:20], np.sort(y[:20]))  # rows are shuffled, not grouped by class


@pytest.mark.parametrize("make", list(REGRESSION), ids=lambda f: f.__name__)
def test_regression_shapes_and_dtypes(make):
    kwargs, n_features = REGRESSION[make]
    x, y = make(n_samples=50, seed=0, **kwargs)
    assert x.shape == (50, n_features) and y.shape == (50, 1)
    assert x.dtype == y.dtype == backend.get_default_dtype()


@pytest.mark.parametrize("make", ALL, ids=lambda f: f.__name__)
def test_seed_determinism_and_float64(make):
    x1, y1 = make(seed=3)
    x2, y2 = make(seed=3)
    x3, _ = make(seed=4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    x64, y64 = make(seed=3, dtype="float64")
    assert x64.dtype == np.float64
    np.testing.assert_array_equal(x64.astype(np.float32), x1)  # same points, only the precision differs
    if y64.dtype.kind == "f":
        assert y64.dtype == np.float64
    x_generator, _ = make(seed=np.random.default_rng(3))
    np.testing.assert_array_equal(x_generator, x1)


@pytest.mark.parametrize("make, kwargs", [
    (make_moons, {"n_samples": 1000}),
    (make_circles, {}),
    (make_spirals, {}),
    (make_spirals, {"n_classes": 3}),
    (make_xor, {}),
], ids=["moons", "circles", "spirals", "spirals3", "xor"])
def test_nonlinear_sets_defeat_a_linear_classifier(make, kwargs):
    for seed in range(3):
        assert least_squares_accuracy(*make(seed=seed, **kwargs)) < 0.9


def test_nonlinear_sets_are_learnable_with_the_right_features():
    # the same least-squares classifier succeeds once given the feature that separates each set
    x, y = make_circles(seed=0, noise=0.05)
    assert least_squares_accuracy(np.hstack([x, (x**2).sum(1, keepdims=True)]), y) > 0.97
    x, y = make_xor(seed=0)
    assert least_squares_accuracy(np.hstack([x, x[:, :1] * x[:, 1:]]), y) > 0.97


def perceptron_errors(x, y, epochs=200):
    """Misclassified points left after training a perceptron (it reaches 0 iff the data are separable)."""
    features = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    signs = np.where(y == 1, 1.0, -1.0)
    w = np.zeros(features.shape[1])
    for _ in range(epochs):
        for i in range(len(x)):
            if signs[i] * (features[i] @ w) <= 0:
                w += signs[i] * features[i]
        wrong = int(np.sum(signs * (features @ w) <= 0))
        if wrong == 0:
            break
    return wrong


@pytest.mark.parametrize("n_features", [1, 2, 10])
def test_linearly_separable_is_separable(n_features):
    for seed in range(3):
        x, y = make_linearly_separable(n_samples=400, n_features=n_features, seed=seed, dtype="float64")
        assert perceptron_errors(x, y) == 0
        assert least_squares_accuracy(x, y) >= 0.98  # compare with < 0.9 for the sets below


def test_perceptron_check_can_fail():
    assert perceptron_errors(*make_xor(n_samples=100, seed=0), epochs=20) > 10


@pytest.mark.parametrize("margin", [0.0, 0.5, 2.0])
def test_linearly_separable_margin(margin):
    # in one dimension the normal is +-1, so the empty gap between the classes is visible directly
    x, y = make_linearly_separable(n_samples=500, n_features=1, margin=margin, seed=1, dtype="float64")
    ones, zeros = x[y == 1, 0], x[y == 0, 0]
    gap = max(ones.min() - zeros.max(), zeros.min() - ones.max())
    assert margin <= gap < margin + 0.05


def test_blobs_centers_and_spread():
    centers = np.array([[0.0, 0.0], [10.0, 10.0]])
    x, y = make_blobs(n_samples=2000, centers=centers, cluster_std=[0.5, 2.0], seed=0, dtype="float64")
    for k in range(2):
        np.testing.assert_allclose(x[y == k].mean(0), centers[k], atol=0.2)
        np.testing.assert_allclose(x[y == k].std(0), [0.5, 2.0][k], rtol=0.1)
    x, _ = make_blobs(n_samples=10, centers=4, n_features=5, seed=0)
    assert x.shape == (10, 5)


def test_moons_and_circles_geometry():
    x, y = make_circles(n_samples=200, noise=0.0, factor=0.3, seed=0, dtype="float64")
    radius = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)
    x, y = make_moons(n_samples=200, noise=0.0, seed=0, dtype="float64")
    np.testing.assert_allclose(np.linalg.norm(x[y == 0], axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(x[y == 1] - [1.0, 0.5], axis=1), 1.0)


def test_spirals_radius_and_arms():
    x, y = make_spirals(n_samples=300, n_classes=3, noise=0.0, seed=0, dtype="float64")
    radius = np.linalg.norm(x, axis=1)
    assert radius.max() == pytest.approx(1.0) and radius.min() == 0.0
    # without noise, the outer end of arm k sits at angle 2*pi*(turns + k/3)
    for k in range(3):
        outer = x[(y == k) & (radius > 0.999)][0]
        angle = 2 * np.pi * (1.0 + k / 3)
        np.testing.assert_allclose(outer, [np.cos(angle), np.sin(angle)], atol=1e-12)


def test_regression_is_linear_plus_noise():
    x, y = make_regression(n_samples=500, n_features=3, noise=0.1, seed=0, dtype="float64")
    features = np.hstack([x, np.ones((500, 1))])
    residual = y[:, 0] - features @ np.linalg.lstsq(features, y[:, 0], rcond=None)[0]
    assert 0.08 < residual.std() < 0.12
    x, y = make_sine(n_samples=500, noise=0.0, seed=0, dtype="float64")
    assert 0.0 <= x.min() and x.max() < 1.0
    np.testing.assert_allclose(y, np.sin(2 * np.pi * x))


def _l1_fit(features, target):
    """Least-absolute-deviation line by iteratively reweighted least squares."""
    w = np.linalg.lstsq(features, target, rcond=None)[0]
    for _ in range(200):
        weights = 1 / np.sqrt(np.maximum(np.abs(target - features @ w), 1e-8))
        w = np.linalg.lstsq(features * weights[:, None], target * weights, rcond=None)[0]
    return w


def test_heteroscedastic_separates_mae_from_mse():
    x, y = make_heteroscedastic(n_samples=400, seed=0, dtype="float64")
    features = np.hstack([x, np.ones_like(x)])
    mse_slope, mse_bias = np.linalg.lstsq(features, y[:, 0], rcond=None)[0]
    mae_slope, mae_bias = _l1_fit(features, y[:, 0])
    assert mae_slope == pytest.approx(0.5, abs=0.1) and mae_bias == pytest.approx(1.0, abs=0.3)
    grid = np.linspace(0, 10, 101)
    gap = np.abs((mse_slope - mae_slope) * grid + mse_bias - mae_bias).mean()
    assert gap > 1.0  # the outliers pull the squared-error line visibly away
    residual = y[:, 0] - (0.5 * x[:, 0] + 1)
    assert (residual > 15).sum() == 20  # 5% outliers, all above the line
    clean = residual < 15
    low, high = x[:, 0] < 3, x[:, 0] > 7
    assert residual[clean & high].std() > 3 * residual[clean & low].std()  # noise grows with x


@pytest.mark.parametrize("call, message", [
    (lambda: make_moons(n_samples=0), "n_samples: expected an integer >= 2, got 0"),
    (lambda: make_moons(n_samples=2.5), "n_samples: expected an integer >= 2, got 2.5"),
    (lambda: make_moons(n_samples=True), "n_samples: expected an integer >= 2, got True"),
    (lambda: make_moons(noise=-0.1), "noise: expected a number >= 0.0, got -0.1"),
    (lambda: make_circles(noise=float("nan")), "noise: expected a finite number, got nan"),
    (lambda: make_circles(factor=1.0), "factor: expected a number > 0 and < 1"),
    (lambda: make_circles(factor=0), "factor: expected a number > 0.0"),
    (lambda: make_spirals(n_classes=1), "n_classes: expected an integer >= 2, got 1"),
    (lambda: make_spirals(turns=0), "turns: expected a number > 0.0, got 0"),
    (lambda: make_spirals(n_samples=2, n_classes=3), "n_samples: expected an integer >= 3, got 2"),
    (lambda: make_blobs(centers=0), "centers: expected an integer >= 1, got 0"),
    (lambda: make_blobs(centers=[1, 2]), r"centers: expected an int or a finite array \(n_centers, n_feat"),
    (lambda: make_blobs(cluster_std=[1.0, 2.0]), r"cluster_std: expected a number >= 0 or 3 of them"),
    (lambda: make_blobs(cluster_std=-1), r"cluster_std: expected a number >= 0 or 3 of them, got -1"),
    (lambda: make_blobs(center_box=(1, 1)), r"center_box: expected \(low, high\) with low < high"),
    (lambda: make_blobs(n_samples=2), "n_samples: expected an integer >= 3, got 2"),
    (lambda: make_xor(noise="a"), "noise: expected a finite number, got 'a'"),
    (lambda: make_linearly_separable(margin=-1), "margin: expected a number >= 0.0, got -1"),
    (lambda: make_regression(n_features=0), "n_features: expected an integer >= 1, got 0"),
    (lambda: make_sine(n_samples=-5), "n_samples: expected an integer >= 1, got -5"),
    (lambda: make_heteroscedastic(outlier_fraction=0.9), "outlier_fraction: expected a number >= 0.0 and <="),
])
def test_argument_validation(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_dtype():
    with pytest.raises(TypeError, match="dtype: expected 'float32' or 'float64', got int64"):
        make_moons(dtype="int64")
