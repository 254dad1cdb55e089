"""``Loss``, the base class of the losses: the reductions, the saved state between ``forward`` and
``backward``, and the checks of ``pred`` and ``target`` that every loss shares."""

import math
import warnings

from ownnet import backend

LOSSES = {}
"""Every Loss subclass by class name: used by the gradient-check tests and model files."""


class LossInputWarning(UserWarning):
    """A loss was given inputs of the wrong kind, e.g. probabilities where it expects logits.

    Checked once, on the first batch a loss sees. Make it an error with
    ``warnings.simplefilter("error", ownnet.LossInputWarning)``.
    """


class DoubleSoftmaxWarning(LossInputWarning):
    """Probabilities (a ``Softmax``'s output) given to ``CrossEntropyLoss``, which applies softmax itself."""

_REDUCTIONS = ("mean", "sum")


class Loss:
    """Base class of the losses: ``forward(pred, target) -> float`` and ``backward() -> dL/dpred``.

    Subclasses validate their inputs in ``forward``, save what the gradient needs with ``_save`` and
    read it back in ``backward`` with ``_take``. ``get_config()`` returns the constructor arguments.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LOSSES[cls.__name__] = cls

    def __init__(self, reduction="mean"):
        if reduction not in _REDUCTIONS:
            hint = " (forward returns one float, so 'none' is not supported)" if reduction == "none" else ""
            raise ValueError(f"{self.name}: reduction must be 'mean' or 'sum', got {reduction!r}{hint}")
        self.reduction = reduction
        self.deferred = False
        """True while ``fit`` trains on the GPU: ``forward`` returns the loss as a 0-d device array
        instead of a float, so that no step waits for the GPU, and skips the checks of the target's
        values that would (``fit`` checked the whole target once, before the first step)."""
        self._cache = None
        self._state = "new"  # "new" -> "forward" -> "backward" -> "forward" ...
        self._input_checked = False  # _check_first_input has looked at a batch (then never again)

    @property
    def name(self):
        return type(self).__name__

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def forward(self, pred, target):
        raise NotImplementedError(f"{self.name} does not implement forward")

    def backward(self):
        raise NotImplementedError(f"{self.name} does not implement backward")

    # --- saved state between forward and backward --------------------------------------------
    def _save(self, *values):
        self._cache = values
        self._state = "forward"

    def _take(self):
        """What ``forward`` saved (released: ``backward`` may reuse its arrays in place)."""
        if self._state == "new":
            raise ValueError(f"{self.name}: backward() called before forward(); run forward first")
        if self._state == "backward":
            raise ValueError(
                f"{self.name}: backward() called twice after one forward(); "
                "run forward again before the next backward"
            )
        cache, self._cache, self._state = self._cache, None, "backward"
        return cache

    def _result(self, total):
        """The loss to return: a float, or the 0-d array itself when ``deferred``."""
        return total if self.deferred else float(total)

    # --- input checks ---------------------------------------------------------------------------
    def _check_first_input(self, pred):
        """On the first batch only, warn (``LossInputWarning``) if ``pred`` is not the kind of input this
        loss expects (``_input_problem``); afterwards this costs one attribute test per step. Skipped
        while ``deferred`` (reading values would make the GPU step wait), so checked on the next
        batch that is not."""
        if self.deferred:
            return
        self._input_checked = True
        problem = self._input_problem(pred)
        if problem:
            warnings.warn(f"{self.name}: {problem}", self.input_warning, stacklevel=4)

    input_warning = LossInputWarning
    """The category of the warning ``_check_first_input`` gives."""

    def _input_problem(self, pred):
        """What is wrong with the kind of ``pred`` (a sentence), or None. Nothing to check by default."""
        return None

    def _pred(self, pred):
        """``pred`` as a non-empty float array (never converted: the model decides the dtype)."""
        pred = backend.as_device_array(pred, f"{self.name}: pred", backend.device_of(pred))
        if pred.dtype.kind != "f":
            raise TypeError(
                f"{self.name}: pred must be a float array (the model's output), got dtype {pred.dtype}; "
                "convert it with pred.astype('float32')"
            )
        if pred.ndim == 0 or pred.size == 0:
            raise ValueError(f"{self.name}: pred must be a non-empty array of shape (batch, ...), "
                             f"got shape {tuple(pred.shape)}")
        return pred

    def _target(self, target, pred):
        """``target`` as a numeric array whose batch size matches ``pred``'s (dtype unchanged)."""
        target = backend.as_device_array(target, f"{self.name}: target", backend.device_of(pred))
        if target.dtype.kind not in "fiub":
            raise TypeError(
                f"{self.name}: target must be numeric (float, int or bool), got dtype {target.dtype}")
        # integer labels: nothing to check
        if (target.dtype.kind == "f" and backend.get_check_finite() and not self.deferred
                and not bool(backend.xp_of(target).isfinite(target).all())):
            raise ValueError(f"{self.name}: target contains NaN or inf; expected finite numbers")
        if target.ndim == 0 or target.shape[0] != pred.shape[0]:
            got = "a scalar" if target.ndim == 0 else f"{target.shape[0]} (shape {tuple(target.shape)})"
            raise ValueError(
                f"{self.name}: batch size mismatch: pred has {pred.shape[0]} samples "
                f"(shape {tuple(pred.shape)}), target has {got}"
            )
        return target

    def _same_shape_target(self, target, pred):
        """A float target of exactly ``pred``'s shape, cast to ``pred``'s dtype (no broadcasting)."""
        target = self._target(target, pred)
        if tuple(target.shape) != tuple(pred.shape):
            hint = ""
            if target.size == pred.size:
                hint = f"; reshape it with target.reshape({tuple(pred.shape)})"
            raise ValueError(
                f"{self.name}: expected target of the same shape as pred {tuple(pred.shape)}, "
                f"got {tuple(target.shape)}{hint} (no broadcasting, to avoid silent (N,) vs (N, 1) errors)"
            )
        return target.astype(pred.dtype, copy=False)

    def _labels(self, target, classes):
        """Integer class labels in [0, classes); integral floats (3.0) are converted, 2.5 is an error."""
        xp = backend.xp_of(target)
        if target.dtype.kind == "f" and not self.deferred:
            integral = xp.floor(target) == target  # False for NaN and inf
            if not bool(integral.all()):
                index = int(xp.argmin(integral))
                raise ValueError(
                    f"{self.name}: class labels must be integers, got {target[index].item()} "
                    f"at index {index} (for probability targets pass a (batch, {classes}) array)"
                )
        elif target.dtype.kind == "f":
            pass  # deferred: fit checked and converted them before the first step
        elif target.dtype.kind not in "iu":
            raise TypeError(f"{self.name}: class labels must be integers, got dtype {target.dtype}")
        if self.deferred:  # checked by fit before the first step; checking here would wait for the GPU
            return target if target.dtype.kind in "iu" else target.astype(xp.intp)
        low, high = target.min(), target.max()
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"{self.name}: class labels must lie in [0, {classes}) for pred with {classes} classes, "
                f"got label {bad.item()}"
            )
        return target if target.dtype.kind in "iu" else target.astype(xp.intp)

    def _check_unit_interval(self, array, what):
        if self.deferred:
            return
        low, high = float(array.min()), float(array.max())
        if not (0.0 <= low and high <= 1.0):  # also catches NaN
            bad = low if not 0.0 <= low else high
            raise ValueError(f"{self.name}: {what} must lie in [0, 1], got a value of {bad}")

    def _scale(self, count, dtype):
        """The factor applied by the reduction: ``1/count`` for "mean", ``1`` for "sum" (in ``dtype``)."""
        return dtype.type(1) / dtype.type(count) if self.reduction == "mean" else dtype.type(1)

    # --- description ------------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments (JSON-serialisable) that rebuild this loss."""
        return {"reduction": self.reduction}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{self.name}({args})"


def check_number(loss_name, arg, value, low, low_inclusive, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{loss_name}: {arg} must be a number, got {value!r}")
    value = float(value)
    too_low = value < low if low_inclusive else value <= low
    if too_low or (high is not None and value > high) or not math.isfinite(value):
        bound = f"[{low}, {high}]" if high is not None else (f">= {low}" if low_inclusive else f"> {low}")
        bound += " and finite" if high is None and not math.isfinite(value) else ""
        raise ValueError(f"{loss_name}: {arg} must be {bound}, got {value}")
    return value
