"""``gradcheck``: compare a module's (or a loss's) backward pass with central finite differences.

Checks run in float64 on a deep copy of the module (float32 cannot verify a gradient: its relative
errors are around 1e-2). For a module, the scalar objective is ``L = sum(forward(x) * R)`` with ``R``
a fixed random array, so ``backward(R)`` must return dL/dx and fill every ``parameter.grad``; each
entry of ``x`` and of every parameter is then nudged by ``+-eps`` and
``(L(+eps) - L(-eps)) / (2 eps)`` compared with the analytic gradient.

Example::

    result = gradcheck(Sequential(Linear(3, 4), Tanh(), Linear(4, 2)), x)
    assert result, result       # prints the worst entry when it fails
"""

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from ownnet import backend
from ownnet.nn.init import seeded
from ownnet.nn.module import Module


@dataclass
class GradcheckResult:
    """The outcome of ``gradcheck``: true when every gradient entry agrees.

    ``max_rel_error`` is the largest, over all checked entries, of

        |a - n| / (max(|a|, |n|) + atol / rtol)

    with ``a`` the analytic and ``n`` the numerical gradient: a relative error for entries larger than
    ``atol / rtol`` (1e-2 with the defaults), an absolute error (times rtol / atol) for smaller ones,
    where the finite differences themselves are only accurate in absolute terms. ``ok`` means
    ``max_rel_error <= rtol``, that is ``|a - n| <= atol + rtol * max(|a|, |n|)`` for every entry.
    ``where`` names the worst entry (``"input[3, 1]"``, or a parameter's qualified name, index and
    owner); ``details`` has one line per checked array.
    """

    ok: bool
    max_rel_error: float
    where: str
    details: list = field(default_factory=list)

    def __bool__(self):
        return self.ok

    def __str__(self):
        verdict = "passed" if self.ok else "FAILED"
        lines = [f"gradcheck {verdict}: max relative error {self.max_rel_error:.3g} at {self.where}"]
        return "\n".join(lines + ["  " + line for line in self.details])


def gradcheck(obj, x, target=None, eps=1e-6, atol=1e-8, rtol=1e-6, seed=0):
    """Check ``obj``'s backward pass against central finite differences, in float64.

    ``obj`` is a ``Module`` when ``target`` is None: every entry of the input gradient and of every
    parameter's gradient is checked, with the objective ``sum(forward(x) * R)``. With a ``target``,
    ``obj`` is a loss (``forward(pred, target) -> float``, ``backward() -> dL/dpred``) and the
    gradient with respect to ``pred = x`` is checked. ``obj`` itself is not modified.

    Stochastic layers (Dropout in training mode) draw the same mask at every forward: the global
    generator is reseeded with ``seed`` before each forward pass and restored afterwards.
    Returns a ``GradcheckResult`` (true when the check passes; see it for the error definition).
    """
    if not eps > 0 or not rtol > 0 or not atol >= 0:
        raise ValueError(f"gradcheck: expected eps > 0, rtol > 0 and atol >= 0, got {eps}, {rtol}, {atol}")
    if not callable(getattr(obj, "backward", None)):
        raise TypeError(f"gradcheck: {type(obj).__name__} has no backward method to check")
    device = obj.device if isinstance(obj, Module) else backend.device_of(x)
    x = backend.to_device(x, device).astype(np.float64, copy=True)  # perturbed in place below
    if target is None:
        return _check_module(obj, x, eps, atol, rtol, seed)
    return _check_loss(obj, x, target, eps, atol, rtol, seed)


def _check_module(module, x, eps, atol, rtol, seed):
    if not isinstance(module, Module):
        raise TypeError(
            f"gradcheck: expected a Module (or a loss and a target), got {type(module).__name__}"
        )
    missing = [m.label for m in module.modules() if type(m).backward is Module.backward]
    if missing:
        raise TypeError(f"gradcheck: {', '.join(missing)} does not implement backward")
    module = copy.deepcopy(module).to("float64")
    for m in module.modules():
        if getattr(m, "needs_input_grad", True) is False:
            m.needs_input_grad = True  # the input gradient is part of the check
    module.zero_grad()
    with seeded(seed):
        out = module.forward(x)
    weights = backend.to_device(np.random.default_rng(seed).standard_normal(out.shape), module.device)
    grad_x = module.backward(weights.copy())  # dL/dx for L = sum(out * weights)
    if grad_x is not None:
        grad_x = grad_x.copy()  # x is perturbed in place below: keep no view of it

    def objective():
        with seeded(seed):
            return float((module.forward(x) * weights).sum())

    checks = [("input", "", x, grad_x)]
    owners = _parameter_owners(module)
    for name, parameter in module.named_parameters():
        owner = f" ({parameter.name} of {owners[id(parameter)]})"
        checks.append((name, owner, parameter.data, parameter.grad.copy()))
    return _compare(checks, objective, eps, atol, rtol)


def _check_loss(loss, pred, target, eps, atol, rtol, seed):
    loss = copy.deepcopy(loss)
    if callable(getattr(loss, "to", None)):
        loss.to("float64")
    target = backend.as_device_array(target, "target", backend.device_of(pred))
    if target.dtype.kind == "f":
        target = target.astype(np.float64)

    def objective():
        with seeded(seed):
            return float(loss.forward(pred, target))

    objective()
    grad_pred = loss.backward()
    return _compare([("pred", "", pred, grad_pred)], objective, eps, atol, rtol)


def _compare(checks, objective, eps, atol, rtol):
    """Numerical gradient of ``objective`` for every entry of each array, compared with the analytic one.

    ``checks`` holds ``(name, description, array, analytic gradient)``; ``array`` is perturbed in place.
    """
    worst, where, details = 0.0, "nothing (no entries to check)", []
    for name, description, array, analytic in checks:
        if analytic is None:
            details.append(f"{name}{description}: not checked (backward returned None)")
            continue
        xp = backend.xp_of(array)
        analytic = xp.asarray(analytic)
        if analytic.shape != array.shape:
            message = (f"{name}{description}: gradient of shape {tuple(analytic.shape)}, "
                       f"expected {tuple(array.shape)}")
            details.append(message)
            worst, where = math.inf, message
            continue
        if array.size == 0:
            continue
        numeric = xp.zeros_like(array)
        for index in np.ndindex(array.shape):
            original = float(array[index])
            array[index] = original + eps
            plus = objective()
            array[index] = original - eps
            minus = objective()
            array[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        errors = abs(analytic - numeric) / (xp.maximum(abs(analytic), abs(numeric)) + atol / rtol)
        errors[xp.isnan(errors)] = math.inf  # a NaN gradient is as wrong as can be
        index = np.unravel_index(int(errors.argmax()), errors.shape)
        error = float(errors[index])
        position = f"[{', '.join(str(int(i)) for i in index)}]"
        details.append(
            f"{name}{description}: max relative error {error:.3g} at {position} "
            f"(analytic {float(analytic[index]):.10g}, numerical {float(numeric[index]):.10g})"
        )
        if error > worst:
            worst, where = error, f"{name}{position}{description}"
    return GradcheckResult(ok=bool(worst <= rtol), max_rel_error=worst, where=where, details=details)


def _parameter_owners(module):
    """``{id(parameter): label of the module that declared it}``."""
    return {id(p): m.label for m in module.modules() for p in m._parameters.values()}
