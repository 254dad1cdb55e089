"""The hyperparameters of ``MLPClassifier``/``MLPRegressor``: checked in ``fit``, as scikit-learn requires.

The accepted values are scikit-learn's (``sklearn.neural_network.MLPClassifier._parameter_constraints``)
plus ownnet's own: the solvers ``"adamw"`` and ``"rmsprop"``, any ownnet activation (``"gelu"``, ...),
the regression losses ``"absolute_error"`` and ``"huber"``, ``dropout`` and ``dtype``. A bad value
raises ``ValueError`` (``TypeError`` for a dtype) naming the parameter and what it accepts.
"""

import numbers
import warnings

import numpy as np

from ownnet import backend
from ownnet.data.checks import positive_int
from ownnet.nn.mlp import activation_class

STOCHASTIC_SOLVERS = ("adam", "sgd", "adamw", "rmsprop")
SOLVERS = ("lbfgs", *STOCHASTIC_SOLVERS)
LEARNING_RATES = ("constant", "invscaling", "adaptive")
REGRESSION_LOSSES = ("squared_error", "poisson", "absolute_error", "huber")
ACTIVATION_NAMES = {"logistic": "sigmoid"}  # scikit-learn's name -> ownnet's


def number(name, value, low, high=np.inf, low_inclusive=True, high_inclusive=True):
    """``value`` as a float, or a ``ValueError`` naming ``name`` and the interval it must lie in."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or np.isnan(value):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    too_low = value < low if low_inclusive else value <= low
    too_high = value > high if high_inclusive else value >= high
    if too_low or too_high:
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    return float(value)


def flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def hidden_layer_sizes(sizes):
    """An int or a sequence of positive ints -> a list of ints (``()`` is allowed: no hidden layer)."""
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = [sizes]
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"hidden_layer_sizes: expected an int or a sequence of ints, got {sizes!r}")
    return [positive_int(size, "hidden_layer_sizes") for size in sizes]


def solver(estimator):
    """The solver, taking the deprecated ``optimizer`` (ownnet's old name of ``solver``) when it is set."""
    name = estimator.solver
    if estimator.optimizer is not None:
        warnings.warn("optimizer is deprecated and will be removed: use solver (scikit-learn's name), "
                      f"e.g. solver={estimator.optimizer!r}", FutureWarning, stacklevel=4)
        name = estimator.optimizer
    return choice("solver", name, SOLVERS)


def check(estimator):
    """Validate every hyperparameter; returns ``(hidden sizes, ownnet activation name, solver)``."""
    sizes = hidden_layer_sizes(estimator.hidden_layer_sizes)
    activation = ACTIVATION_NAMES.get(estimator.activation, estimator.activation)
    activation_class(activation)  # a ValueError naming the activations there are
    solver_name = solver(estimator)
    if estimator.batch_size != "auto":
        positive_int(estimator.batch_size, "batch_size")
    choice("learning_rate", estimator.learning_rate, LEARNING_RATES)
    number("alpha", estimator.alpha, 0.0)
    number("learning_rate_init", estimator.learning_rate_init, 0.0, low_inclusive=False)
    number("power_t", estimator.power_t, 0.0)
    positive_int(estimator.max_iter, "max_iter")
    positive_int(estimator.max_fun, "max_fun")
    number("tol", estimator.tol, 0.0)
    if estimator.n_iter_no_change != np.inf:
        positive_int(estimator.n_iter_no_change, "n_iter_no_change")
    number("validation_fraction", estimator.validation_fraction, 0.0, 1.0, True, False)
    number("momentum", estimator.momentum, 0.0, 1.0)
    number("beta_1", estimator.beta_1, 0.0, 1.0, high_inclusive=False)
    number("beta_2", estimator.beta_2, 0.0, 1.0, high_inclusive=False)
    number("epsilon", estimator.epsilon, 0.0, low_inclusive=False)
    number("dropout", estimator.dropout, 0.0, 1.0, high_inclusive=False)
    if estimator.dropout and solver_name == "lbfgs":
        raise ValueError("dropout: lbfgs needs a deterministic loss; use dropout=0 or a stochastic solver")
    for name in ("shuffle", "early_stopping", "warm_start", "nesterovs_momentum"):
        flag(name, getattr(estimator, name))
    if not isinstance(estimator.verbose, (bool, numbers.Integral)):
        raise ValueError(f"verbose: expected a bool or an int, got {estimator.verbose!r}")
    if estimator.dtype is not None:
        backend.resolve_dtype(estimator.dtype)  # a TypeError naming dtype
    return sizes, activation, solver_name


def batch_size(estimator, n_samples):
    """scikit-learn's rule: ``"auto"`` is min(200, n_samples); a larger batch is clipped (with a warning)."""
    if estimator.batch_size == "auto":
        return min(200, n_samples)
    if estimator.batch_size > n_samples:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                      stacklevel=4)
    return int(np.clip(estimator.batch_size, 1, n_samples))


def network_dtype(estimator, x_dtype):
    """The dtype the network computes in: ``dtype`` (float32 by default), or with ``dtype=None`` the
    input's (float32 stays float32, anything else is float64), as scikit-learn's MLP does."""
    if estimator.dtype is None:
        return np.dtype(np.float32) if x_dtype == np.float32 else np.dtype(np.float64)
    return np.dtype(backend.resolve_dtype(estimator.dtype))


PARAMETERS_DOC = """
    Parameters, with scikit-learn's names, defaults and meaning (docs/sklearn.md has the table):
    ``hidden_layer_sizes`` (units per hidden layer), ``activation`` ("relu", "tanh", "logistic",
    "identity", or any ownnet activation such as "gelu"), ``solver`` ("adam", "sgd", "lbfgs" by SciPy's
    L-BFGS-B, and ownnet's "adamw", "rmsprop"), ``alpha`` (L2 penalty ``alpha/2 ||W||^2 / n`` on the
    weights), ``batch_size`` ("auto" = min(200, n)), ``learning_rate`` ("constant", "invscaling",
    "adaptive"; sgd only) with ``learning_rate_init`` and ``power_t``, ``max_iter`` (epochs; iterations
    for lbfgs), ``max_fun`` (lbfgs' loss evaluations), ``shuffle``, ``random_state``, ``tol`` and
    ``n_iter_no_change`` (may be ``np.inf``), ``verbose``, ``warm_start``, ``momentum``,
    ``nesterovs_momentum``, ``early_stopping``, ``validation_fraction``, ``beta_1``, ``beta_2``,
    ``epsilon``.

    ownnet's own: ``dropout`` (after every hidden activation, stochastic solvers only), ``dtype``
    ("float32", the default, or "float64": what the network computes in; None follows ``X`` as
    scikit-learn does; predictions come in ``X``'s dtype either way), ``optimizer`` (deprecated: the old
    name of ``solver``).

    Fitted attributes, as scikit-learn's: ``coefs_``, ``intercepts_`` (the network's arrays: assignable),
    ``loss_``, ``best_loss_``, ``loss_curve_``, ``validation_scores_``, ``best_validation_score_``,
    ``n_iter_`` (epochs of the last call), ``t_``, ``n_layers_``, ``n_outputs_``, ``out_activation_``,
    ``classes_``, ``n_features_in_``, ``feature_names_in_``; and ownnet's ``model_`` (the ``Sequential``:
    ``ownnet.save(estimator.model_, path)``).
"""
