"""ownnet.sklearn's estimators in use: pipelines and grid search, string labels, multi-output regression,
partial_fit, early stopping, warm start, the solvers, hyperparameter errors. (scikit-learn's generic checks
and its own MLP tests run in the two other files of this folder.)"""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import ownnet as on  # noqa: E402
from ownnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


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
    first_loss, optimizer = model.loss_, model._optimizer.optimizer
    for _ in range(20):
        model.partial_fit(x, y)
    # as scikit-learn: n_iter_ counts the epochs of the last call, t_ and loss_curve_ all of them
    assert model.n_iter_ == 1 and len(model.loss_curve_) == 21 and model.t_ == 21 * len(x)
    assert model._optimizer.optimizer is optimizer and optimizer.step_count == 21 * 2  # state carries over
    assert model.loss_ < 0.7 * first_loss
    with pytest.raises(ValueError, match="classes not in"):
        model.partial_fit(x[:5], np.array([0, 1, 2, 0, 1]))
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(x[:, :1], y)


def test_early_stopping_restores_the_best_validation_score(moons):
    x, y = moons
    model = quiet(MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.02,
                                early_stopping=True, n_iter_no_change=20, random_state=0), x, y)
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
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\)"):
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
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 6  # n_iter_: this fit's epochs, as scikit-learn
    assert not np.array_equal(weights, model.coefs_[0])


def test_attributes_mirror_scikit_learn(moons):
    x, y = moons
    model = quiet(MLPClassifier(hidden_layer_sizes=(5, 4), max_iter=2, random_state=0), x, y)
    # two classes: one logistic output, as scikit-learn
    assert [w.shape for w in model.coefs_] == [(2, 5), (5, 4), (4, 1)]
    assert [b.shape for b in model.intercepts_] == [(5,), (4,), (1,)]
    assert model.n_layers_ == 4 and model.n_outputs_ == 1 and model.n_features_in_ == 2
    assert model.out_activation_ == "logistic"
    assert isinstance(model.model_, on.Sequential) and model.t_ == 2 * len(x)
    assert model.model_.dtype == np.float32 and model.coefs_[0].dtype == np.float32
    assert model.coefs_[0] is model.model_.layers[0].weight.data  # the network's own arrays
    # predictions in the input's dtype
    assert model.predict_proba(x).dtype == np.float64
    assert model.predict_proba(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd", "rmsprop", "lbfgs"])
def test_every_solver_learns(moons, solver):
    x, y = moons
    lr = 0.1 if solver == "sgd" else 0.01
    model = quiet(MLPClassifier(hidden_layer_sizes=(32,), solver=solver, learning_rate_init=lr,
                                max_iter=60, random_state=0), x, y)
    assert model.score(x, y) > 0.9


def test_optimizer_is_a_deprecated_alias_of_solver(moons):
    x, y = moons
    with pytest.warns(FutureWarning, match="use solver"):
        old = quiet(MLPClassifier(hidden_layer_sizes=(8,), optimizer="sgd", max_iter=3, random_state=0), x, y)
    new = quiet(MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", max_iter=3, random_state=0), x, y)
    np.testing.assert_array_equal(old.coefs_[0], new.coefs_[0])
    with pytest.raises(AttributeError, match="partial_fit"):
        MLPClassifier(optimizer="lbfgs").partial_fit  # noqa: B018 (lbfgs has no partial_fit)


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
    ({"activation": "softsign"}, "activation"), ({"solver": "newton"}, "solver"),
    ({"learning_rate": "cosine"}, "learning_rate"), ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"max_fun": 0}, "max_fun"), ({"power_t": -1.0}, "power_t"),
    ({"solver": "lbfgs", "dropout": 0.5}, "dropout"),
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
        MLPRegressor(loss="hinge").fit(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="poisson"):
        MLPRegressor(loss="poisson").fit(np.zeros((4, 1)), -np.ones(4))


def test_one_class_predicts_that_class():
    model = quiet(MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0),
                  np.random.default_rng(0).normal(size=(10, 2)), np.full(10, 7))
    assert model.classes_.tolist() == [7] and set(model.predict(np.zeros((3, 2)))) == {7}
