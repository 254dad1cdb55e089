"""ownnet.sklearn: scikit-learn's own estimator checks, pipelines and grid search, string labels,
multi-output regression, partial_fit, early stopping, hyperparameter errors."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import ownnet as on  # noqa: E402
from ownnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# Small networks and few epochs keep scikit-learn's ~55 checks per estimator to about a second.
FAST = {"hidden_layer_sizes": (16,), "max_iter": 30, "learning_rate_init": 0.01}
EXPECTED_FAILURES = {
    "check_regressor_multioutput": "predictions are in the network's dtype, float32 by default (ownnet "
                                   "never upcasts); the check demands float64. Passes with dtype='float64'.",
}


def expected_failed_checks(estimator):
    if isinstance(estimator, MLPRegressor) and estimator.dtype == "float32":
        return EXPECTED_FAILURES
    return {}


@parametrize_with_checks(
    [MLPClassifier(**FAST), MLPRegressor(**FAST), MLPRegressor(**FAST, dtype="float64")],
    expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def quiet(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def moons():
    x, y = on.datasets.make_moons(300, noise=0.15, seed=0, dtype="float64")
    return x, y


def test_string_labels_come_back_as_strings():
    x, y = on.datasets.make_blobs(240, centers=3, cluster_std=0.8, seed=1)
    names = np.array(["cat", "dog", "bird"])[y]
    model = quiet(MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.01,
                                random_state=0), x, names)
    assert model.classes_.tolist() == ["bird", "cat", "dog"]
    predicted = model.predict(x)
    assert predicted.dtype.kind == "U" and set(predicted) <= {"bird", "cat", "dog"}
    assert model.score(x, names) > 0.95
    proba = model.predict_proba(x)
    assert proba.shape == (240, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], predicted)


def test_multi_output_regression():
    x, _ = on.datasets.make_sine(300, seed=0)
    y = np.concatenate([np.sin(2 * np.pi * x), np.cos(2 * np.pi * x)], axis=1)
    model = quiet(MLPRegressor(hidden_layer_sizes=(32, 32), activation="tanh", max_iter=200,
                               learning_rate_init=0.01, random_state=0), x, y)
    assert model.n_outputs_ == 2 and model.predict(x).shape == (300, 2)
    assert model.score(x, y) > 0.95
    flat = quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0), x, y[:, 0])
    assert flat.predict(x).shape == (300,)


def test_pipeline_grid_search_and_cross_val_score(moons):
    x, y = moons
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("mlp", MLPClassifier(max_iter=80, learning_rate_init=0.01, random_state=0))])
    grid = GridSearchCV(pipeline, {"mlp__hidden_layer_sizes": [(1,), (32, 32)]}, cv=3)
    quiet(grid, x, y)
    assert grid.best_params_ == {"mlp__hidden_layer_sizes": (32, 32)}  # one unit cannot bend the line
    assert len(grid.cv_results_["mean_test_score"]) == 2
    assert grid.best_score_ > 0.95
    assert grid.score(x, y) > 0.95
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipeline.set_params(mlp__hidden_layer_sizes=(32, 32)), x, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9


def test_partial_fit_continues_and_needs_classes(moons):
    x, y = moons
    model = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        model.partial_fit(x, y)
    model.partial_fit(x, y, classes=[0, 1])
    first_loss, optimizer = model.loss_, model.optimizer_
    for _ in range(20):
        model.partial_fit(x, y)
    assert model.n_iter_ == 21 and len(model.loss_curve_) == 21
    assert model.optimizer_ is optimizer  # the optimizer state carries over
    assert model.loss_ < 0.7 * first_loss
    with pytest.raises(ValueError, match="not among the classes"):
        model.partial_fit(x[:5], np.array([0, 1, 2, 0, 1]))
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(x[:, :1], y)


def test_early_stopping_restores_the_best_validation_score(moons):
    x, y = moons
    model = quiet(MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.02,
                                early_stopping=True, n_iter_no_change=5, random_state=0), x, y)
    assert model.n_iter_ < 300
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_) > 0.9
    assert model.best_loss_ is None


def test_stops_when_the_loss_stops_improving(moons):
    x, y = moons
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=1000, tol=1e-2, random_state=0).fit(x, y)
    assert model.n_iter_ < 1000
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(x, y)


def test_random_state_makes_fits_repeatable(moons):
    x, y = moons

    def fitted(seed):
        model = quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=seed), x, y)
        return model.predict_proba(x)

    np.testing.assert_array_equal(fitted(3), fitted(3))
    assert not np.array_equal(fitted(3), fitted(4))


def test_warm_start_continues_from_the_weights(moons):
    x, y = moons
    model = quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, warm_start=True, random_state=0), x, y)
    weights = model.coefs_[0].copy()
    quiet(model, x, y)
    assert model.n_iter_ == 6
    assert not np.array_equal(weights, model.coefs_[0])


def test_attributes_mirror_scikit_learn(moons):
    x, y = moons
    model = quiet(MLPClassifier(hidden_layer_sizes=(5, 4), max_iter=2, random_state=0), x, y)
    assert [w.shape for w in model.coefs_] == [(2, 5), (5, 4), (4, 2)]
    assert [b.shape for b in model.intercepts_] == [(5,), (4,), (2,)]
    assert model.n_layers_ == 4 and model.n_outputs_ == 2 and model.n_features_in_ == 2
    assert isinstance(model.model_, on.Sequential) and model.t_ == 2 * len(x)
    assert model.model_.dtype == np.float32 and model.predict_proba(x).dtype == np.float32


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "rmsprop"])
def test_every_optimizer_learns(moons, optimizer):
    x, y = moons
    lr = 0.1 if optimizer == "sgd" else 0.01
    model = quiet(MLPClassifier(hidden_layer_sizes=(32,), optimizer=optimizer, learning_rate_init=lr,
                                max_iter=60, random_state=0), x, y)
    assert model.score(x, y) > 0.9


def test_dropout_model_and_logistic_activation(moons):
    x, y = moons
    model = quiet(MLPClassifier(hidden_layer_sizes=(16,), activation="logistic", dropout=0.2, max_iter=2,
                                random_state=0), x, y)
    names = [type(layer).__name__ for layer in model.model_.layers]
    assert names == ["Linear", "Sigmoid", "Dropout", "Linear"]


def test_absolute_error_ignores_outliers():
    x, y = on.datasets.make_heteroscedastic(300, outlier_fraction=0.05, seed=0)

    def intercept(loss):
        model = quiet(MLPRegressor(hidden_layer_sizes=(), loss=loss, learning_rate_init=0.05, max_iter=150,
                                   random_state=0), x, y.ravel())
        return float(model.predict(np.zeros((1, 1)))[0])

    # the line without outliers crosses x = 0 at 1; the outliers all lie 20..40 above it
    assert abs(intercept("absolute_error") - 1.0) < 0.3
    assert intercept("squared_error") > 1.8


@pytest.mark.parametrize("params, name", [
    ({"activation": "softsign"}, "activation"), ({"optimizer": "lbfgs"}, "optimizer"),
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "64"}, "hidden_layer_sizes"),
    ({"batch_size": 0}, "batch_size"), ({"alpha": -1.0}, "alpha"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"),
    ({"max_iter": 0}, "max_iter"), ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"dropout": 1.0}, "dropout"), ({"dtype": "float16"}, "dtype"), ({"shuffle": "yes"}, "shuffle"),
])
def test_bad_hyperparameters_fail_in_fit_naming_them(moons, params, name):
    x, y = moons
    model = MLPClassifier(**params)  # no error before fit, as scikit-learn requires
    with pytest.raises((ValueError, TypeError), match=name):
        model.fit(x, y)


def test_bad_regression_loss_is_named():
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="poisson").fit(np.zeros((4, 1)), np.zeros(4))


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier().fit(np.zeros((4, 2)), np.ones(4))
