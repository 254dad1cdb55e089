"""Learning-rate schedules: ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR`` (with an optional
linear warm-up) and ``ReduceLROnPlateau``, with PyTorch's arguments and formulas.

A schedule is built on an optimizer and sets ``optimizer.lr``. The constructor sets the rate of the
first epoch (epoch 0); the training loop calls ``step()`` after each epoch (or after each batch
where the class's ``interval`` is ``"step"``), which sets the rate of the next one.
``ReduceLROnPlateau`` (``needs_metric = True``) is stepped with the monitored value:
``step(val_loss)``. ``last_lr`` is the rate last set.

Example::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = CosineAnnealingLR(optimizer, T_max=30, warmup_epochs=3)
    for epoch in range(30):
        ...                     # train one epoch with optimizer.lr
        schedule.step()
"""

import math
from numbers import Integral

from ownnet.optim.arguments import check_real as _check_real
from ownnet.optim.optimizer import Optimizer


def _check_int(owner, name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_choice(owner, name, value, choices):
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {choices}, got {value!r}")
    return value


class LRScheduler:
    """Base class: holds the optimizer, the epoch counter and ``last_lr``; saves and restores state.

    A subclass validates and stores its constructor arguments in ``_configure`` (which must change
    nothing when it raises), returns them from ``get_config`` and lists the attributes that change
    while training in ``_state_names``.
    """

    interval = "epoch"
    """When the training loop calls ``step()``: once per ``"epoch"`` or once per batch (``"step"``)."""

    needs_metric = False
    """True when ``step`` takes the monitored metric (``ReduceLROnPlateau``)."""

    _state_names = ("last_epoch", "last_lr")

    def _attach(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: optimizer must be an ownnet Optimizer (SGD, Adam, ...), "
                f"got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.last_epoch = 0
        self.last_lr = optimizer.lr

    def _set_lr(self, lr):
        self.optimizer.lr = lr
        self.last_lr = self.optimizer.lr

    def _configure(self, **config):
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments other than the optimizer (JSON-serialisable)."""
        raise NotImplementedError

    def state_dict(self):
        """``{"type", "config", <state>}``, JSON-serialisable."""
        return {"type": type(self).__name__, "config": self.get_config(),
                **{name: getattr(self, name) for name in self._state_names}}

    def load_state_dict(self, state_dict):
        """Restore configuration and progress from ``state_dict()`` output, and set the optimizer's
        ``lr`` to the saved ``last_lr``. Everything is checked before anything changes."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{owner}: expected a dict from state_dict(), got {type(state_dict).__name__}")
        expected = {"type", "config", *self._state_names}
        if set(state_dict) != expected:
            raise ValueError(f"{owner}: expected keys {sorted(expected)}, got {sorted(state_dict)}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(
                f"{owner}: expected the state of a {type(self).__name__}, got one of a {state_dict['type']!r}"
            )
        config = state_dict["config"]
        if not isinstance(config, dict) or set(config) != set(self.get_config()):
            raise ValueError(f"{owner}: expected config keys {sorted(self.get_config())}, got {config!r}")
        values = self._check_state(owner, {name: state_dict[name] for name in self._state_names})
        try:
            self._configure(**config)
        except TypeError as error:
            raise ValueError(f"{owner}: {error}") from None
        for name, value in values.items():
            setattr(self, name, value)
        self._set_lr(self.last_lr)

    def _check_state(self, owner, values):
        values["last_epoch"] = _check_int(owner, "last_epoch", values["last_epoch"], 0)
        values["last_lr"] = _check_real(owner, "last_lr", values["last_lr"], ">= 0", lambda v: v >= 0)
        return values

    def __repr__(self):
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


class _EpochFunctionLR(LRScheduler):
    """A schedule whose rate is a function of the epoch and the initial rate ``base_lr``."""

    _state_names = ("base_lr", "last_epoch", "last_lr")

    def __init__(self, optimizer, **config):
        self._configure(**config)
        self._attach(optimizer)
        self.base_lr = optimizer.lr
        self._set_lr(self.lr_at(0))

    def lr_at(self, epoch):
        """The learning rate of epoch ``epoch`` (0 for the first)."""
        raise NotImplementedError

    def step(self):
        """Move to the next epoch (or batch) and set its learning rate."""
        self.last_epoch += 1
        self._set_lr(self.lr_at(self.last_epoch))

    def _check_state(self, owner, values):
        values["base_lr"] = _check_real(owner, "base_lr", values["base_lr"], "> 0", lambda v: v > 0)
        return super()._check_state(owner, values)


class StepLR(_EpochFunctionLR):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr(epoch) = base_lr * gamma ** (epoch // step_size)`` (``torch.optim.lr_scheduler.StepLR``).
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer, step_size=step_size, gamma=gamma)

    def _configure(self, step_size, gamma):
        owner = type(self).__name__
        step_size = _check_int(owner, "step_size", step_size, 1)
        gamma = _check_real(owner, "gamma", gamma, "> 0", lambda v: v > 0)
        self.step_size, self.gamma = step_size, gamma

    def get_config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(_EpochFunctionLR):
    """Multiply the learning rate by ``gamma`` every epoch.

    ``lr(epoch) = base_lr * gamma ** epoch`` (``torch.optim.lr_scheduler.ExponentialLR``).
    """

    def __init__(self, optimizer, gamma):
        super().__init__(optimizer, gamma=gamma)

    def _configure(self, gamma):
        self.gamma = _check_real(type(self).__name__, "gamma", gamma, "> 0", lambda v: v > 0)

    def get_config(self):
        return {"gamma": self.gamma}

    def lr_at(self, epoch):
        return self.base_lr * self.gamma**epoch


class CosineAnnealingLR(_EpochFunctionLR):
    """Cosine decay from ``base_lr`` to ``eta_min`` over ``T_max`` epochs, after an optional linear warm-up.

    With W = ``warmup_epochs``::

        lr(epoch) = base_lr * (epoch + 1) / (W + 1)                                   epoch < W
        lr(epoch) = eta_min + (base_lr - eta_min) * (1 + cos(pi * (epoch - W) / (T_max - W))) / 2

    The warm-up climbs in equal steps to ``base_lr``, reached at epoch W (no epoch is spent at rate
    0); the cosine then runs over the remaining ``T_max - W`` epochs and reaches ``eta_min`` at epoch
    ``T_max``. With W = 0 this is ``torch.optim.lr_scheduler.CosineAnnealingLR``'s closed form; like it,
    the curve rises again after ``T_max``, so set ``T_max`` to the number of epochs of the run.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, warmup_epochs=0):
        super().__init__(optimizer, T_max=T_max, eta_min=eta_min, warmup_epochs=warmup_epochs)

    def _configure(self, T_max, eta_min, warmup_epochs):
        owner = type(self).__name__
        T_max = _check_int(owner, "T_max", T_max, 1)
        eta_min = _check_real(owner, "eta_min", eta_min, ">= 0", lambda v: v >= 0)
        warmup_epochs = _check_int(owner, "warmup_epochs", warmup_epochs, 0)
        if warmup_epochs >= T_max:
            raise ValueError(
                f"{owner}: warmup_epochs must be < T_max ({T_max}), got {warmup_epochs}"
            )
        self.T_max, self.eta_min, self.warmup_epochs = T_max, eta_min, warmup_epochs

    def get_config(self):
        return {"T_max": self.T_max, "eta_min": self.eta_min, "warmup_epochs": self.warmup_epochs}

    def lr_at(self, epoch):
        warmup = self.warmup_epochs
        if epoch < warmup:
            return self.base_lr * (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / (self.T_max - warmup)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric has stopped improving.

    ``step(metric)`` after each epoch. The metric improves when (``mode="min"``)
    ``metric < best * (1 - threshold)`` (``threshold_mode="rel"``) or ``metric < best - threshold``
    (``"abs"``); for ``mode="max"``, ``metric > best * (1 + threshold)`` or ``metric > best + threshold``.
    After more than ``patience`` epochs in a row without improvement,
    ``lr = max(lr * factor, min_lr)`` (unless that changes it by ``eps`` or less), and the next
    ``cooldown`` epochs are not counted. A NaN metric never improves.
    As ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
    """

    needs_metric = True
    _state_names = ("last_epoch", "last_lr", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self._configure(mode=mode, factor=factor, patience=patience, threshold=threshold,
                        threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr, eps=eps)
        self._attach(optimizer)
        self.best = None  # no metric seen yet
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _configure(self, mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps):
        owner = type(self).__name__
        config = {
            "mode": _check_choice(owner, "mode", mode, ("min", "max")),
            "factor": _check_real(owner, "factor", factor, "in (0, 1)", lambda v: 0 < v < 1),
            "patience": _check_int(owner, "patience", patience, 0),
            "threshold": _check_real(owner, "threshold", threshold, ">= 0", lambda v: v >= 0),
            "threshold_mode": _check_choice(owner, "threshold_mode", threshold_mode, ("rel", "abs")),
            "cooldown": _check_int(owner, "cooldown", cooldown, 0),
            "min_lr": _check_real(owner, "min_lr", min_lr, ">= 0", lambda v: v >= 0),
            "eps": _check_real(owner, "eps", eps, ">= 0", lambda v: v >= 0),
        }
        for name, value in config.items():
            setattr(self, name, value)

    def get_config(self):
        return {name: getattr(self, name) for name in (
            "mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps")}

    def is_better(self, metric):
        """Whether ``metric`` improves on the best value so far (see the class docstring)."""
        if math.isnan(metric):
            return False
        if self.best is None:
            return True
        relative = self.threshold_mode == "rel"
        if self.mode == "min":
            return metric < (self.best * (1 - self.threshold) if relative else self.best - self.threshold)
        return metric > (self.best * (1 + self.threshold) if relative else self.best + self.threshold)

    def step(self, metric):
        """Record this epoch's ``metric`` and reduce the learning rate if it has plateaued."""
        try:
            metric = float(metric)  # also a 0-d array
        except (TypeError, ValueError):
            raise TypeError(
                f"{type(self).__name__}.step: metric must be a number, got {metric!r}"
            ) from None
        self.last_epoch += 1
        if self.is_better(metric):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            old_lr = self.optimizer.lr
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self.last_lr = self.optimizer.lr

    def _check_state(self, owner, values):
        best = values["best"]
        if best is not None:
            values["best"] = _check_real(owner, "best", best, "a finite number or None", lambda v: True)
        values["num_bad_epochs"] = _check_int(owner, "num_bad_epochs", values["num_bad_epochs"], 0)
        values["cooldown_counter"] = _check_int(owner, "cooldown_counter", values["cooldown_counter"], 0)
        return super()._check_state(owner, values)
