"""Classification losses on logits (``CrossEntropyLoss``, ``BCEWithLogitsLoss``), on log-probabilities
(``NLLLoss``) and on probabilities (``BCELoss``)."""

import numpy as np

from ownnet import backend
from ownnet.backend.ops import ops_for
from ownnet.nn.losses.base import DoubleSoftmaxWarning, Loss, check_number

ROW_SUM_TOLERANCE = 1e-3
"""How far from 1 a row's sum may be for the row to count as a probability distribution (float32
rounding of a softmax is far below this; logits almost never sum to one by chance)."""


def rows_are_probabilities(pred):
    """True if every row of ``pred`` (batch, classes), with at least 2 classes, lies in [0, 1] and sums
    to 1: what a ``Softmax`` layer gives (read once, on the first batch)."""
    if pred.ndim != 2 or pred.shape[1] < 2:
        return False
    xp = backend.xp_of(pred)
    in_unit_interval = float(pred.min()) >= 0.0 and float(pred.max()) <= 1.0
    return in_unit_interval and float(xp.abs(pred.sum(axis=1) - 1).max()) <= ROW_SUM_TOLERANCE


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

    input_warning = DoubleSoftmaxWarning

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
        if not self._input_checked:
            self._check_first_input(logits)
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

    def _input_problem(self, logits):
        if rows_are_probabilities(logits):
            return ("every row of pred lies in [0, 1] and sums to 1: these look like probabilities, but "
                    "CrossEntropyLoss expects logits (raw scores) and applies softmax itself, so softmax "
                    "would be applied twice (the loss and its gradient are then wrong, and training slows). "
                    "Remove the final Softmax layer; or keep the lesson's two steps in their stable form: "
                    "end the model with LogSoftmax() and use NLLLoss()")
        return None

    def get_config(self):
        return {"reduction": self.reduction, "label_smoothing": self.label_smoothing}


class NLLLoss(Loss):
    """Negative log-likelihood of log-probabilities (the output of ``LogSoftmax``), as ``torch.nn.NLLLoss``.

    The lesson's two steps, softmax then cross-entropy, in a stable form for teaching:
    ``NLLLoss()(LogSoftmax()(z), y)`` equals ``CrossEntropyLoss()(z, y)``. The lesson's second step
    computes ``-log p_y`` from probabilities ``p`` and divides by ``p`` in its backward, which breaks
    when ``p`` rounds to 0; here the first step hands over ``log p`` (computed without taking the log
    of a probability), and this loss only picks it: no log, no division, no clipping.
    ``CrossEntropyLoss`` on logits, one fused step, stays the one to train with.

    Shape: ``pred`` = log-probabilities ``(batch, classes)``; ``target`` = class labels ``(batch,)``
    (integers in ``[0, classes)``; integral floats such as 3.0 are accepted).

    Loss: ``-(1/batch) sum_i pred[i, y_i]`` ("mean"), without the ``1/batch`` for "sum".
    Gradient: ``-1/batch`` at ``(i, y_i)``, 0 elsewhere; through ``LogSoftmax`` it becomes
    ``(softmax(z) - onehot(y)) / batch``, the fused loss's gradient.

    Example (2 samples, 3 classes)::

        NLLLoss()(np.log([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]]), np.array([1, 0]))
        # = -(log 0.5 + log 0.9) / 2
    """

    def forward(self, pred, target):
        log_probs = self._pred(pred)
        if log_probs.ndim != 2:
            raise ValueError(f"{self.name}: expected log-probabilities pred of shape (batch, classes), "
                             f"got {tuple(log_probs.shape)}")
        target = self._target(target, log_probs)
        if target.ndim != 1:
            raise ValueError(f"{self.name}: expected class labels of shape (batch,), got "
                             f"{tuple(target.shape)} (for probability targets: CrossEntropyLoss on logits)")
        if not self._input_checked:
            self._check_first_input(log_probs)
        n, classes = log_probs.shape
        labels = self._labels(target, classes)
        rows = backend.xp_of(log_probs).arange(n)
        scale = self._scale(n, log_probs.dtype)
        self._save(log_probs.shape, log_probs.dtype, rows, labels, scale)
        return self._result(-log_probs[rows, labels].sum() * scale)

    def backward(self):
        shape, dtype, rows, labels, scale = self._take()
        grad = backend.xp_of(rows).zeros(shape, dtype=dtype)
        grad[rows, labels] = -scale
        return grad

    def _input_problem(self, log_probs):
        probabilities = backend.xp_of(log_probs).exp(log_probs)
        if rows_are_probabilities(probabilities):
            return None
        if rows_are_probabilities(log_probs):
            return ("every row of pred lies in [0, 1] and sums to 1: these are probabilities, but "
                    "NLLLoss expects their logarithms; end the model with LogSoftmax(), not Softmax()")
        return ("the rows of pred are not log-probabilities (exp(pred) does not sum to 1 per row); "
                "NLLLoss expects the output of LogSoftmax(); for raw scores (logits) use CrossEntropyLoss")


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
