"""Example 7: ownnet inside scikit-learn, against scikit-learn's own MLP.

``ownnet.sklearn.MLPRegressor`` is a scikit-learn estimator, so it goes into a ``Pipeline``
(standardise the inputs, and with ``TransformedTargetRegressor`` the target too), into
``cross_validate`` and into ``GridSearchCV`` like any other. Here it meets
``sklearn.neural_network.MLPRegressor`` on the diabetes data that ships with scikit-learn (442
patients, 10 features, a disease-progression score): the same architecture (10-64-64-1, ReLU),
the same optimizer (Adam, lr 1e-3, batch 32, alpha 1e-4), the same number of epochs (50 unless
``--epochs``; convergence checks off: both run every epoch), the same 5-fold cross-validation, timed
on the same machine. Then a small grid search picks ownnet's hidden layers and alpha.

Needs scikit-learn (``pip install 'ownnet[sklearn]'``).

    python examples/07_sklearn_estimators.py [--quick] [--out DIR] [--epochs N]

Saves ``comparison.json`` (every number printed) and ``fit.png`` (ownnet's cross-validated
predictions against the truth, and scikit-learn's) in ``--out``.
"""

import argparse
import json
import os
import warnings

import numpy as np

try:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, KFold, cross_validate
    from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
except ImportError:
    raise SystemExit("example 07 needs scikit-learn: pip install 'ownnet[sklearn]'") from None

import ownnet as on
from ownnet import plot
from ownnet.sklearn import MLPRegressor


def parse_args(argv, name):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run (for the tests)")
    parser.add_argument("--out", default=os.path.join("runs", "examples", name), help="where figures go")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 50, quick 10)")
    return parser.parse_args(argv)


def scaled(regressor):
    """Standardise x (Pipeline) and y (TransformedTargetRegressor) around ``regressor``."""
    pipeline = Pipeline([("scale", StandardScaler()), ("mlp", regressor)])
    return TransformedTargetRegressor(regressor=pipeline, transformer=StandardScaler())


def main(argv=None):
    args = parse_args(argv, "07_sklearn_estimators")
    os.makedirs(args.out, exist_ok=True)
    epochs, folds = (10, 2) if args.quick else (50, 5)
    epochs = args.epochs or epochs
    x, y = on.datasets.load_diabetes(dtype="float64")
    y = y.ravel()  # scikit-learn's convention for one target: (samples,)

    shared = {"hidden_layer_sizes": (64, 64), "activation": "relu", "alpha": 1e-4, "batch_size": 32,
              "learning_rate_init": 1e-3, "max_iter": epochs, "n_iter_no_change": epochs, "random_state": 0}
    models = {
        "ownnet MLPRegressor (float32)": scaled(MLPRegressor(solver="adam", **shared)),
        "ownnet MLPRegressor (float64)": scaled(MLPRegressor(solver="adam", dtype="float64", **shared)),
        "sklearn MLPRegressor (float64)": scaled(SklearnMLPRegressor(solver="adam", **shared)),
    }
    splits = KFold(folds, shuffle=True, random_state=0)
    scoring = {"mse": "neg_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2"}
    results, predictions = {}, {}
    print(f"diabetes, {len(x)} samples, {folds}-fold cross-validation, {epochs} epochs, 10-64-64-1 ReLU, "
          "Adam")
    print(f"{'model':<32} {'test MSE':>9} {'test MAE':>9} {'test R^2':>9} {'fit time (s)':>13}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is reached on purpose
        for name, model in models.items():
            scores = cross_validate(model, x, y, cv=splits, scoring=scoring, return_estimator=True,
                                    return_indices=True)
            results[name] = {key: float(np.mean(scores[f"test_{key}"]) * (-1 if key != "r2" else 1))
                             for key in scoring}
            results[name]["fit_time"] = float(np.mean(scores["fit_time"]))
            results[name]["fit_time_std"] = float(np.std(scores["fit_time"]))
            r = results[name]
            print(f"{name:<32} {r['mse']:9.1f} {r['mae']:9.2f} {r['r2']:9.3f} "
                  f"{r['fit_time']:8.3f} +- {r['fit_time_std']:.3f}")
            if "float64" not in name or name.startswith("sklearn"):  # each test fold, by its own model
                predictions[name] = np.empty_like(y)
                for fitted, test in zip(scores["estimator"], scores["indices"]["test"]):
                    predictions[name][test] = fitted.predict(x[test])

        grid = GridSearchCV(scaled(MLPRegressor(max_iter=epochs, batch_size=32, random_state=0)),
                            {"regressor__mlp__hidden_layer_sizes": [(16,), (64, 64)],
                             "regressor__mlp__alpha": [1e-4, 1.0]}, cv=folds,
                            scoring="neg_mean_squared_error")
        grid.fit(x, y)
    best = {key.removeprefix("regressor__mlp__"): value for key, value in grid.best_params_.items()}
    print(f"grid search over hidden_layer_sizes and alpha: best {best}, "
          f"cross-validated MSE {-grid.best_score_:.1f}")

    plot.regression_fit(y, predictions, title="cross-validated predictions on diabetes",
                        path=os.path.join(args.out, "fit.png"))
    summary = {"epochs": epochs, "folds": folds, "results": results,
               "grid_best": {key: list(v) if isinstance(v, tuple) else v for key, v in best.items()},
               "grid_best_mse": -grid.best_score_}
    with open(os.path.join(args.out, "comparison.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
