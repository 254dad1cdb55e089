"""Callbacks: hooks that ``fit`` calls at the start and end of training, of each epoch and each batch.

Write your own by subclassing ``Callback`` and overriding the hooks you need; ``self.run`` is the
running ``Run`` (model, loss, optimizer, history, epoch, ``stop_training``) from training start on.
"""

import copy
import math

from ownnet.io import save


class Callback:
    """Base class: every hook does nothing. ``logs`` is a dict of the latest numbers."""

    run = None

    def on_train_begin(self, run):
        self.run = run

    def on_epoch_begin(self, epoch):
        pass

    def on_batch_end(self, step, logs):
        """After each optimizer step; ``logs`` has ``loss`` (this batch) and ``batch_size``."""

    def on_epoch_end(self, epoch, logs):
        """After each epoch; ``logs`` has ``loss``, the metrics, ``val_*`` entries, ``seconds``, ``lr``."""

    def on_train_end(self, logs):
        pass


def _better(mode, value, best, min_delta):
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


def _resolve_mode(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "min" if monitor.endswith("loss") or "error" in monitor else "max"
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs, and (by
    default) put back the weights of the best epoch, as Keras does with ``restore_best_weights``."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=True):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = _resolve_mode(mode, monitor)
        self.restore_best_weights = restore_best_weights
        self.best, self.best_epoch, self.wait, self.best_state = None, None, 0, None
        self.stopped_epoch = None

    def on_train_begin(self, run):
        super().on_train_begin(run)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self.best_state, self.stopped_epoch = None, 0, None, None

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping: monitor {self.monitor!r} is not among the logged values {sorted(logs)}"
            )
        value = logs[self.monitor]
        if _better(self.mode, value, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_state = copy.deepcopy(self.run.model.state_dict())
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.run.stop_training = True

    def on_train_end(self, logs):
        if self.restore_best_weights and self.best_state is not None and self.stopped_epoch is not None:
            self.run.model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback):
    """Save the model with ``on.save`` after each epoch, or only when ``monitor`` improves.

    ``path`` may contain ``{epoch}`` and any logged value, e.g. ``"model-{epoch:02d}-{val_loss:.3f}"``.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        self.path, self.monitor, self.save_best_only = str(path), monitor, save_best_only
        self.mode = _resolve_mode(mode, monitor)
        self.best = None
        self.saved = []

    def on_train_begin(self, run):
        super().on_train_begin(run)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(
                    f"ModelCheckpoint: monitor {self.monitor!r} is not among the logged values {sorted(logs)}"
                )
            if not _better(self.mode, logs[self.monitor], self.best, 0.0):
                return
            self.best = logs[self.monitor]
        self.saved.append(save(self.run.model, self.path.format(**{**logs, "epoch": epoch})))


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_end=None, on_train_end=None):
        self._hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                       "on_batch_end": on_batch_end, "on_train_end": on_train_end}
        for name, fn in self._hooks.items():
            if fn is not None:
                setattr(self, name, fn)
