"""``clip_grad_norm``: scale all gradients together so that their joint norm is at most a bound."""

import math

from ownnet.backend import xp_of
from ownnet.nn.module import Parameter
from ownnet.optim.arguments import check_non_negative, check_positive


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together, in place, so that their joint norm is at most ``max_norm``.

    ``total = (sum over parameters of sum |grad|**p) ** (1/p)`` (``max |grad|`` for p = inf), as if
    all gradients were one vector; every grad is multiplied by ``min(1, max_norm / (total + 1e-6))``.
    Returns ``total`` (before clipping) as a float. As ``torch.nn.utils.clip_grad_norm_``.
    """
    owner = "clip_grad_norm"
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    parameters = list(parameters)
    for index, p in enumerate(parameters):
        if not isinstance(p, Parameter):
            raise TypeError(f"{owner}: parameters[{index}] must be a Parameter, got {type(p).__name__}")
    max_norm = check_non_negative(owner, "max_norm", max_norm)
    if isinstance(norm_type, str) and norm_type.lower() == "inf":
        norm_type = math.inf
    if not (norm_type == math.inf):
        norm_type = check_positive(owner, "norm_type", norm_type)
    if not parameters:
        return 0.0
    xp = xp_of(parameters[0].data)
    if norm_type == math.inf:
        largest = [float(g.max()) if g.size else 0.0 for g in (p.grad for p in parameters)]
        smallest = [float(g.min()) if g.size else 0.0 for g in (p.grad for p in parameters)]
        total = max(max(largest), -min(smallest))
        if any(math.isnan(x) for x in largest):
            total = math.nan
    elif norm_type == 2:
        total = math.sqrt(sum(float(xp.vdot(p.grad, p.grad)) for p in parameters))
    else:
        total = sum(float(xp.sum(xp.abs(p.grad) ** norm_type)) for p in parameters) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise ValueError(
            f"{owner}: the total gradient norm is {total}, not finite; it cannot be clipped "
            "(error_if_nonfinite=False scales by it anyway)"
        )
    coefficient = max_norm / (total + 1e-6)
    if not coefficient >= 1:
        for p in parameters:
            p.grad *= coefficient
    return total
