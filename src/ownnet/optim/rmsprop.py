"""``RMSProp`` (alias ``RMSprop``), with optional momentum, centring and L2 weight decay."""

from ownnet.optim.arguments import check_flag, check_fraction, check_non_negative, check_positive
from ownnet.optim.optimizer import Optimizer


class RMSProp(Optimizer):
    """RMSProp (Hinton, 2012), with optional momentum, centring and L2 weight decay.

    With g = grad + weight_decay * data, at each step::

        s = alpha * s + (1 - alpha) * g**2
        a = alpha * a + (1 - alpha) * g                  (centered)
        denominator = sqrt(s - a**2) + eps  if centered
                      sqrt(s) + eps         otherwise
        b = momentum * b + g / denominator;  data -= lr * b     (momentum > 0)
        data -= lr * g / denominator                            (otherwise)

    Defaults are PyTorch's (``torch.optim.RMSprop``: lr=1e-2, alpha=0.99). ``RMSprop`` is an alias.
    The rule runs as ``ops.rmsprop_update`` of the parameters' device (the NumPy formula in
    ``ownnet.backend.ops.numpy_ops``; no kernel of its own).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)

    def _check_hyperparameters(self, lr, alpha, eps, weight_decay, momentum, centered):
        owner = type(self).__name__
        return {
            "lr": check_positive(owner, "lr", lr),
            "alpha": check_fraction(owner, "alpha", alpha),
            "eps": check_positive(owner, "eps", eps),
            "weight_decay": check_non_negative(owner, "weight_decay", weight_decay),
            "momentum": check_fraction(owner, "momentum", momentum),
            "centered": check_flag(owner, "centered", centered),
        }

    def _buffer_names(self, hyperparameters):
        return (["square_avg"] + (["momentum_buffer"] if hyperparameters["momentum"] else [])
                + (["grad_avg"] if hyperparameters["centered"] else []))

    def _update(self, data, grad, state, work, first):
        self.ops.rmsprop_update(data, grad, state["square_avg"], state.get("grad_avg"),
                                state.get("momentum_buffer"), work, self.lr, self.alpha, self.eps,
                                self.weight_decay, self.momentum)


RMSprop = RMSProp
"""PyTorch's spelling."""
