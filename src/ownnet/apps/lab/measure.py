"""``WeightMonitor`` and ``LabMonitor``: what ``ownnet lab`` measures while a network trains, epoch by
epoch."""

import numpy as np

from ownnet.nn import Sigmoid, Tanh
from ownnet.train import Callback, evaluate, predict_proba

SATURATION_THRESHOLD = 2.0
"""A tanh or sigmoid unit counts as saturated when |pre-activation| > 2: tanh'(2) = 0.07 (of 1 at
0), sigmoid'(2) = 0.105 (of 0.25 at 0); its gradient is then less than half of its maximum."""


class WeightMonitor(Callback):
    """Per epoch, for every ``Linear`` layer: max |w| (``max_abs_weight``) and the mean over the epoch's
    batches of the gradient norm ||dL/dW|| (``grad_norm``); and the accuracy on (up to 10,000 of) the
    training images at the end of the epoch (``train_accuracy``: ``fit`` reports a running average over
    the epoch's batches, which lags behind the weights it ends with). Each is a list, one entry per
    epoch (a list per layer for the first two)."""

    TRAIN_SAMPLE = 10_000

    def __init__(self, x_train, y_train):
        self.x_train, self.y_train = x_train[: self.TRAIN_SAMPLE], y_train[: self.TRAIN_SAMPLE]
        self.max_abs_weight, self.grad_norm, self.train_accuracy = [], [], []
        self._grad_sums, self._batches = None, 0

    def _weights(self):
        return [p for name, p in self.run.model.named_parameters() if name.endswith("weight")]

    def on_epoch_begin(self, epoch):
        self._grad_sums, self._batches = np.zeros(len(self._weights())), 0

    def on_batch_end(self, step, logs):
        self._grad_sums += [float(np.linalg.norm(p.grad)) for p in self._weights()]
        self._batches += 1

    def on_epoch_end(self, epoch, logs):
        self.max_abs_weight.append([float(np.abs(p.data).max()) for p in self._weights()])
        self.grad_norm.append((self._grad_sums / max(self._batches, 1)).tolist())
        self.train_accuracy.append(evaluate(self.run.model, None, self.x_train, self.y_train)["accuracy"])


class LabMonitor(WeightMonitor):
    """``WeightMonitor``'s numbers, plus per epoch on ``probe`` (validation images): the fraction of
    saturated tanh/sigmoid units (``saturation``: None without such units) and the mean confidence, the
    largest predicted probability (``confidence``)."""

    def __init__(self, x_train, y_train, probe):
        super().__init__(x_train, y_train)
        self.probe = probe
        self.saturation, self.confidence = [], []

    def on_epoch_end(self, epoch, logs):
        super().on_epoch_end(epoch, logs)
        self.saturation.append(saturated_fraction(self.run.model, self.probe))
        self.confidence.append(float(predict_proba(self.run.model, self.probe).max(axis=1).mean()))


def saturated_fraction(model, x):
    """The fraction of tanh/sigmoid units (over all such layers and the rows of ``x``) whose input
    exceeds ``SATURATION_THRESHOLD`` in absolute value; None if the model has no such unit."""
    was_training = model.training
    model.eval()
    saturated = total = 0
    h = x.astype(model.dtype, copy=False)
    try:
        for layer in model.children():
            if isinstance(layer, (Tanh, Sigmoid)):
                saturated += int((np.abs(h) > SATURATION_THRESHOLD).sum())
                total += h.size
            h = layer.forward(h)
    finally:
        model.train(was_training)
    return saturated / total if total else None
