"""Loss functions: ``MSELoss``, ``L1Loss``, ``HuberLoss``, ``CrossEntropyLoss``, ``BCEWithLogitsLoss``,
``BCELoss``.

A loss is not a layer: ``forward(pred, target)`` returns the loss as a Python float and keeps what
``backward()`` needs; ``backward()`` takes no argument and returns dL/dpred (same shape and dtype as
``pred``), which starts the model's backward pass::

    loss_fn = CrossEntropyLoss()
    loss = loss_fn(model(x), y)          # a float
    model.backward(loss_fn.backward())   # dL/dlogits, (batch, classes)

Argument names, defaults and formulas are PyTorch's (``torch.nn.*Loss``), so results compare 1:1.
``reduction="mean"`` averages (over all elements, or over the batch for ``CrossEntropyLoss``),
``reduction="sum"`` adds up. ``backward()`` may be called once per ``forward()``.

Everything is computed in ``pred``'s dtype (float targets are cast to it): a float32 model gets float32
gradients, with no float64 intermediate.
"""

import math

import numpy as np

from ownnet import backend
from ownnet.backend import cpu_kernels

LOSSES = {}
"""Every Loss subclass by class name: used by the gradient-check tests and model files."""

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
    def _pred(self, pred):
        """``pred`` as a non-empty float array (never converted: the model decides the dtype)."""
        if not backend.is_gpu_array(pred):
            pred = backend.as_device_array(pred, f"{self.name}: pred", "cpu")
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


def _check_number(loss_name, arg, value, low, low_inclusive, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{loss_name}: {arg} must be a number, got {value!r}")
    value = float(value)
    too_low = value < low if low_inclusive else value <= low
    if too_low or (high is not None and value > high) or not math.isfinite(value):
        bound = f"[{low}, {high}]" if high is not None else (f">= {low}" if low_inclusive else f"> {low}")
        bound += " and finite" if high is None and not math.isfinite(value) else ""
        raise ValueError(f"{loss_name}: {arg} must be {bound}, got {value}")
    return value


# --- regression ------------------------------------------------------------------------------------
class MSELoss(Loss):
    """Mean squared error: ``mean((pred - target)**2)`` over all elements (no 1/2 factor).

    Shape: ``pred`` and ``target`` of the same shape, e.g. ``(batch, outputs)``; no broadcasting.
    Gradient: ``2 * (pred - target) / n`` with ``n`` the number of elements ("mean") or 1 ("sum").
    """

    def forward(self, pred, target):
        pred = self._pred(pred)
        diff = pred - self._same_shape_target(target, pred)
        self._save(diff)
        total = (diff * diff).sum()
        return self._result(total * self._scale(diff.size, diff.dtype))

    def backward(self):
        (diff,) = self._take()
        diff *= diff.dtype.type(2) * self._scale(diff.size, diff.dtype)  # diff is ours: reuse it
        return diff


class L1Loss(Loss):
    """Mean absolute error: ``mean(|pred - target|)`` over all elements.

    Shape: ``pred`` and ``target`` of the same shape; no broadcasting.
    Gradient: ``sign(pred - target) / n`` (0 where pred == target, as in PyTorch).
    """

    def forward(self, pred, target):
        pred = self._pred(pred)
        diff = pred - self._same_shape_target(target, pred)
        self._save(diff)
        return self._result(backend.xp_of(diff).abs(diff).sum() * self._scale(diff.size, diff.dtype))

    def backward(self):
        (diff,) = self._take()
        grad = backend.xp_of(diff).sign(diff, out=diff)
        grad *= self._scale(diff.size, diff.dtype)
        return grad


class HuberLoss(Loss):
    """Huber loss: quadratic near zero, linear beyond ``delta`` (``delta > 0``).

    Per element, with ``d = pred - target``: ``0.5 * d**2`` if ``|d| < delta``, else
    ``delta * (|d| - 0.5 * delta)``. Gradient: ``clip(d, -delta, delta) / n``.
    Shape: ``pred`` and ``target`` of the same shape; no broadcasting.
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = _check_number(self.name, "delta", delta, 0.0, low_inclusive=False)

    def forward(self, pred, target):
        pred = self._pred(pred)
        diff = pred - self._same_shape_target(target, pred)
        self._save(diff)
        delta, half = diff.dtype.type(self.delta), diff.dtype.type(0.5)
        xp = backend.xp_of(diff)
        absolute = xp.abs(diff)
        quadratic = xp.minimum(absolute, delta)  # |d| below delta, delta above
        # 0.5*q^2 + delta*(|d| - q) is 0.5*d^2 below delta and delta*(|d| - 0.5*delta) above
        per_element = half * quadratic * quadratic + delta * (absolute - quadratic)
        return self._result(per_element.sum() * self._scale(diff.size, diff.dtype))

    def backward(self):
        (diff,) = self._take()
        delta = diff.dtype.type(self.delta)
        grad = backend.xp_of(diff).clip(diff, -delta, delta, out=diff)
        grad *= self._scale(diff.size, diff.dtype)
        return grad

    def get_config(self):
        return {"reduction": self.reduction, "delta": self.delta}


# --- classification ----------------------------------------------------------------------------------
class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits, fused and numerically stable (as ``torch.nn.CrossEntropyLoss``).

    Shape: ``pred`` = logits ``(batch, classes)``; ``target`` = either class labels ``(batch,)``
    (integers in ``[0, classes)``; floats with integral values such as 3.0 are accepted) or class
    probabilities / one-hot rows ``(batch, classes)``.

    With ``log p = z - logsumexp(z)`` (computed as ``(z - max) - log(sum(exp(z - max)))``, so logits of
    +-1e4 are fine) the loss per sample is ``-sum_c t_c log p_c``, where ``t`` is the one-hot label or the
    given probabilities, mixed with the uniform distribution by ``label_smoothing`` (``eps``):
    ``t = (1 - eps) * t + eps / classes``. "mean" divides by the batch size.

    Gradient: ``(softmax(z) * sum_c t_c - t) / batch``, i.e. ``(softmax - t) / batch`` when the targets
    sum to one; no division by a probability anywhere. Integer labels never build a one-hot array.

    Example (2 samples, 3 classes)::

        CrossEntropyLoss()(np.array([[0., 0., 0.], [2., 0., 0.]]), np.array([0, 0]))
        # = (log 3 + log(e^2 + 2) - 2) / 2
    """

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.label_smoothing = _check_number(self.name, "label_smoothing", label_smoothing, 0.0, True, 1.0)

    def forward(self, pred, target):
        logits = self._pred(pred)
        if logits.ndim != 2:
            hint = " (for a single sample use pred.reshape(1, -1))" if logits.ndim == 1 else ""
            raise ValueError(f"{self.name}: expected logits pred of shape (batch, classes), "
                             f"got {tuple(logits.shape)}{hint}")
        target = self._target(target, logits)
        xp, dtype = backend.xp_of(logits), logits.dtype
        n, classes = logits.shape
        eps = dtype.type(self.label_smoothing)
        if target.ndim == 1 and (backend.is_gpu_array(logits) or cpu_kernels.elementwise_ready(logits)):
            return self._forward_fused(logits, self._labels(target, classes))

        shifted = logits - logits.max(axis=1, keepdims=True)  # <= 0: exp cannot overflow
        if target.ndim == 1:
            labels = self._labels(target, classes)
            rows = xp.arange(n)
            # -log p_y = log(sum exp(shifted)) - shifted_y; gather (and sum, for smoothing) before exp
            picked = shifted[rows, labels]
            shifted_sum = shifted.sum(axis=1) if self.label_smoothing else None
            probs = xp.exp(shifted, out=shifted)
            sums = probs.sum(axis=1, keepdims=True)
            probs /= sums
            log_sums = xp.log(sums[:, 0])
            # per sample: (1-eps)(log_sum - z_y) + eps/C * sum_c (log_sum - z_c)
            total = (log_sums - picked).sum()
            if self.label_smoothing:
                total = (dtype.type(1) - eps) * total + eps / dtype.type(classes) * (
                    dtype.type(classes) * log_sums - shifted_sum).sum()
            self._save(probs, labels, rows, None)
        else:
            if tuple(target.shape) != tuple(logits.shape):
                hint = ""
                if target.shape[1:] == (1,):
                    hint = " (for class labels pass a 1-D array: target.ravel())"
                raise ValueError(
                    f"{self.name}: probability targets must have the same shape as pred "
                    f"{tuple(logits.shape)}, got {tuple(target.shape)}{hint}"
                )
            target = target.astype(dtype, copy=False)
            if self.label_smoothing:  # new arrays: the caller's target is left alone
                target = target * (dtype.type(1) - eps) + eps / dtype.type(classes)
            probs = xp.exp(shifted)
            sums = probs.sum(axis=1, keepdims=True)
            probs /= sums
            shifted -= xp.log(sums)  # now log-softmax
            total = -(target * shifted).sum()
            self._save(probs, None, None, target)
        return self._result(total * self._scale(n, dtype))

    def _forward_fused(self, logits, labels):
        """The same loss and gradient with class labels, in one kernel: CUDA on the GPU
        (``ownnet.backend.cuda.kernels``), compiled on the CPU (``ownnet.backend.cpu_kernels``,
        ``ownnet[fast]``)."""
        scale = self._scale(logits.shape[0], logits.dtype)
        kernels = backend.fused_kernels(logits)
        row_loss, grad = kernels.softmax_cross_entropy(logits, labels, self.label_smoothing, scale)
        self._save(grad, None, None, None)
        return self._result(row_loss.sum() * scale)

    def backward(self):
        probs, labels, rows, target = self._take()
        if labels is None and target is None:  # the fused kernel computed the gradient in forward
            return probs
        grad = probs  # the saved softmax, updated in place
        dtype = grad.dtype
        if target is None:
            if self.label_smoothing:
                grad -= dtype.type(self.label_smoothing) / dtype.type(grad.shape[1])
            grad[rows, labels] -= dtype.type(1) - dtype.type(self.label_smoothing)
        else:
            grad *= target.sum(axis=1, keepdims=True)  # 1 for true distributions
            grad -= target
        grad *= self._scale(grad.shape[0], dtype)
        return grad

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

    def get_config(self):
        return {"reduction": self.reduction, "label_smoothing": self.label_smoothing}


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits (the logistic loss), fused with the sigmoid and stable.

    Shape: ``pred`` (logits) and ``target`` of the same shape, e.g. ``(batch,)`` or ``(batch, 1)``;
    targets in ``[0, 1]`` (0/1 labels or probabilities).

    Per element, with ``x`` the logit and ``y`` the target:
    ``-(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) = max(x, 0) - x*y + log(1 + exp(-|x|))``,
    finite for ``|x| = 1e4``. Gradient: ``(sigmoid(x) - y) / n``.
    """

    def forward(self, pred, target):
        logits = self._pred(pred)
        target = self._same_shape_target(target, logits)
        self._check_unit_interval(target, "targets")
        xp = backend.xp_of(logits)
        exp_neg_abs = xp.exp(-xp.abs(logits))  # in (0, 1]: never overflows
        per_element = xp.maximum(logits, logits.dtype.type(0)) - logits * target + xp.log1p(exp_neg_abs)
        self._save(logits, target, exp_neg_abs)
        return self._result(per_element.sum() * self._scale(logits.size, logits.dtype))

    def backward(self):
        logits, target, exp_neg_abs = self._take()
        xp = backend.xp_of(logits)
        # sigmoid(x) = 1 / (1 + e^-|x|) for x >= 0 and e^-|x| / (1 + e^-|x|) for x < 0
        inverse = exp_neg_abs + exp_neg_abs.dtype.type(1)
        xp.reciprocal(inverse, out=inverse)
        grad = xp.where(logits >= 0, inverse, exp_neg_abs * inverse)
        grad -= target
        grad *= self._scale(grad.size, grad.dtype)
        return grad


class BCELoss(Loss):
    """Binary cross-entropy on probabilities (the output of a ``Sigmoid``).

    Shape: ``pred`` (probabilities in ``[0, 1]``) and ``target`` (in ``[0, 1]``) of the same shape.
    Per element: ``-(y log p + (1 - y) log(1 - p))``. As in PyTorch, each log is clamped at -100, so
    ``p = 0`` or ``p = 1`` give a large finite loss instead of inf, and the gradient
    ``(p - y) / max(p (1 - p), 1e-12) / n`` divides by at least 1e-12.

    Prefer ``BCEWithLogitsLoss`` on logits: it is exact where this one saturates.
    """

    _LOG_FLOOR = -100.0
    _EPSILON = 9.999999960041972e-13  # PyTorch's 1e-12, stored as a float32

    def forward(self, pred, target):
        probs = self._pred(pred)
        self._check_unit_interval(probs, "pred (probabilities)")
        target = self._same_shape_target(target, probs)
        self._check_unit_interval(target, "targets")
        xp, dtype = backend.xp_of(probs), probs.dtype
        floor, one = dtype.type(self._LOG_FLOOR), dtype.type(1)
        with np.errstate(divide="ignore"):  # log(0) = -inf, then clamped (CuPy never warns)
            log_p = xp.maximum(xp.log(probs), floor)
            log_1mp = xp.maximum(xp.log1p(-probs), floor)
        per_element = -(target * log_p + (one - target) * log_1mp)
        self._save(probs, target)
        return self._result(per_element.sum() * self._scale(probs.size, dtype))

    def backward(self):
        probs, target = self._take()
        dtype = probs.dtype
        denominator = backend.xp_of(probs).maximum(probs * (dtype.type(1) - probs), dtype.type(self._EPSILON))
        grad = probs - target
        grad /= denominator
        grad *= self._scale(grad.size, dtype)
        return grad
