"""``SGD``: stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay."""

from ownnet.optim.arguments import check_flag, check_fraction, check_non_negative, check_positive, check_real
from ownnet.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    With g = grad + weight_decay * data, at step t::

        b = g                                     (t = 1)
        b = momentum * b + (1 - dampening) * g    (t > 1)
        direction = g + momentum * b   if nesterov
                    b                  if momentum > 0
                    g                  otherwise
        data -= lr * direction

    Defaults are PyTorch's (``torch.optim.SGD``: lr=1e-3). The rule runs as ``ops.sgd_update`` of the
    parameters' device (the NumPy formula in ``ownnet.backend.ops.numpy_ops``).

    Example::

        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        for x, y in batches:
            optimizer.zero_grad()
            ...                           # forward, loss, backward: fills every parameter.grad
            optimizer.step()
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)

    def _check_hyperparameters(self, lr, momentum, dampening, weight_decay, nesterov):
        owner = type(self).__name__
        checked = {
            "lr": check_positive(owner, "lr", lr),
            "momentum": check_fraction(owner, "momentum", momentum),
            "dampening": check_real(owner, "dampening", dampening, "in [0, 1]", lambda v: 0 <= v <= 1),
            "weight_decay": check_non_negative(owner, "weight_decay", weight_decay),
            "nesterov": check_flag(owner, "nesterov", nesterov),
        }
        if nesterov and (checked["momentum"] == 0 or checked["dampening"] != 0):
            raise ValueError(
                f"{owner}: nesterov=True requires momentum > 0 and dampening = 0, "
                f"got momentum={momentum!r} and dampening={dampening!r}"
            )
        return checked

    def _buffer_names(self, hyperparameters):
        return ["momentum_buffer"] if hyperparameters["momentum"] else []

    def _update(self, data, grad, state, work, first):
        self.ops.sgd_update(data, grad, state.get("momentum_buffer"), work, self.lr, self.weight_decay,
                            self.momentum, self.dampening, self.nesterov, first)
