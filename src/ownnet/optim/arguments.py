"""The checks of the optimizers' arguments (and of the schedules'): each returns the value, converted,
or raises a ``TypeError`` / ``ValueError`` that names the optimizer, the argument and what it expects."""

import math
from numbers import Real

from ownnet.nn.module import Parameter


def check_real(owner, name, value, expected, is_valid):
    """``value`` as a float, if it is a finite real number for which ``is_valid`` holds."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: {name} must be a real number {expected}, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and is_valid(value)):
        raise ValueError(f"{owner}: {name} must be {expected}, got {value!r}")
    return value


def check_positive(owner, name, value):
    return check_real(owner, name, value, "> 0", lambda v: v > 0)


def check_non_negative(owner, name, value):
    return check_real(owner, name, value, ">= 0", lambda v: v >= 0)


def check_fraction(owner, name, value):
    return check_real(owner, name, value, "in [0, 1)", lambda v: 0 <= v < 1)


def check_flag(owner, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return value


def check_betas(owner, betas):
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    return (check_fraction(owner, "betas[0]", betas[0]), check_fraction(owner, "betas[1]", betas[1]))


def check_params(owner, params):
    """``params`` as a non-empty list of distinct floating-point ``Parameter`` objects."""
    if isinstance(params, Parameter) or not hasattr(params, "__iter__") or isinstance(params, dict):
        raise TypeError(
            f"{owner}: params must be a list of Parameter (model.parameters()), got {type(params).__name__}"
        )
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: params must be a non-empty list of Parameter, got an empty list")
    seen = set()
    for index, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{owner}: params[{index}] must be a Parameter, got {type(p).__name__}")
        if p.data.dtype.kind != "f":
            raise TypeError(f"{owner}: params[{index}] must hold floating-point data, got {p.data.dtype}")
        if id(p) in seen:
            raise ValueError(f"{owner}: params[{index}] ({p!r}) appears more than once in params")
        seen.add(id(p))
    return params
