"""Regression losses: ``MSELoss``, ``L1Loss``, ``HuberLoss`` (``pred`` and ``target`` of one shape)."""

from ownnet import backend
from ownnet.nn.losses.base import Loss, check_number


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
        self.delta = check_number(self.name, "delta", delta, 0.0, low_inclusive=False)

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
