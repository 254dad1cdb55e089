"""``mlp``: build a multi-layer perceptron from a list of layer sizes."""

import numbers

from ownnet.nn.containers import Sequential
from ownnet.nn.linear import Linear
from ownnet.nn.module import MODULES, Module
from ownnet.nn.regularization import BatchNorm1d, Dropout


def activation_class(name):
    """The activation class for ``name`` ("relu", "tanh", "leakyrelu", ...) or a Module class itself."""
    if isinstance(name, type) and issubclass(name, Module):
        return name
    choices = {cls_name.lower(): cls for cls_name, cls in MODULES.items()
               if cls.__module__.endswith("activations")}
    key = str(name).lower().replace("_", "").replace("-", "")
    if key not in choices:
        raise ValueError(f"activation: expected one of {sorted(choices)}, got {name!r}")
    return choices[key]


def mlp(sizes, activation="relu", dropout=0.0, batch_norm=False, dtype=None):
    """``mlp([784, 512, 256, 10])``: Linear layers of these sizes with ``activation`` between them
    (none after the last: it outputs logits), optionally BatchNorm1d and Dropout after each hidden
    activation. ``[784, 10]`` is the one-layer perceptron (softmax regression with a
    cross-entropy loss).

    Shape: ``(batch, sizes[0])`` -> ``(batch, sizes[-1])``.

    Initialisation: a Linear followed by the activation is drawn with the activation's
    ``preferred_init`` (Xavier uniform for tanh and sigmoid, He uniform for ReLU-like ones); the others
    (the output layer, and with ``batch_norm`` the layers followed by BatchNorm1d) He uniform.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least an input and an output size, got {sizes}")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"sizes: every layer size must be a positive integer, got {sizes}")
    sizes = [int(size) for size in sizes]
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
    act = activation_class(activation)
    hidden_init = "he_uniform" if batch_norm else getattr(act, "preferred_init", "he_uniform")
    model = Sequential()
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = index < len(sizes) - 2
        model.add(Linear(fan_in, fan_out, init=hidden_init if hidden else "he_uniform", dtype=dtype))
        if hidden:
            if batch_norm:
                model.add(BatchNorm1d(fan_out))
            model.add(act())
            if dropout:
                model.add(Dropout(dropout))
    if dtype is not None:
        model.to(dtype)
    return model
