"""ownnet's ``MLPClassifier``/``MLPRegressor`` against scikit-learn's, side by side (issue 19).

    python benchmarks/sklearn_compare.py                   # 5 seeds (3 on the large set), 1 BLAS thread
    python benchmarks/sklearn_compare.py --threads 2 --out benchmarks/results/sklearn-compare.json
    python benchmarks/sklearn_compare.py --quick           # a smoke run: small sets, 2 seeds, few epochs

Data sets: scikit-learn's bundled digits (1797 x 64, 10 classes), breast cancer (569 x 30, 2 classes)
and diabetes (442 x 10, regression, the target standardised), and a large synthetic set
(``make_classification``: 50,000 x 50, 5 classes) with hidden layers (256, 128) and 20 iterations. Inputs
are standardised (``StandardScaler`` fitted on the training part). Both estimators get the same
hyperparameters (scikit-learn's defaults elsewhere: Adam, lr 1e-3, batch min(200, n), ``alpha`` 1e-4,
``tol`` 1e-4, ``n_iter_no_change`` 10, ``max_iter`` 200), the same split and the same ``random_state`` per
seed, and the same number of BLAS threads (``threadpoolctl``; Numba's threads too, where ownnet's
compiled kernels run).

Timing on a shared machine: the two fits of a seed run back to back, in an order that alternates from
seed to seed (ownnet first in odd seeds, scikit-learn first in even ones); the report gives, per data
set, the **median of the per-seed ratios** ownnet time / scikit-learn time and their range, which drift
of the machine's speed over minutes hardly moves. The accuracy (R² for diabetes) on the test quarter is
the mean ± standard deviation over the seeds.

Targets (issue 19): accuracy at least scikit-learn's minus 0.005 (R² minus 0.02), in at most 60% of its
fit time. The last column says whether both hold; the exit status is 0 either way (the numbers are the
result). Writes every number to ``--out`` (JSON) when given.
"""

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ownnet.files import atomic_write
from ownnet.sklearn import MLPClassifier, MLPRegressor

ACCURACY_MARGIN, R2_MARGIN, TIME_RATIO = 0.005, 0.02, 0.60


def datasets(quick):
    """``name -> (x, y, is_classification, hyperparameters, seeds)``."""
    seeds = 2 if quick else 5
    quick_params = {"max_iter": 30} if quick else {}
    x, y = load_diabetes(return_X_y=True)
    sets = {
        "digits": (*load_digits(return_X_y=True), True, dict(quick_params), seeds),
        "breast_cancer": (*load_breast_cancer(return_X_y=True), True, dict(quick_params), seeds),
        "diabetes": (x, (y - y.mean()) / y.std(), False, dict(quick_params), seeds),
    }
    n_samples = 3000 if quick else 50_000
    x, y = make_classification(n_samples=n_samples, n_features=50, n_informative=30, n_redundant=10,
                               n_classes=5, random_state=0)
    large = {"hidden_layer_sizes": (256, 128), "max_iter": 5 if quick else 20}
    sets[f"synthetic_{n_samples}x50"] = (x, y, True, large, 2 if quick else 3)
    return sets


def fit_and_score(estimator, x_train, y_train, x_test, y_test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(x_train, y_train)
        seconds = time.perf_counter() - start
    return {"score": float(estimator.score(x_test, y_test)), "seconds": seconds,
            "n_iter": int(estimator.n_iter_)}


def run_dataset(x, y, classification, params, seeds):
    """Per seed: one split, both fits back to back (alternating who goes first); returns the runs."""
    runs = []
    for seed in range(seeds):
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=0.25, random_state=seed, stratify=y if classification else None)
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
        classes = (MLPClassifier, SklearnClassifier) if classification else (MLPRegressor, SklearnRegressor)
        order = [("ownnet", classes[0]), ("sklearn", classes[1])]
        if seed % 2 == 0:
            order.reverse()
        run = {"seed": seed}
        for name, estimator_class in order:
            estimator = estimator_class(random_state=seed, **params)
            run[name] = fit_and_score(estimator, x_train, y_train, x_test, y_test)
        runs.append(run)
    return runs


def summarise(runs, classification):
    """Mean ± std of the scores, median seconds, and the median and range of the per-seed time ratios."""
    summary = {}
    for name in ("sklearn", "ownnet"):
        scores = [run[name]["score"] for run in runs]
        seconds = [run[name]["seconds"] for run in runs]
        summary[name] = {"score_mean": float(np.mean(scores)), "score_std": float(np.std(scores)),
                         "seconds_median": float(np.median(seconds)),
                         "n_iter": [run[name]["n_iter"] for run in runs]}
    ratios = [run["ownnet"]["seconds"] / run["sklearn"]["seconds"] for run in runs]
    margin = ACCURACY_MARGIN if classification else R2_MARGIN
    difference = summary["ownnet"]["score_mean"] - summary["sklearn"]["score_mean"]
    summary.update(time_ratio_median=float(np.median(ratios)), time_ratio_min=float(min(ratios)),
                   time_ratio_max=float(max(ratios)), score_difference=difference,
                   accuracy_target_met=bool(difference >= -margin),
                   time_target_met=bool(np.median(ratios) <= TIME_RATIO))
    return summary


def print_row(name, classification, summary):
    sk, own = summary["sklearn"], summary["ownnet"]
    met = "yes" if summary["accuracy_target_met"] and summary["time_target_met"] else "NO"
    print(f"{name:<22} {'accuracy' if classification else 'R^2':<8} "
          f"{sk['score_mean']:.4f} ± {sk['score_std']:.4f}  "
          f"{own['score_mean']:.4f} ± {own['score_std']:.4f}  {summary['score_difference']:+.4f}  "
          f"{sk['seconds_median']:8.2f} {own['seconds_median']:8.2f}  "
          f"{summary['time_ratio_median']:.2f} "
          f"[{summary['time_ratio_min']:.2f}-{summary['time_ratio_max']:.2f}]  {met}")


def warm_up():
    """One small fit of each estimator first: imports, Numba's compilation and caches are not timed."""
    x, y = make_classification(n_samples=300, n_features=10, random_state=0)
    for estimator_class in (MLPClassifier, SklearnClassifier, MLPRegressor, SklearnRegressor):
        fit_and_score(estimator_class(max_iter=3, random_state=0), x, y, x, y)


def set_threads(threads):
    """Numba's threads (ownnet's compiled kernels) as many as BLAS's; returns the previous count."""
    try:
        import numba
    except ImportError:
        return None
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return previous


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS (and Numba) threads for both (default 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sets, 2 seeds, few epochs")
    parser.add_argument("--out", default=None, help="write every number to this JSON file")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    results = {"threads": args.threads, "machine": platform.processor() or platform.machine(),
               "load_average_before": os.getloadavg(), "datasets": {}}
    print(f"ownnet vs scikit-learn MLP, {args.threads} BLAS thread(s), load average "
          f"{results['load_average_before'][0]:.1f}")
    print(f"{'data set':<22} {'metric':<8} {'scikit-learn':<16} {'ownnet':<16} {'diff':>7}  "
          f"{'sk fit s':>8} {'own fit s':>8}  time ratio [range]  targets")
    with threadpool_limits(limits=args.threads):
        warm_up()
        for name, (x, y, classification, params, seeds) in datasets(args.quick).items():
            runs = run_dataset(x, y, classification, params, seeds)
            summary = summarise(runs, classification)
            print_row(name, classification, summary)
            results["datasets"][name] = {"params": {k: list(v) if isinstance(v, tuple) else v
                                                    for k, v in params.items()},
                                         "seeds": seeds, "runs": runs, **summary}
    results["load_average_after"] = os.getloadavg()
    if args.out:
        with atomic_write(args.out) as file:
            file.write(json.dumps(results, indent=1).encode())
    return results


if __name__ == "__main__":
    main()
