"""ownnet.sklearn's internals: the gradients of every output/loss pair (finite differences in float64),
the sparse first-layer product, scikit-learn's stopping rule, and what the estimators promise about
dtypes, sample weights, coefs_ and small validation sets."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")
import scipy.sparse as sp  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import ownnet.sklearn.network as network  # noqa: E402
from ownnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from ownnet.sklearn.stochastic import update_no_improvement_count  # noqa: E402

PAIRS = [("softmax", "log_loss"), ("logistic", "binary_log_loss"), ("identity", "squared_error"),
         ("exp", "poisson"), ("identity", "absolute_error"), ("identity", "huber")]


def _problem(out_activation, loss, rng):
    """7 samples, 4 features, 3 outputs (1 for the squared error: scikit-learn's gradient is that of the
    *sum* over outputs of the loss whose mean over outputs it reports, so they agree for one output)."""
    x = rng.normal(size=(7, 4))
    if loss == "squared_error":
        return x, rng.normal(size=(7, 1))
    if out_activation == "softmax":
        y = np.eye(3)[rng.integers(0, 3, 7)]
    elif out_activation == "logistic":
        y = rng.integers(0, 2, (7, 3)).astype(float)
    elif out_activation == "exp":
        y = rng.poisson(2.0, (7, 3)).astype(float)
    else:
        y = 2.0 * rng.normal(size=(7, 3))
    return x, y


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("out_activation, loss", PAIRS)
def test_gradients_match_finite_differences(out_activation, loss, sparse):
    rng = np.random.default_rng(0)
    x, y = _problem(out_activation, loss, rng)
    weights = rng.uniform(0.5, 2.0, len(x))
    model = network.build([4, 5, y.shape[1]], "tanh", 0.0, "float64")
    network.glorot_uniform(model, "tanh", np.random.RandomState(0))
    x_in = sp.csr_matrix(x) if sparse else x

    def loss_at():
        return network.loss_and_gradients(model, out_activation, loss, 0.1, x_in, y, weights)

    loss_at()
    analytic = [p.grad.copy() for p in network.parameters(model)]
    for parameter, grad in zip(network.parameters(model), analytic):
        numeric = np.zeros_like(grad)
        for index in np.ndindex(grad.shape):
            saved = parameter.data[index]
            parameter.data[index] = saved + 1e-6
            up = loss_at()
            parameter.data[index] = saved - 1e-6
            down = loss_at()
            parameter.data[index] = saved
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_stopping_rule_is_scikit_learns():
    """best_loss_ follows every improvement, and an epoch counts as "no improvement" unless it beats
    best_loss_ - tol: many small improvements stop training (ownnet's EarlyStopping would not)."""
    state = SimpleNamespace(loss_curve_=[], best_loss_=np.inf, tol=0.01, _no_improvement_count=0)
    counts = []
    for loss in [1.0, 0.995, 0.99, 0.985, 0.98, 0.5, 0.6]:
        state.loss_curve_.append(loss)
        update_no_improvement_count(state, None)
        counts.append(state._no_improvement_count)
    assert counts == [0, 1, 2, 3, 4, 0, 1]
    assert state.best_loss_ == 0.5


def test_validation_set_too_small_is_an_error():
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.05).fit(np.ones((12, 2)), np.arange(12.0))


def test_sparse_input_trains_as_dense():
    rng = np.random.default_rng(0)
    x = rng.random((60, 8)) * (rng.random((60, 8)) < 0.3)
    y = (x.sum(axis=1) > np.median(x.sum(axis=1))).astype(int)
    fitted = []
    for data in (x, sp.csr_matrix(x), sp.csc_matrix(x)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted.append(MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(data, y))
    for model in fitted[1:]:
        np.testing.assert_allclose(model.coefs_[0], fitted[0].coefs_[0], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(model.predict_proba(sp.csr_matrix(x)), fitted[0].predict_proba(x),
                                   atol=1e-5)


def test_zero_sample_weight_is_removing_the_sample():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    weights = np.where(np.arange(40) < 30, 1.0, 0.0)
    params = {"solver": "lbfgs", "hidden_layer_sizes": (5,), "random_state": 0, "max_iter": 50,
              "dtype": "float64"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MLPRegressor(**params).fit(x, y, sample_weight=weights)
        removed = MLPRegressor(**params).fit(x[:30], y[:30])
        unweighted = MLPRegressor(**params).fit(x, y)
    np.testing.assert_allclose(weighted.predict(x), removed.predict(x), rtol=1e-3, atol=1e-4)
    assert not np.allclose(unweighted.predict(x), removed.predict(x), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="sample_weight"):
        MLPRegressor().fit(x, y, sample_weight=np.ones(39))


def test_assigned_coefs_are_what_predict_uses():
    x = np.random.default_rng(0).normal(size=(5, 3))
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, np.arange(5.0))
    model.coefs_ = [np.zeros((3, 4)), np.ones((4, 1))]
    model.intercepts_[1] = np.array([2.5])
    hidden = np.maximum(model.intercepts_[0], 0)  # relu(x @ 0 + b), the same for every row
    np.testing.assert_allclose(model.predict(x), 2.5 + hidden.sum(), rtol=1e-6)
    model.coefs_ = [np.zeros((3, 2)), np.ones((2, 1))]  # another shape: another network
    model.intercepts_ = [np.ones(2), np.zeros(1)]
    np.testing.assert_allclose(model.predict(x), 2.0)
    assert model.model_.layers[0].weight.shape == (3, 2)


def test_dtype_float32_by_default_or_following_the_input():
    x, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3).fit(x, y)
        follow = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, dtype=None).fit(x, y)
        follow32 = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, dtype=None).fit(x.astype(np.float32), y)
    assert default.coefs_[0].dtype == np.float32 and default.predict(x).dtype == np.float64
    assert default.predict(x.astype(np.float32)).dtype == np.float32
    assert follow.coefs_[0].dtype == np.float64 and follow32.coefs_[0].dtype == np.float32


def test_float64_values_beyond_float32_are_named():
    x = np.array([[1e39, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="float32"):
        MLPRegressor(max_iter=2).fit(x, np.arange(3.0))


def test_partial_fit_epochs_are_fits_epochs():
    """partial_fit continues the random stream, so N calls shuffle as fit's N epochs: the same weights."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(90, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    params = {"hidden_layer_sizes": (6,), "batch_size": 16, "random_state": 3, "tol": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = MLPClassifier(max_iter=8, n_iter_no_change=np.inf, **params).fit(x, y)
    stepped = MLPClassifier(**params)
    for _ in range(8):
        stepped.partial_fit(x, y, classes=[0, 1])
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, stepped.coefs_ + stepped.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert fitted.loss_curve_ == stepped.loss_curve_
