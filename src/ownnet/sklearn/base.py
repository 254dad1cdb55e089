"""What ``MLPClassifier`` and ``MLPRegressor`` share: the steps of ``fit``, the network behind
``coefs_``/``intercepts_``, and the forward pass of ``predict``.

The estimator's ``coefs_`` and ``intercepts_`` are lists of the network's own arrays (``model_``'s
``Linear`` weights and biases): training changes them in place. Assign other arrays (or other lists)
and the next ``fit``, ``partial_fit`` or ``predict`` copies them into the network, or builds a new
network of their shapes, as scikit-learn's MLP reads its ``coefs_``.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

import ownnet.sklearn.network as network
import ownnet.sklearn.parameters as parameters
from ownnet.nn.init import manual_seed
from ownnet.sklearn.lbfgs import fit_lbfgs
from ownnet.sklearn.stochastic import fit_stochastic

NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain large values "
                      "and need to be preprocessed.")


def check_sample_weight(sample_weight, n_samples):
    """None, a number (every sample) or ``(samples,)`` non-negative finite weights -> float64 or None."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        weights = np.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n_samples,)}!")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight: expected finite non-negative numbers")
    if not weights.any():
        raise ValueError("sample_weight: every weight is zero; at least one sample must weigh more than zero")
    return weights


class BaseMLP(BaseEstimator):
    """The shared part. A subclass defines ``_validate_input``, ``_output_activation``, ``_loss_name``,
    ``_stratify_labels``, ``_score_targets`` and ``_score`` (see ``MLPClassifier``, ``MLPRegressor``)."""

    def _fit(self, X, y, sample_weight, incremental):
        hidden, activation, solver = parameters.check(self)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        weights = check_sample_weight(sample_weight, X.shape[0])
        y = y.reshape(y.shape[0], -1)
        self.n_outputs_ = y.shape[1]
        if not incremental or first_pass or not hasattr(self, "_random_state"):
            # partial_fit continues the stream, so that N calls shuffle as fit's N epochs do
            self._random_state = check_random_state(self.random_state)
        if first_pass:
            units = [X.shape[1], *hidden, self.n_outputs_]
            self._initialize(units, activation, parameters.network_dtype(self, X.dtype), solver)
        else:
            self._attach_network(activation, X.dtype)
            if self.model_.layers[-1].out_features != self.n_outputs_:
                raise ValueError(f"y: expected {self.model_.layers[-1].out_features} target columns as in "
                                 f"the previous fit, got {self.n_outputs_}")
        x = self._network_input(X)
        if self.dropout:
            manual_seed(int(self._random_state.randint(np.iinfo(np.int32).max)))  # the Dropout masks
        if solver == "lbfgs":
            fit_lbfgs(self, x, y, weights)
        else:
            fit_stochastic(self, solver, x, y, weights, incremental)
        if not all(np.isfinite(array).all() for array in self.coefs_ + self.intercepts_):
            raise ValueError(NON_FINITE_WEIGHTS)
        return self

    def _initialize(self, units, activation, dtype, solver):
        """A new network with scikit-learn's initialisation, and the fitted attributes of a first fit."""
        self.n_iter_, self.t_ = 0, 0
        self.n_layers_ = len(units)
        self.out_activation_ = self._output_activation()
        self._new_network(units, activation, dtype)
        network.glorot_uniform(self.model_, activation, self._random_state)
        self._publish()
        self._best_state = [parameter.data.copy() for parameter in network.parameters(self.model_)]
        if solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            self.best_loss_ = None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _publish(self):
        """``coefs_`` and ``intercepts_``: lists of the network's arrays."""
        layers = network.linear_layers(self.model_)
        self.coefs_ = [layer.weight.data for layer in layers]
        self.intercepts_ = [layer.bias.data for layer in layers]

    def _new_network(self, units, activation, dtype):
        """``model_``: a new network (weights zero); the optimizer state goes with the old one."""
        self.model_ = network.build(units, activation, self.dropout, dtype)
        self._optimizer = None

    def _attach_network(self, activation, x_dtype):
        """Make ``model_`` the network that ``coefs_``/``intercepts_`` describe: copy in the arrays that
        were assigned, or build a new network where their shapes differ from ``model_``'s."""
        coefs, intercepts = self.coefs_, self.intercepts_
        wanted = [np.shape(coefs[0])[0]] + [np.shape(coef)[1] for coef in coefs]
        model = getattr(self, "model_", None)
        if model is not None and not all(p.data.flags.writeable for p in network.parameters(model)):
            for parameter in network.parameters(model):  # unpickled from a read-only memory map
                parameter.data = parameter.data.copy()
        rebuild = model is None or network.units(model) != wanted
        if rebuild:
            dtype = parameters.network_dtype(self, x_dtype) if model is None else model.dtype
            self._new_network(wanted, activation, dtype)
        network.load(self.model_, coefs, intercepts)
        self._publish()
        if rebuild:
            self._best_state = [parameter.data.copy() for parameter in network.parameters(self.model_)]

    def _network_input(self, X):
        """``X`` in the network's dtype (CSR when sparse); float64 values beyond a float32 network's range
        are an error, not a silent infinity."""
        dtype = self.model_.dtype
        if sp.issparse(X):
            x = X.tocsr().astype(dtype, copy=False)
            values = x.data
        else:
            with np.errstate(over="ignore"):  # an overflow is reported below, by name
                x = np.asarray(X, dtype=dtype)
            values = x
        if values.dtype != X.dtype and not np.isfinite(values).all():
            raise ValueError(f"X: values up to {abs(X).max():.3g} do not fit in {dtype}, the dtype the "
                             f"network computes in (largest {np.finfo(dtype).max:.3g}): scale X (e.g. "
                             "StandardScaler) or set dtype='float64'")
        return x

    def _forward_pass_fast(self, X, check_input=True):
        """The network's predictions (after the output activation), in ``X``'s dtype.

        For float64 ``X`` a float32 network is evaluated in float64 (on a float64 copy of its weights): the
        same function, computed as precisely as the input, so that a row's prediction does not depend on
        the other rows (float32 matrix products round differently for different batch shapes).
        """
        check_is_fitted(self, "coefs_")
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=(np.float64, np.float32))
        activation = parameters.ACTIVATION_NAMES.get(self.activation, self.activation)
        self._attach_network(activation, X.dtype)
        model = self.model_
        if np.promote_types(model.dtype, X.dtype) != model.dtype:
            model = network.build(network.units(model), activation, 0.0, X.dtype)
            network.load(model, self.coefs_, self.intercepts_)
        x = X.tocsr().astype(model.dtype) if sp.issparse(X) else np.asarray(X, dtype=model.dtype)
        return network.predict(model, self.out_activation_, x, X.dtype)

    def _score_with_function(self, X, y, sample_weight, score_function):
        """The validation score of early stopping: NaN where the predictions are not finite."""
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return float(score_function(y, y_pred, sample_weight=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
