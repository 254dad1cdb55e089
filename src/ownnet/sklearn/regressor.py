"""``MLPRegressor``: scikit-learn's multi-layer perceptron regressor, trained by ownnet."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d, validate_data

from ownnet.sklearn.base import BaseMLP
from ownnet.sklearn.classifier import _stochastic
from ownnet.sklearn.parameters import PARAMETERS_DOC, REGRESSION_LOSSES, choice


class MLPRegressor(RegressorMixin, BaseMLP):
    """A multi-layer perceptron regressor, as ``sklearn.neural_network.MLPRegressor``.

    ``y`` ``(samples,)`` or ``(samples, outputs)``; ``predict`` returns ``(samples,)`` for one output
    (also for ``y`` of shape ``(samples, 1)``, as scikit-learn). ``loss``: ``"squared_error"`` (half the
    mean squared error, identity output), ``"poisson"`` (half the Poisson deviance, exponential output,
    ``y >= 0``), and ownnet's ``"absolute_error"`` and ``"huber"`` (delta 1), identity output.
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dropout=0.0, dtype="float32", optimizer=None):
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # --- what BaseMLP asks of a subclass -----------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        choice("loss", self.loss, REGRESSION_LOSSES)
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("y: loss='poisson' needs targets >= 0 (counts, rates)")
        return X, y

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _loss_name(self):
        return self.loss

    def _stratify_labels(self, y):
        return None

    def _score_targets(self, y):
        return y.ravel() if y.shape[1] == 1 else y

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    # --- the estimator's methods -------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` ``(samples, features)`` (dense or sparse) and ``y``; returns ``self``."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)`` from the current weights and optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def predict(self, X):
        """Predictions ``(samples,)`` for one output, else ``(samples, outputs)``, in ``X``'s dtype."""
        return self._predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


if MLPRegressor.__doc__:  # None under python -OO
    MLPRegressor.__doc__ += PARAMETERS_DOC
