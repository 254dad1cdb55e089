"""``fit``'s arguments, checked once before the first step, so that the step itself checks nothing.

Each check raises ``ValueError`` or ``TypeError`` naming the argument, what was expected and what
was given.
"""

import numbers
import os

from ownnet import backend, metrics
from ownnet.nn.module import Module

METRICS = {
    "accuracy": metrics.accuracy,
    "zero_one_loss": metrics.zero_one_loss,
    "mae": metrics.mean_absolute_error,
    "mse": metrics.mean_squared_error,
    "r2": metrics.r2_score,
}
_CLASSIFICATION_METRICS = ("accuracy", "zero_one_loss")


def resolve_metrics(names, loss):
    """``[(name, metric(y_true, y_pred))]`` for ``fit(metrics=...)``: names of ``METRICS`` or functions."""
    if isinstance(names, str):
        raise TypeError(f"metrics: expected a list of metric names, got the string {names!r}; "
                        f"write metrics=[{names!r}]")
    resolved = []
    threshold = 0.0 if type(loss).__name__ == "BCEWithLogitsLoss" else 0.5
    for name in names or ():
        if callable(name):
            resolved.append((getattr(name, "__name__", "metric"), name))
        elif name in METRICS:
            fn = METRICS[name]
            if name in _CLASSIFICATION_METRICS:
                resolved.append((name, lambda y_true, y_pred, fn=fn: fn(y_true, y_pred, threshold=threshold)))
            else:
                resolved.append((name, fn))
        else:
            raise ValueError(f"metrics: unknown metric {name!r}; expected one of {sorted(METRICS)} or a "
                             "function metric(y_true, y_pred)")
    return resolved


def as_inputs(model, x, y=None):
    """Validate once, up front, so that the training step itself checks nothing."""
    x = backend.as_float_array(x, name="x", dtype=model.dtype, device=model.device)
    if y is None:
        return x, None
    y = backend.as_device_array(y, "y", model.device)
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y: expected {x.shape[0]} targets (one per row of x, which has shape "
                         f"{tuple(x.shape)}), got shape {tuple(y.shape)}")
    if y.dtype.kind in "iub":
        y = y.astype(backend.xp_of(y).int64, copy=False)
    else:
        y = backend.as_float_array(y, name="y", dtype=model.dtype, device=model.device)
    return x, y


def check_class_labels(model, loss, x, y):
    """Integer labels for a classification loss must lie in [0, n_classes): check them all before the
    first step rather than at the batch that holds a bad one. The number of classes is the width of
    the model's output for one row (computed in eval mode, which draws no random numbers)."""
    if type(loss).__name__ != "CrossEntropyLoss" or y.ndim != 1 or y.dtype.kind not in "iu":
        return
    was_training = model.training
    model.eval()
    try:
        n_classes = model.forward(x[:1]).shape[-1]
    except ValueError:  # a shape error: the first training batch reports it with the batch's shape
        return
    finally:
        model.train(was_training)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise ValueError(f"y: class labels must be in [0, {n_classes}) for a model with {n_classes} outputs, "
                         f"got label {bad}")


_CALLBACK_HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")


def check_model(model):
    if not isinstance(model, Module):
        raise TypeError(f"model: expected an ownnet Module (e.g. Sequential(...)), "
                        f"got {type(model).__name__}")


def check_loss(loss):
    if not (callable(getattr(loss, "forward", None)) and callable(getattr(loss, "backward", None))):
        raise TypeError(f"loss: expected a loss with forward(pred, target) and backward() (e.g. "
                        f"CrossEntropyLoss()), got {type(loss).__name__}")


def check_training_arguments(model, loss, optimizer, callbacks, augment, checkpoint_dir):
    """Everything ``fit`` is given besides the data, checked once before the first step."""
    check_model(model)
    check_loss(loss)
    if not (callable(getattr(optimizer, "step", None)) and callable(getattr(optimizer, "zero_grad", None))):
        raise TypeError(f"optimizer: expected an optimizer with step() and zero_grad() (e.g. "
                        f"SGD(model.parameters(), lr=0.05)), got {type(optimizer).__name__}")
    params = getattr(optimizer, "params", None)
    own = {id(p) for p in model.parameters()}
    if params is not None and own and not any(id(p) in own for p in params):
        raise ValueError("optimizer: holds none of the model's parameters (was it built for another "
                         "model?); expected optimizer = SGD(model.parameters(), ...)")
    if hasattr(callbacks, "on_epoch_end") or isinstance(callbacks, (str, bytes)):
        raise TypeError(f"callbacks: expected a list of callbacks, got {type(callbacks).__name__}; "
                        "write callbacks=[callback]")
    callbacks = list(callbacks)
    for index, callback in enumerate(callbacks):
        missing = [hook for hook in _CALLBACK_HOOKS if not callable(getattr(callback, hook, None))]
        if missing:
            raise TypeError(f"callbacks[{index}]: expected a Callback (a subclass of ownnet.Callback), "
                            f"got {type(callback).__name__} without {', '.join(missing)}")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment: expected a function x_batch -> x_batch, got {type(augment).__name__}")
    if checkpoint_dir is not None and os.path.exists(checkpoint_dir) and not os.path.isdir(checkpoint_dir):
        raise ValueError(f"checkpoint_dir: expected a folder, got the existing file {checkpoint_dir!r}")
    return callbacks


def split_validation(x, y, validation_data, validation_split, model):
    """``(x_train, y_train, (x_val, y_val) or None)`` from ``validation_data`` or ``validation_split``."""
    if validation_data is not None:
        if validation_split:
            raise ValueError("give either validation_data or validation_split, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data: expected a tuple (x_val, y_val)")
        return x, y, as_inputs(model, *validation_data)
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise TypeError(f"validation_split: expected a fraction in (0, 1), got {validation_split!r}")
    if not validation_split:
        return x, y, None
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split: expected a fraction in (0, 1), got {validation_split!r}")
    n_val = int(round(len(x) * validation_split))
    if n_val < 1 or n_val >= len(x):
        raise ValueError(f"validation_split={validation_split} leaves no data on one side of {len(x)} rows")
    # As in Keras: the last rows, taken before any shuffling.
    return x[:-n_val], y[:-n_val], (x[-n_val:], y[-n_val:])


def check_cuda_graph(cuda_graph, model):
    if cuda_graph not in (None, True, False):
        raise TypeError(f"cuda_graph: expected None, True or False, got {cuda_graph!r}")
    if cuda_graph is True and model.device != "gpu":
        raise ValueError("cuda_graph=True: the model is on the CPU; move it with model.to('gpu')")
