"""``solver="lbfgs"``: the whole data set at once, minimised by SciPy's L-BFGS-B.

SciPy sees the parameters as one float64 vector ``theta`` (every weight, then every bias, each
flattened, as scikit-learn packs them); each evaluation copies ``theta`` into the network (in its dtype),
runs one forward and backward pass over all the samples, and hands back the loss and the gradient.
It stops when the largest gradient component is below ``tol``, after ``max_iter`` iterations or after
``max_fun`` evaluations of the loss (a ``ConvergenceWarning`` says which limit was hit).
"""

import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

import ownnet.sklearn.network as network


def _unpack(theta, params):
    start = 0
    for parameter in params:
        parameter.data[...] = theta[start:start + parameter.size].reshape(parameter.shape)
        start += parameter.size


def fit_lbfgs(estimator, x, y, weights):
    """Minimise the loss over ``(x, y)``; sets ``n_iter_`` and ``loss_`` as scikit-learn does."""
    model = estimator.model_
    params = network.parameters(model)
    y = y.astype(model.dtype)
    weights = None if weights is None else weights.astype(model.dtype)
    loss_name = estimator._loss_name()

    def loss_and_gradient(theta):
        _unpack(theta, params)
        loss = network.loss_and_gradients(model, estimator.out_activation_, loss_name, estimator.alpha,
                                          x, y, weights)
        return loss, np.concatenate([parameter.grad.ravel() for parameter in params]).astype(np.float64)

    def report(intermediate_result):
        report.iteration += 1
        print(f"Iteration {report.iteration}, loss = {intermediate_result.fun:.8f}")

    report.iteration = 0
    theta = np.concatenate([parameter.data.ravel() for parameter in params]).astype(np.float64)
    model.train()
    model.needs_input_grad = False
    try:
        result = scipy.optimize.minimize(
            loss_and_gradient, theta, method="L-BFGS-B", jac=True,
            callback=report if estimator.verbose else None,
            options={"maxfun": estimator.max_fun, "maxiter": estimator.max_iter, "gtol": estimator.tol})
    finally:
        model.needs_input_grad = True
    if result.status != 0:
        warnings.warn(f"lbfgs failed to converge after {result.nit} iteration(s) (status={result.status}): "
                      f"{result.message}. Increase the number of iterations (max_iter={estimator.max_iter}) "
                      f"or of loss evaluations (max_fun={estimator.max_fun}), or scale the data.",
                      ConvergenceWarning, stacklevel=4)
    estimator.n_iter_ = min(int(result.nit), estimator.max_iter)
    estimator.loss_ = float(result.fun)
    _unpack(result.x, params)
