"""The output layer of scikit-learn's MLP: an output activation and the loss that goes with it.

The network (``ownnet.Sequential``) ends with a ``Linear`` layer: its outputs ``z`` ``(samples, outputs)``
are logits for a classifier, the prediction (or its log, for Poisson) for a regressor. Here are, as
scikit-learn defines them (``sklearn.neural_network._base``):

=========== ====================== ============================================ =====================
activation  used for               loss per sample (averaged, sample-weighted)  dL/dz per sample
=========== ====================== ============================================ =====================
softmax     multiclass             log_loss: -sum_k y_k log p_k                  p - y
logistic    binary, multilabel     binary_log_loss: -sum_k y_k log p_k           p - y
                                   + (1 - y_k) log(1 - p_k)
identity    squared_error          1/2 mean_k (p_k - y_k)^2                      p - y
exp         poisson                sum_k p_k - y_k log p_k + y_k log y_k - y_k   p - y
identity    absolute_error (ours)  mean_k |p_k - y_k|                            sign(p - y) / outputs
identity    huber (ours, delta 1)  mean_k of 1/2 r^2 (|r| <= 1), |r| - 1/2       clip(r, -1, 1) / outputs
=========== ====================== ============================================ =====================

with ``p = activation(z)``. The first four pair a loss with its "canonical link", which is why dL/dz is
the plain residual ``p - y``. As in scikit-learn, the squared error's gradient is not divided by the
number of outputs (its reported value is the mean over them). The log-losses are computed from the
logits (log-softmax, softplus), never from clipped probabilities.
"""

import numpy as np
from scipy.special import expit, xlogy


def softmax(z):
    exp = np.exp(z - z.max(axis=1, keepdims=True))
    exp /= exp.sum(axis=1, keepdims=True)
    return exp


def identity(z):
    return z


ACTIVATIONS = {"softmax": softmax, "logistic": expit, "identity": identity, "exp": np.exp}


def _average(per_sample, weights):
    """The (sample-weighted) mean over the samples of ``per_sample`` ``(samples,)``."""
    if weights is None:
        return float(per_sample.mean())
    return float(np.dot(weights, per_sample) / weights.sum())


def log_loss(z, p, y, weights):
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return -_average((y * log_p).sum(axis=1), weights)


def binary_log_loss(z, p, y, weights):
    # -[y log p + (1 - y) log(1 - p)] = softplus(z) - y z, with p = sigmoid(z)
    return _average((np.logaddexp(0, z) - y * z).sum(axis=1), weights)


def squared_error(z, p, y, weights):
    return 0.5 * _average(((p - y) ** 2).mean(axis=1), weights)


def poisson(z, p, y, weights):
    # half the Poisson deviance, as scikit-learn: y log(y / p) - y + p, with log p = z
    return _average((xlogy(y, y) - y * z - y + p).sum(axis=1), weights)


def absolute_error(z, p, y, weights):
    return _average(np.abs(p - y).mean(axis=1), weights)


def huber(z, p, y, weights):
    r = np.abs(p - y)
    return _average(np.where(r <= 1.0, 0.5 * r * r, r - 0.5).mean(axis=1), weights)


def residual(p, y):
    return p - y


def sign_residual(p, y):
    return np.sign(p - y) / p.shape[1]


def clipped_residual(p, y):
    return np.clip(p - y, -1.0, 1.0) / p.shape[1]


LOSSES = {
    "log_loss": (log_loss, residual),
    "binary_log_loss": (binary_log_loss, residual),
    "squared_error": (squared_error, residual),
    "poisson": (poisson, residual),
    "absolute_error": (absolute_error, sign_residual),
    "huber": (huber, clipped_residual),
}
"""loss name -> (value(z, p, y, weights), dL/dz per sample (p, y))."""
