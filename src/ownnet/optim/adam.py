"""``Adam`` (with optional AMSGrad and L2 weight decay) and ``AdamW`` (decoupled weight decay)."""

from ownnet.optim.arguments import check_betas, check_flag, check_non_negative, check_positive
from ownnet.optim.optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with optional AMSGrad and L2 weight decay.

    With g = grad + weight_decay * data, at step t::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                       (amsgrad; then v_max replaces v below)
        data -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Defaults are PyTorch's (``torch.optim.Adam``). The rule runs as ``ops.adam_update`` of the
    parameters' device (the NumPy formula in ``ownnet.backend.ops.numpy_ops``).
    """

    decoupled_weight_decay = False
    """Whether ``weight_decay`` shrinks the data (AdamW) instead of adding to the gradient (L2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def _check_hyperparameters(self, lr, betas, eps, weight_decay, amsgrad):
        owner = type(self).__name__
        return {
            "lr": check_positive(owner, "lr", lr),
            "betas": check_betas(owner, betas),
            "eps": check_positive(owner, "eps", eps),
            "weight_decay": check_non_negative(owner, "weight_decay", weight_decay),
            "amsgrad": check_flag(owner, "amsgrad", amsgrad),
        }

    def _buffer_names(self, hyperparameters):
        return ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if hyperparameters["amsgrad"] else [])

    def _update(self, data, grad, state, work, first):
        self.ops.adam_update(data, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                             work, self.betas, self.eps, self.lr, self.step_count, self.weight_decay,
                             self.decoupled_weight_decay)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    As ``Adam`` with g = grad, after first shrinking the data: ``data *= 1 - lr * weight_decay``.
    Defaults are PyTorch's (``torch.optim.AdamW``: weight_decay=1e-2).
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
