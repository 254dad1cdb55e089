"""The network inside the estimators: an ownnet ``Sequential`` of ``Linear`` layers and activations.

Here are its construction with scikit-learn's initialisation, the link between the network and the
estimator's ``coefs_``/``intercepts_``, and one training pass: forward, loss, backward and the L2 penalty.

Shapes: ``x`` ``(samples, features)``, dense or a SciPy CSR matrix; ``z`` (the last ``Linear``'s output)
and the targets ``y`` ``(samples, outputs)``; layer ``i`` has ``weight`` = ``coefs_[i]``
``(fan_in, fan_out)`` and ``bias`` = ``intercepts_[i]`` ``(fan_out,)``.
"""

import numpy as np
import scipy.sparse as sp

from ownnet.nn.containers import Sequential
from ownnet.nn.linear import Linear
from ownnet.nn.mlp import activation_class
from ownnet.nn.regularization import Dropout
from ownnet.sklearn.outputs import ACTIVATIONS, LOSSES

PREDICT_BATCH = 4096  # rows per forward pass in predict: memory stays bounded for any number of rows


def build(units, activation, dropout, dtype):
    """``Linear(units[0], units[1])``, activation, [``Dropout``], ..., ``Linear(units[-2], units[-1])``,
    weights zero (``glorot_uniform`` or ``load`` fills them)."""
    model = Sequential()
    for index, (fan_in, fan_out) in enumerate(zip(units[:-1], units[1:])):
        model.add(Linear(fan_in, fan_out, init="zeros", dtype=dtype))
        if index < len(units) - 2:
            model.add(activation_class(activation)())
            if dropout:
                model.add(Dropout(dropout))
    return model


def linear_layers(model):
    return [layer for layer in model.layers if isinstance(layer, Linear)]


def units(model):
    """``[features, hidden..., outputs]`` of a network that ``build`` made."""
    layers = linear_layers(model)
    return [layers[0].in_features] + [layer.out_features for layer in layers]


def glorot_uniform(model, activation, random_state):
    """scikit-learn's initialisation (Glorot and Bengio, 2010): weights *and* biases uniform in
    ``±sqrt(6 / (fan_in + fan_out))`` (2 instead of 6 before a sigmoid), drawn from ``random_state``
    layer by layer, weights first."""
    factor = 2.0 if activation == "sigmoid" else 6.0
    for layer in linear_layers(model):
        bound = np.sqrt(factor / (layer.in_features + layer.out_features))
        layer.weight.data[...] = random_state.uniform(-bound, bound, layer.weight.shape)
        layer.bias.data[...] = random_state.uniform(-bound, bound, layer.bias.shape)


def load(model, coefs, intercepts):
    """Copy into the network every array of ``coefs``/``intercepts`` that is not already its own (one the
    user assigned); the shapes must be the network's."""
    layers = linear_layers(model)
    for name, arrays in (("coefs_", coefs), ("intercepts_", intercepts)):
        if len(arrays) != len(layers):
            raise ValueError(f"{name}: expected {len(layers)} arrays (one per layer), got {len(arrays)}")
    for index, (layer, coef, intercept) in enumerate(zip(layers, coefs, intercepts)):
        pairs = (("coefs_", layer.weight, coef), ("intercepts_", layer.bias, intercept))
        for name, parameter, value in pairs:
            if value is parameter.data:
                continue
            value = np.asarray(value).reshape(-1) if name == "intercepts_" else np.asarray(value)
            if value.shape != parameter.shape:
                raise ValueError(f"{name}[{index}]: expected shape {parameter.shape}, got {value.shape}")
            parameter.data[...] = value


def parameters(model):
    """The trainable arrays in scikit-learn's order: every weight, then every bias."""
    layers = linear_layers(model)
    return [layer.weight for layer in layers] + [layer.bias for layer in layers]


def forward(model, x):
    """The outputs ``z`` of the last ``Linear`` for ``x``. A sparse ``x`` goes through the first layer's
    product by SciPy (``x @ W`` and, in ``backward``, ``x.T @ dL/dz``), the rest through the layers."""
    if not sp.issparse(x):
        return model.forward(x)
    first = model.layers[0]
    z = np.asarray(x @ first.weight.data)
    z += first.bias.data
    for layer in model.layers[1:]:
        z = layer.forward(z)
    return z


def backward(model, x, grad):
    """Back-propagate ``grad`` = dL/dz; every parameter's ``.grad`` is set (``zero_grad`` came first)."""
    if not sp.issparse(x):
        model.backward(grad)
        return
    for layer in reversed(model.layers[1:]):
        grad = layer.backward(grad)
    first = model.layers[0]
    first.weight.grad[...] = x.T @ grad  # dL/dW = x^T . dL/dy, a sparse-dense product
    first.bias.grad[...] = grad.sum(axis=0)


def loss_and_gradients(model, out_activation, loss, alpha, x, y, weights=None):
    """One pass over ``(x, y)``: returns scikit-learn's loss, the (sample-weighted) mean loss plus
    ``alpha / 2 * sum ||W||^2 / n``, and leaves its gradient in every parameter's ``.grad``.

    With ``n`` the number of samples (the sum of ``weights``), dL/dz = (p - y) * weight / n, and the
    penalty adds ``alpha * W / n`` to each weight's gradient (not to the biases).
    """
    z = forward(model, x)
    p = ACTIVATIONS[out_activation](z)
    value, gradient = LOSSES[loss]
    total = value(z, p, y, weights)
    n = float(len(z) if weights is None else weights.sum())
    delta = gradient(p, y)
    if weights is not None:
        delta *= weights[:, None]
    delta /= n
    for layer in linear_layers(model):
        layer.weight.zero_grad()
        layer.bias.zero_grad()
    backward(model, x, delta)
    if alpha:
        squares = 0.0
        for layer in linear_layers(model):
            w = layer.weight.data
            squares += float(np.vdot(w, w))
            layer.weight.grad += (alpha / n) * w
        total += 0.5 * alpha * squares / n
    return total


def predict(model, out_activation, x, dtype):
    """``activation(z)`` for ``x`` in ``dtype``, in eval mode (Dropout off), ``PREDICT_BATCH`` rows at a
    time. The activation runs in ``dtype`` (float64 for float64 input): probabilities near 0 or 1 keep
    their precision, and their logarithms stay finite longer."""
    was_training = model.training
    model.eval()
    try:
        parts = [forward(model, x[start:start + PREDICT_BATCH])
                 for start in range(0, x.shape[0], PREDICT_BATCH)]
    finally:
        model.train(was_training)
    z = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return ACTIVATIONS[out_activation](z.astype(dtype, copy=False))
