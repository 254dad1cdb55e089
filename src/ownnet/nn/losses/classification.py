"""Classification losses on logits (``CrossEntropyLoss``, ``BCEWithLogitsLoss``) and on
probabilities (``BCELoss``)."""

import numpy as np

from ownnet import backend
from ownnet.backend.ops import ops_for
from ownnet.nn.losses.base import Loss, check_number


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
    sum to one; no division by a probability anywhere. Integer labels never build a one-hot array: with
    them, loss and gradient are one op of the logits' device (``ops.softmax_cross_entropy``, the
    NumPy formula in ``ownnet.backend.ops.numpy_ops``, one compiled or CUDA kernel where there is one).

    Example (2 samples, 3 classes)::

        CrossEntropyLoss()(np.array([[0., 0., 0.], [2., 0., 0.]]), np.array([0, 0]))
        # = (log 3 + log(e^2 + 2) - 2) / 2
    """

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.label_smoothing = check_number(self.name, "label_smoothing", label_smoothing, 0.0, True, 1.0)

    def forward(self, pred, target):
        logits = self._pred(pred)
        if logits.ndim != 2:
            hint = " (for a single sample use pred.reshape(1, -1))" if logits.ndim == 1 else ""
            raise ValueError(f"{self.name}: expected logits pred of shape (batch, classes), "
                             f"got {tuple(logits.shape)}{hint}")
        target = self._target(target, logits)
        n, classes = logits.shape
        scale = self._scale(n, logits.dtype)
        if target.ndim == 1:  # class labels: loss and gradient in one op of the logits' device
            labels = self._labels(target, classes)
            loss, grad = ops_for(logits).softmax_cross_entropy(logits, labels, self.label_smoothing, scale)
        else:
            loss, grad = self._soft_targets(logits, target, scale)
        self._save(grad)
        return self._result(loss)

    def _soft_targets(self, logits, target, scale):
        """``(loss, dL/dlogits)`` for class probabilities ``(batch, classes)``, both times ``scale``:
        loss = -sum_c t_c log_softmax(z)_c and dL/dz = softmax(z) * sum_c t_c - t."""
        if tuple(target.shape) != tuple(logits.shape):
            hint = ""
            if target.shape[1:] == (1,):
                hint = " (for class labels pass a 1-D array: target.ravel())"
            raise ValueError(
                f"{self.name}: probability targets must have the same shape as pred "
                f"{tuple(logits.shape)}, got {tuple(target.shape)}{hint}"
            )
        xp, dtype = backend.xp_of(logits), logits.dtype
        classes = logits.shape[1]
        eps = dtype.type(self.label_smoothing)
        target = target.astype(dtype, copy=False)
        if self.label_smoothing:  # new arrays: the caller's target is left alone
            target = target * (dtype.type(1) - eps) + eps / dtype.type(classes)
        shifted = logits - logits.max(axis=1, keepdims=True)  # <= 0: exp cannot overflow
        probs = xp.exp(shifted)
        sums = probs.sum(axis=1, keepdims=True)
        probs /= sums
        shifted -= xp.log(sums)  # now log-softmax
        total = -(target * shifted).sum()
        grad = probs  # the softmax, updated in place
        grad *= target.sum(axis=1, keepdims=True)  # 1 for true distributions
        grad -= target
        grad *= scale
        return total * scale, grad

    def backward(self):
        (grad,) = self._take()  # forward computed it
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
