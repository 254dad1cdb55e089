"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor`` trained by ownnet.

scikit-learn is an optional extra (``pip install 'ownnet[sklearn]'``). The estimators follow
scikit-learn's conventions (``fit``/``predict``/``score``/``partial_fit``, ``get_params``/``set_params``,
fitted attributes ending in ``_``) and its ``MLPClassifier``/``MLPRegressor`` hyperparameters where the
meaning is the same, so they drop into ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from ownnet.sklearn import MLPClassifier

    model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=50))
    model.fit(x_train, y_train).score(x_test, y_test)

Inside, the network is ``ownnet.mlp``, trained by ``ownnet.fit`` with an ownnet optimizer and loss,
and predictions go through ``ownnet.predict``; the trained network is ``estimator.model_`` (save it
with ``ownnet.save``). See docs/sklearn.md for the differences from scikit-learn's own MLP and for
the estimator checks that cannot pass.
"""

import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:
    raise ImportError("ownnet.sklearn needs scikit-learn >= 1.6: pip install 'ownnet[sklearn]'") from None

from ownnet import backend
from ownnet.data import train_test_split
from ownnet.data.checks import positive_int
from ownnet.nn.init import manual_seed
from ownnet.nn.linear import Linear
from ownnet.nn.losses import CrossEntropyLoss, HuberLoss, L1Loss, MSELoss
from ownnet.nn.mlp import activation_class, mlp
from ownnet.optim import SGD, Adam, AdamW, RMSProp
from ownnet.train.callbacks import EarlyStopping
from ownnet.train.loop import fit, predict, predict_proba

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
REGRESSION_LOSSES = {"squared_error": MSELoss, "absolute_error": L1Loss, "huber": HuberLoss}
_ACTIVATION_ALIASES = {"logistic": "sigmoid"}  # scikit-learn's name for the sigmoid


def _number(name, value, low, high=np.inf, low_inclusive=True, high_inclusive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    too_low = value < low if low_inclusive else value <= low
    too_high = value > high if high_inclusive else value >= high
    if too_low or too_high:
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    return float(value)


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: hyperparameter checks, the network, the training.

    Subclasses define ``_loss()``, ``_encode_targets(y)`` (targets in the form the loss takes) and
    ``_n_outputs(y)``; ``_validation_metric`` is the score that early stopping watches.
    """

    _validation_metric = None

    def _store_params(self, params):
        """Keep every constructor argument as an attribute of the same name, unchanged (scikit-learn's
        convention: no validation in ``__init__``; ``get_params`` reads them back)."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # --- hyperparameters ---------------------------------------------------------------------------
    def _check_hyperparameters(self):
        """Validate every hyperparameter (in ``fit``, not ``__init__``, as scikit-learn requires)."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise ValueError(f"hidden_layer_sizes: expected an int or a sequence of ints, got {sizes!r}")
        sizes = [positive_int(size, "hidden_layer_sizes") for size in sizes]
        activation = _ACTIVATION_ALIASES.get(self.activation, self.activation)
        activation_class(activation)  # raises ValueError naming the choices
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.batch_size != "auto":
            positive_int(self.batch_size, "batch_size")
        _number("alpha", self.alpha, 0.0)
        _number("learning_rate_init", self.learning_rate_init, 0.0, low_inclusive=False)
        positive_int(self.max_iter, "max_iter")
        _number("tol", self.tol, 0.0)
        positive_int(self.n_iter_no_change, "n_iter_no_change")
        _number("validation_fraction", self.validation_fraction, 0.0, 1.0, False, False)
        _number("momentum", self.momentum, 0.0, 1.0, high_inclusive=False)
        _number("beta_1", self.beta_1, 0.0, 1.0, high_inclusive=False)
        _number("beta_2", self.beta_2, 0.0, 1.0, high_inclusive=False)
        _number("epsilon", self.epsilon, 0.0, low_inclusive=False)
        _number("dropout", self.dropout, 0.0, 1.0, high_inclusive=False)
        for name in ("shuffle", "early_stopping", "warm_start", "nesterovs_momentum"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name}: expected True or False, got {getattr(self, name)!r}")
        backend.resolve_dtype(self.dtype)  # TypeError naming dtype
        return sizes, activation

    def _batch_size(self, n_samples):
        # As scikit-learn: "auto" is min(200, n_samples), and a larger batch is clipped to the data.
        return min(200 if self.batch_size == "auto" else self.batch_size, n_samples)

    # --- the network and its optimizer ---------------------------------------------------------------
    def _build(self, n_features, n_outputs, sizes, activation, seed):
        manual_seed(seed)  # the weights (and Dropout masks) follow from random_state
        self.model_ = mlp([n_features, *sizes, n_outputs], activation=activation, dropout=self.dropout,
                          dtype=self.dtype)
        self.n_features_in_ = n_features
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(sizes) + 2  # as in scikit-learn: input and output layers included
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self.optimizer_ = None

    def _make_optimizer(self, batch_size):
        """scikit-learn adds ``alpha/2 * ||W||^2`` to each batch's mean loss: its gradient is
        ``alpha * W / batch_size``, which is the optimizer's ``weight_decay`` (applied to all parameters)."""
        params = self.model_.parameters()
        lr, decay = self.learning_rate_init, self.alpha / batch_size
        betas = (self.beta_1, self.beta_2)
        if self.optimizer == "sgd":
            return SGD(params, lr=lr, momentum=self.momentum, weight_decay=decay,
                       nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
        if self.optimizer == "adam":
            return Adam(params, lr=lr, betas=betas, eps=self.epsilon, weight_decay=decay)
        if self.optimizer == "adamw":
            return AdamW(params, lr=lr, betas=betas, eps=self.epsilon, weight_decay=decay)
        return RMSProp(params, lr=lr, eps=self.epsilon, momentum=self.momentum, weight_decay=decay)

    # --- training --------------------------------------------------------------------------------------
    def _fit(self, x, y, epochs, incremental):
        sizes, activation = self._check_hyperparameters()
        first_call = not hasattr(self, "model_") or not (incremental or self.warm_start)
        random_state = check_random_state(self.random_state)
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        if first_call:
            self._build(x.shape[1], self._n_outputs(y), sizes, activation, seed)
        elif self._n_outputs(y) != self.n_outputs_:
            raise ValueError(f"y: expected {self.n_outputs_} target columns (as in the first fit), "
                             f"got {self._n_outputs(y)}")
        batch_size = self._batch_size(len(x))
        if self.optimizer_ is None or not incremental:
            self.optimizer_ = self._make_optimizer(batch_size)
        targets = self._encode_targets(y)
        validation, callbacks = None, []
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            stratify = targets if self._validation_metric == "accuracy" else None
            x, x_val, targets, y_val = train_test_split(x, targets, test_size=self.validation_fraction,
                                                        seed=seed, stratify=stratify)
            validation = (x_val, y_val)
        monitor = f"val_{self._validation_metric}" if early_stopping else "loss"
        # scikit-learn stops once the watched number has failed to improve by tol for more than
        # n_iter_no_change epochs in a row; EarlyStopping stops after `patience` such epochs.
        stopper = EarlyStopping(monitor=monitor, patience=self.n_iter_no_change + 1, min_delta=self.tol,
                                mode="max" if early_stopping else "min",
                                restore_best_weights=early_stopping)
        if not incremental:
            callbacks.append(stopper)
        self.history_ = fit(self.model_, self._loss(), self.optimizer_, x, targets, epochs=epochs,
                            batch_size=batch_size, validation_data=validation,
                            metrics=(self._validation_metric,) if early_stopping else (),
                            callbacks=callbacks, seed=seed, shuffle=bool(self.shuffle),
                            verbose=bool(self.verbose))
        self._record(self.history_, len(x), early_stopping)
        if not incremental and stopper.stopped_epoch is None and len(self.history_) == epochs:
            warnings.warn(f"{type(self).__name__}: stopped after max_iter={self.max_iter} epochs without "
                          "converging; raise max_iter or the learning rate", ConvergenceWarning, stacklevel=3)
        return self

    def _record(self, history, n_samples, early_stopping):
        """The fitted attributes of scikit-learn's MLP, from ownnet's History."""
        epochs = len(history)
        self.n_iter_ += epochs
        self.t_ += epochs * n_samples
        self.loss_curve_ += list(history["loss"])
        self.loss_ = self.loss_curve_[-1]
        if early_stopping:
            self.validation_scores_ = (self.validation_scores_ or []) + list(
                history[f"val_{self._validation_metric}"])
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.best_loss_ = min(self.best_loss_ if self.best_loss_ is not None else np.inf,
                                  min(history["loss"]))

    def _validate_x(self, x):
        check_is_fitted(self, "model_")
        return validate_data(self, x, reset=False, dtype=(np.float32, np.float64))

    # --- what scikit-learn's MLP exposes -----------------------------------------------------------------
    @property
    def coefs_(self):
        """The weight matrices, ``(in_features, out_features)`` per layer (views of the model's)."""
        check_is_fitted(self, "model_")
        return [layer.weight.data for layer in self.model_.layers if isinstance(layer, Linear)]

    @property
    def intercepts_(self):
        """The bias vectors, ``(out_features,)`` per layer (views of the model's)."""
        check_is_fitted(self, "model_")
        return [layer.bias.data for layer in self.model_.layers if isinstance(layer, Linear)]


_SHARED_DOC = """
    Hyperparameters as in scikit-learn's MLP: ``hidden_layer_sizes`` (units per hidden layer),
    ``activation`` ("relu", "tanh", "logistic" = "sigmoid", "identity", or any ownnet activation name
    such as "gelu", "leakyrelu"), ``alpha`` (L2 penalty: the optimizer's ``weight_decay`` is
    ``alpha / batch_size``, on biases too), ``batch_size`` ("auto" = min(200, n_samples)),
    ``learning_rate_init``, ``max_iter`` (epochs), ``shuffle``, ``random_state`` (weights, shuffling,
    Dropout masks, the validation split), ``tol`` and ``n_iter_no_change`` (stop when the training loss
    — or, with ``early_stopping``, the validation score on a ``validation_fraction`` split — has not
    improved by ``tol`` for more than ``n_iter_no_change`` epochs; early stopping puts back the best
    weights), ``verbose``, ``warm_start``, ``momentum`` (SGD, RMSProp), ``nesterovs_momentum`` (SGD),
    ``beta_1``, ``beta_2``, ``epsilon`` (Adam, AdamW; ``epsilon`` also RMSProp).

    ownnet's own: ``optimizer`` ("adam", "adamw", "sgd", "rmsprop": scikit-learn calls it ``solver``;
    there is no L-BFGS), ``dropout`` (after every hidden activation), ``dtype`` ("float32" or "float64":
    the network's precision, and that of ``predict``'s output).

    Fitted attributes: ``model_`` (the ownnet network), ``optimizer_``, ``history_`` (the last call's
    ``History``), ``loss_``, ``loss_curve_``, ``best_loss_``, ``validation_scores_``,
    ``best_validation_score_``, ``n_iter_``, ``t_``, ``n_layers_``, ``n_outputs_``, ``coefs_``,
    ``intercepts_``, ``n_features_in_`` (and ``feature_names_in_`` for data frames).
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier: softmax outputs, cross-entropy loss.

    ``y`` holds class labels of any type (ints, strings, ...): ``classes_`` lists them sorted, and the
    network has one output (logit) per class, also for two classes.
    ``predict_proba(x)`` is ``(samples, n_classes)``, ``predict(x)`` the most probable label.
    The hyperparameters and fitted attributes are listed below.
    """

    _validation_metric = "accuracy"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, optimizer="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dropout=0.0, dtype="float32"):
        self._store_params(locals())

    def _loss(self):
        return CrossEntropyLoss()

    def _n_outputs(self, y):
        return len(self.classes_)

    def _encode_targets(self, y):
        """Labels -> int64 class indices into ``classes_``."""
        indices = np.searchsorted(self.classes_, y)
        indices = np.clip(indices, 0, len(self.classes_) - 1)
        unknown = self.classes_[indices] != y
        if unknown.any():
            raise ValueError(f"y: labels {np.unique(y[unknown]).tolist()} are not among the classes "
                             f"{self.classes_.tolist()} (pass every class to the first partial_fit)")
        return indices.astype(np.int64)

    def _check_targets(self, y, classes=None):
        check_classification_targets(y)
        if classes is not None:
            self.classes_ = np.unique(np.asarray(classes))
        if len(self.classes_) < 2:
            raise ValueError(f"y: a classifier needs at least 2 classes, got one class: "
                             f"{self.classes_.tolist()}")

    def fit(self, X, y):
        """Train on ``X`` ``(samples, features)`` and labels ``y`` ``(samples,)``; returns ``self``."""
        warm = self.warm_start and hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=not warm, dtype=(np.float32, np.float64))
        if warm:
            self._check_targets(y)
        else:
            self._check_targets(y, classes=np.unique(y))
        return self._fit(X, y, self.max_iter, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``, continuing from the current weights and optimizer state.
        ``classes`` (every label that will ever appear) is required on the first call."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, dtype=(np.float32, np.float64))
        if first:
            if classes is None:
                raise ValueError("classes: the first call to partial_fit needs classes=every label "
                                 "that y may hold, e.g. classes=np.unique(y_all)")
            self._check_targets(y, classes=classes)
        else:
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ValueError(f"classes: expected the classes of the first call {self.classes_.tolist()},"
                                 f" got {np.unique(np.asarray(classes)).tolist()}")
            self._check_targets(y)
        return self._fit(X, y, 1, incremental=True)

    def predict_proba(self, X):
        """Class probabilities ``(samples, n_classes)``, columns in the order of ``classes_``."""
        x = self._validate_x(X)
        return predict_proba(self.model_, x)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable label of each row, ``(samples,)``, from ``classes_``."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor: linear outputs, one per target column.

    ``y`` of shape ``(samples,)`` gives ``predict`` of shape ``(samples,)``; ``(samples, outputs)``
    (multi-output regression) gives ``(samples, outputs)``. ``loss``: "squared_error" (``MSELoss``,
    the mean of the squares, where scikit-learn minimises half of it), "absolute_error" (``L1Loss``)
    or "huber" (``HuberLoss``, delta 1). The other hyperparameters and fitted attributes are listed below.
    """

    _validation_metric = "r2"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error",
                 optimizer="adam", alpha=0.0001, batch_size="auto", learning_rate_init=0.001, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dropout=0.0, dtype="float32"):
        self._store_params(locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _loss(self):
        if self.loss not in REGRESSION_LOSSES:
            raise ValueError(f"loss: expected one of {tuple(REGRESSION_LOSSES)}, got {self.loss!r}")
        return REGRESSION_LOSSES[self.loss]()

    def _n_outputs(self, y):
        return 1 if y.ndim == 1 else y.shape[1]

    def _encode_targets(self, y):
        """Targets as ``(samples, outputs)`` in the network's dtype (what the loss compares)."""
        return np.asarray(y).reshape(len(y), -1).astype(self.model_.dtype)

    def _fit_regression(self, X, y, epochs, incremental):
        self._loss()  # a bad loss name fails before any work
        if (incremental or self.warm_start) and hasattr(self, "model_") and (y.ndim == 1) != self._y_was_1d:
            raise ValueError("y: expected the same shape of targets as in the first call, "
                             f"{'(samples,)' if self._y_was_1d else '(samples, outputs)'}")
        if not hasattr(self, "model_") or not (incremental or self.warm_start):
            self._y_was_1d = y.ndim == 1
        return self._fit(X, y, epochs, incremental)

    def fit(self, X, y):
        """Train on ``X`` ``(samples, features)`` and ``y`` ``(samples,)`` or ``(samples, outputs)``."""
        warm = self.warm_start and hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=not warm, multi_output=True, y_numeric=True,
                             dtype=(np.float32, np.float64))
        return self._fit_regression(X, y, self.max_iter, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over ``(X, y)``, continuing from the current weights and optimizer state."""
        X, y = validate_data(self, X, y, reset=not hasattr(self, "model_"), multi_output=True, y_numeric=True,
                             dtype=(np.float32, np.float64))
        return self._fit_regression(X, y, 1, incremental=True)

    def predict(self, X):
        """Predictions ``(samples,)`` (1-D ``y`` in fit) or ``(samples, outputs)``, in the model's dtype."""
        x = self._validate_x(X)
        out = predict(self.model_, x)
        return out.ravel() if self._y_was_1d else out


if MLPClassifier.__doc__:  # None under python -OO
    MLPClassifier.__doc__ += _SHARED_DOC
    MLPRegressor.__doc__ += _SHARED_DOC
