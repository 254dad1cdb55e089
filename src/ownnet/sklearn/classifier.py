"""``MLPClassifier``: scikit-learn's multi-layer perceptron classifier, trained by ownnet."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from ownnet.sklearn.base import BaseMLP
from ownnet.sklearn.parameters import PARAMETERS_DOC, STOCHASTIC_SOLVERS


def _stochastic(estimator):
    """``partial_fit`` exists for the stochastic solvers only (lbfgs needs the whole data at once)."""
    name = estimator.optimizer if estimator.optimizer is not None else estimator.solver
    if name not in STOCHASTIC_SOLVERS:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {name} is not "
                             "stochastic.")
    return True


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multi-layer perceptron classifier, as ``sklearn.neural_network.MLPClassifier``.

    ``y``: labels of any type ``(samples,)`` (``classes_`` lists them sorted), or a 0/1 indicator matrix
    ``(samples, labels)`` for multilabel classification. The output layer has one logistic unit for two
    classes and for each label of a multilabel ``y``, one softmax unit per class otherwise; the loss is the
    log-loss. ``predict_proba(X)`` is ``(samples, n_classes)``; ``predict(X)`` the labels.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dropout=0.0,
                 dtype="float32", optimizer=None):
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # --- what BaseMLP asks of a subclass -----------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        """``(X, y)`` checked, ``y`` binarised to ``(samples, outputs)`` bool; ``classes_`` defined on a
        first fit, else the labels checked against it."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in "
                                     f"the previous call to fit. Previously got {self.classes_}, `y` has "
                                     f"{classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _loss_name(self):
        return "log_loss" if self.out_activation_ == "softmax" else "binary_log_loss"

    def _stratify_labels(self, y):
        """What the validation split is stratified by: the binarised rows (one per class), or None for
        multilabel ``y``."""
        return None if self._label_binarizer.y_type_.startswith("multilabel") else y

    def _score_targets(self, y):
        return self._label_binarizer.inverse_transform(y)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    # --- the estimator's methods -------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` ``(samples, features)`` (dense or sparse) and ``y``; returns ``self``."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)`` from the current weights and optimizer state. ``classes`` (every
        label ``y`` may ever hold) is required on the first call."""
        if self._first_partial_fit(classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _first_partial_fit(self, classes):
        """True on the first ``partial_fit`` (which defines ``classes_``); checks ``classes`` later."""
        known = getattr(self, "classes_", None)
        if known is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is None:
            return False
        classes = unique_labels(classes)
        if known is not None:
            if not np.array_equal(known, classes):
                raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                                 f"was: {known!r}")
            return False
        self.classes_ = classes
        return True

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def predict(self, X):
        """The labels ``(samples,)`` (an indicator matrix for multilabel ``y``)."""
        return self._predict(X)

    def predict_proba(self, X):
        """Probabilities ``(samples, n_classes)``, columns in the order of ``classes_``, in ``X``'s dtype."""
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return np.vstack([1 - y_pred, y_pred]).T if y_pred.ndim == 1 else y_pred

    def predict_log_proba(self, X):
        probabilities = self.predict_proba(X)
        return np.log(probabilities, out=probabilities)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


if MLPClassifier.__doc__:  # None under python -OO
    MLPClassifier.__doc__ += PARAMETERS_DOC
