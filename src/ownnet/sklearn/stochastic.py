"""The stochastic solvers (``adam``, ``sgd``, and ownnet's ``adamw``, ``rmsprop``): minibatch epochs with
scikit-learn's stopping rule, learning-rate schedules, early stopping and fitted attributes.

One epoch visits every training sample once, in batches (shuffled with the estimator's random state);
after it, as scikit-learn's ``_fit_stochastic`` does:

- ``loss_`` is the mean of the batch losses weighted by batch size, appended to ``loss_curve_``;
- ``_no_improvement_count`` counts the epochs in a row whose training loss was not below
  ``best_loss_ - tol`` (with ``early_stopping``: whose validation score was not above
  ``best_validation_score_ + tol``); ``best_loss_`` (``best_validation_score_``) follows every
  improvement, however small;
- the learning rate follows its schedule (``invscaling``: ``learning_rate_init / (t_ + 1) ** power_t``);
- once the count exceeds ``n_iter_no_change``, training stops, or with ``learning_rate="adaptive"``
  (``sgd``) the learning rate is divided by 5 and the count restarts, until it falls below 1e-6;
- reaching ``max_iter`` warns (``ConvergenceWarning``); early stopping puts back the best epoch's weights.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

import ownnet.sklearn.network as network
from ownnet.data import gather
from ownnet.optim import SGD, Adam, AdamW, RMSProp
from ownnet.sklearn.parameters import batch_size as clipped_batch_size


class LearningRate:
    """What scikit-learn's MLP keeps as ``_optimizer``: here the ownnet optimizer (``optimizer``), with the
    learning-rate schedule around it. ``learning_rate`` is the optimizer's current ``lr``."""

    def __init__(self, optimizer, schedule, power_t):
        self.optimizer, self.schedule, self.power_t = optimizer, schedule, power_t
        self.learning_rate_init = optimizer.lr

    @property
    def learning_rate(self):
        return self.optimizer.lr

    @learning_rate.setter
    def learning_rate(self, value):
        self.optimizer.lr = value

    def iteration_ends(self, time_step):
        """After each epoch; ``time_step`` is the number of samples seen (``t_``)."""
        if self.schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, message, verbose):
        """True to stop; with the ``adaptive`` schedule, first divide the learning rate by 5 (False)."""
        if self.schedule != "adaptive":
            stop = " Stopping."
        elif self.learning_rate <= 1e-6:
            stop = " Learning rate too small. Stopping."
        else:
            self.learning_rate /= 5.0
            stop = None
        if verbose:
            print(message + (stop or f" Setting learning rate to {self.learning_rate:f}"))
        return stop is not None


def make_optimizer(estimator, solver, params):
    """The ownnet optimizer of ``solver`` with the estimator's hyperparameters. ``alpha`` is the L2
    penalty in the loss, except for ``adamw``, whose decoupled weight decay it is."""
    lr, betas = estimator.learning_rate_init, (estimator.beta_1, estimator.beta_2)
    if solver == "sgd":
        momentum = estimator.momentum
        nesterov = estimator.nesterovs_momentum and momentum > 0
        optimizer = SGD(params, lr=lr, momentum=momentum, nesterov=nesterov)
    elif solver == "adam":
        optimizer = Adam(params, lr=lr, betas=betas, eps=estimator.epsilon)
    elif solver == "adamw":
        optimizer = AdamW(params, lr=lr, betas=betas, eps=estimator.epsilon, weight_decay=estimator.alpha)
    else:
        optimizer = RMSProp(params, lr=lr, eps=estimator.epsilon, momentum=estimator.momentum)
    schedule = estimator.learning_rate if solver == "sgd" else "constant"  # as scikit-learn: sgd only
    return LearningRate(optimizer, schedule, estimator.power_t)


def split_validation(estimator, x, y, weights):
    """``(x_train, y_train, w_train, validation)``; with ``early_stopping``, ``validation`` is
    ``(x_val, y_val, w_val)`` (``y_val`` as ``score`` takes it), a ``validation_fraction`` split,
    stratified for a single-label classifier; else None."""
    if not estimator.early_stopping:
        return x, y, weights, None
    labels = estimator._stratify_labels(y)
    arrays = (x, y) if weights is None else (x, y, weights)
    parts = train_test_split(*arrays, random_state=estimator._random_state,
                             test_size=estimator.validation_fraction, stratify=labels)
    if parts[1].shape[0] < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                         f"your dataset (early_stopping: {parts[1].shape[0]} validation sample(s) of "
                         f"{x.shape[0]}, validation_fraction={estimator.validation_fraction}).")
    x_train, x_val, y_train, y_val = parts[:4]
    w_train, w_val = (None, None) if weights is None else parts[4:]
    return x_train, y_train, w_train, (x_val, estimator._score_targets(y_val), w_val)


def run_epoch(estimator, solver, x, y, weights, batch_size, penalty):
    """One pass over the training data in batches; returns the epoch's loss."""
    n = x.shape[0]
    order = estimator._random_state.permutation(n) if estimator.shuffle else None
    buffers = None if order is None or sp.issparse(x) else (np.empty((batch_size, *x.shape[1:]), x.dtype),
                                                            np.empty((batch_size, *y.shape[1:]), y.dtype))
    model, total = estimator.model_, 0.0
    for start in range(0, n, batch_size):
        rows = slice(start, min(start + batch_size, n))
        if order is not None:
            rows = order[rows]
        full = buffers is not None and len(rows) == batch_size
        x_batch = gather(x, rows, out=buffers[0] if full else None) if order is not None else x[rows]
        y_batch = gather(y, rows, out=buffers[1] if full else None) if order is not None else y[rows]
        w_batch = None if weights is None else weights[rows]
        loss = network.loss_and_gradients(model, estimator.out_activation_, estimator._loss_name(), penalty,
                                          x_batch, y_batch, w_batch)
        solver.optimizer.step()
        total += loss * x_batch.shape[0]
    return total / n


def update_no_improvement_count(estimator, validation):
    """scikit-learn's rule, on the training loss or (``validation`` given) the validation score."""
    if validation is not None:
        score = estimator._score(*validation)
        estimator.validation_scores_.append(score)
        if estimator.verbose:
            print(f"Validation score: {score:f}")
        improved = not score < estimator.best_validation_score_ + estimator.tol
        if score > estimator.best_validation_score_:
            estimator.best_validation_score_ = score
            estimator._best_state = [p.data.copy() for p in network.parameters(estimator.model_)]
    else:
        loss = estimator.loss_curve_[-1]
        improved = not loss > estimator.best_loss_ - estimator.tol
        if loss < estimator.best_loss_:
            estimator.best_loss_ = loss
    estimator._no_improvement_count = 0 if improved else estimator._no_improvement_count + 1


def fit_stochastic(estimator, solver_name, x, y, weights, incremental):
    """``max_iter`` epochs (one for ``partial_fit``) or fewer, as the module docstring says."""
    model = estimator.model_
    if not incremental or getattr(estimator, "_optimizer", None) is None:
        estimator._optimizer = make_optimizer(estimator, solver_name, network.parameters(model))
    if estimator.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    solver = estimator._optimizer
    x, y, weights, validation = split_validation(estimator, x, y, weights)
    y = y.astype(model.dtype)  # the targets (bool for a classifier) in the network's dtype
    weights = None if weights is None else weights.astype(model.dtype)
    batch_size = clipped_batch_size(estimator, x.shape[0])
    penalty = 0.0 if solver_name == "adamw" else estimator.alpha
    estimator.n_iter_ = 0
    model.train()
    model.needs_input_grad = False  # nobody needs dL/dx of the data: Linear skips that product
    try:
        for _ in range(estimator.max_iter):
            estimator.loss_ = run_epoch(estimator, solver, x, y, weights, batch_size, penalty)
            estimator.n_iter_ += 1
            estimator.t_ += x.shape[0]
            estimator.loss_curve_.append(estimator.loss_)
            if estimator.verbose:
                print(f"Iteration {estimator.n_iter_}, loss = {estimator.loss_:.8f}")
            update_no_improvement_count(estimator, validation)
            solver.iteration_ends(estimator.t_)
            if estimator._no_improvement_count > estimator.n_iter_no_change:
                if solver.trigger_stopping(_no_improvement_message(estimator), estimator.verbose):
                    break
                estimator._no_improvement_count = 0
            if incremental:
                break
            if estimator.n_iter_ == estimator.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({estimator.max_iter}) reached and "
                              "the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=5)
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.", stacklevel=5)
    finally:
        model.needs_input_grad = True
    if estimator.early_stopping:
        for parameter, best in zip(network.parameters(model), estimator._best_state):
            parameter.data[...] = best


def _no_improvement_message(estimator):
    watched = "Validation score" if estimator.early_stopping else "Training loss"
    return (f"{watched} did not improve more than tol={estimator.tol:f} for "
            f"{estimator.n_iter_no_change} consecutive epochs.")
