"""Optimizers (``SGD``, ``Adam``, ``AdamW``, ``RMSProp``) and ``clip_grad_norm``.

An optimizer holds a model's parameters; ``step()`` moves every ``parameter.data`` against its
``parameter.grad``. The update rules, arguments and defaults are PyTorch's (``torch.optim``), so a
trajectory can be checked against it step by step.

The update is the training hot path: it works in place, in each parameter's dtype (a float32
parameter keeps float32 data and state), in arrays allocated on the first step (the optimizer state
and one scratch array per parameter, plus one for ``grad + weight_decay * data`` where the weight
decay is folded into the gradient), so later steps allocate nothing. ``parameter.grad`` is only read.

Example::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        optimizer.zero_grad()
        ...                           # forward, loss, backward: fills every parameter.grad
        clip_grad_norm(model.parameters(), max_norm=1.0)   # optional
        optimizer.step()
"""

import math
from numbers import Integral, Real

from ownnet import backend
from ownnet.nn.module import Parameter

# --- argument checks ---------------------------------------------------------------------------


def _real(owner, name, value, expected, is_valid):
    """``value`` as a float, if it is a finite real number for which ``is_valid`` holds."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: {name} must be a real number {expected}, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and is_valid(value)):
        raise ValueError(f"{owner}: {name} must be {expected}, got {value!r}")
    return value


def _positive(owner, name, value):
    return _real(owner, name, value, "> 0", lambda v: v > 0)


def _non_negative(owner, name, value):
    return _real(owner, name, value, ">= 0", lambda v: v >= 0)


def _fraction(owner, name, value):
    return _real(owner, name, value, "in [0, 1)", lambda v: 0 <= v < 1)


def _flag(owner, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return value


def _betas(owner, betas):
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    return (_fraction(owner, "betas[0]", betas[0]), _fraction(owner, "betas[1]", betas[1]))


def _check_params(owner, params):
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


def _buffer(state, name, like):
    """The state array ``name``, created as zeros like ``like`` on first use."""
    array = state.get(name)
    if array is None:
        array = state[name] = backend.xp_of(like).zeros_like(like)
    return array


# --- one flat array for all parameters -------------------------------------------------------------


class FlatParameters:
    """The data, the gradients and the optimizer state of several parameters, each as views of one
    flat array, so that one GPU kernel updates every parameter (one launch instead of one each).

    Building it copies the current values in and points every ``parameter.data``, ``parameter.grad``
    and state array at its view. ``intact(states)`` says whether every view is still in place: a model
    moved to another device or dtype, a new grad array, or loaded optimizer state breaks it, and the
    optimizer then builds a new one. ``publish(name, flat)`` adds a state array (made at step 1).
    """

    def __init__(self, params, states):
        first = params[0].data
        xp, dtype = backend.xp_of(first), first.dtype
        self.params, self.states, self.spans = params, states, []
        offset = 0
        for p in params:
            self.spans.append((offset, p.size, p.shape))
            offset += p.size
        self.size = offset
        self.data = self._gather(xp, dtype, [p.data for p in params])
        self.grad = self._gather(xp, dtype, [p.grad for p in params])  # .grad: lazily zeroed ones too
        for p, data, grad in zip(params, self._views(self.data), self._views(self.grad)):
            p.data, p.grad = data, grad
        self.state = {}
        for name in set.intersection(*(set(state) for state in states)):
            self.publish(name, self._gather(xp, dtype, [state[name] for state in states]))

    @staticmethod
    def possible(params):
        """One dtype and one device for all: a flat array can hold them."""
        first = params[0].data
        return all(p.data.dtype == first.dtype and backend.device_of(p.data) == backend.device_of(first)
                   for p in params)

    def _gather(self, xp, dtype, arrays):
        flat = xp.empty(self.size, dtype=dtype)
        for (offset, size, _), array in zip(self.spans, arrays):
            flat[offset:offset + size] = array.ravel()
        return flat

    def _views(self, flat):
        return [flat[offset:offset + size].reshape(shape) for offset, size, shape in self.spans]

    def publish(self, name, flat):
        self.state[name] = flat
        for state, view in zip(self.states, self._views(flat)):
            state[name] = view

    def intact(self, states):
        if states is not self.states:
            return False
        item, data, grad = self.data.itemsize, backend.address(self.data), backend.address(self.grad)
        flats = {name: backend.address(flat) for name, flat in self.state.items()}
        for p, state, (offset, _, shape) in zip(self.params, states, self.spans):
            at = offset * item
            if (p.data.shape != shape or backend.address(p.data) != data + at
                    or backend.address(p._grad) != grad + at or state.keys() != flats.keys()):
                return False
            if any(backend.address(state[name]) != flats[name] + at for name in flats):
                return False
        return True


# --- the base class ----------------------------------------------------------------------------


class Optimizer:
    """Base class: holds the parameters, the hyperparameters and the per-parameter state.

    A subclass lists its constructor arguments in ``_check_hyperparameters`` (which validates and
    returns them), names its state arrays in ``_buffer_names`` and implements ``_update`` for one
    parameter. ``lr`` may be changed between steps (schedules do).

    ``state_dict()`` is ``{"type": "SGD", "hyperparameters": {...JSON...}, "step_count": int,
    "state": {"<parameter index>.<buffer name>": array}}`` (copies of the arrays), a flat dict of
    arrays that a safetensors file can hold.
    """

    _coupled_weight_decay = True
    """``weight_decay`` adds ``weight_decay * data`` to the gradient (L2); AdamW decays the data instead."""

    def __init__(self, params, **hyperparameters):
        self.params = _check_params(type(self).__name__, params)
        self._hyperparameter_names = tuple(hyperparameters)
        for name, value in self._check_hyperparameters(**hyperparameters).items():
            setattr(self, name, value)
        self.step_count = 0
        self.state = [{} for _ in self.params]
        self._scratch = None
        self._decayed_grads = None
        self._device = backend.device_of(self.params[0].data)
        self._flat = None  # FlatParameters, on the GPU

    # --- subclass interface -------------------------------------------------------------------
    def _check_hyperparameters(self, **hyperparameters):
        raise NotImplementedError

    def _buffer_names(self, hyperparameters):
        raise NotImplementedError

    def _update(self, data, grad, state, scratch):
        raise NotImplementedError

    def _fusable(self):
        """Whether ``_fused_update`` has a kernel for these options (else ``_update`` runs, with
        NumPy or CuPy)."""
        return False

    def _fused_update(self, data, grad, state, publish):
        """Update ``data`` in a single kernel of its device: on the GPU all parameters at once (flat
        arrays), on the CPU one parameter (Numba). A state array made here goes to
        ``publish(name, array)``."""
        raise NotImplementedError

    def _compiled_cpu_step(self):
        """The CPU step through the optional Numba kernels (``ownnet.backend.cpu_kernels``), parameter by
        parameter: bitwise the NumPy update, in one pass over memory instead of four or more."""
        from ownnet.backend import cpu_kernels

        if not (self._fusable() and cpu_kernels.available()):
            return False
        arrays = [a for p, state in zip(self.params, self.state) for a in (p.data, p.grad, *state.values())]
        if not all(a.flags.c_contiguous for a in arrays):
            return False
        for p, state in zip(self.params, self.state):
            self._fused_update(p.data, p.grad, state, state.__setitem__)
        return True

    def _fused_step(self):
        """The GPU step: one kernel over the flat arrays of all parameters (see ``FlatParameters``)."""
        if not self._fusable():
            return False
        if self._flat is None or not self._flat.intact(self.state):
            possible = FlatParameters.possible(self.params)
            self._flat = FlatParameters(self.params, self.state) if possible else None
        if self._flat is None:
            return False
        for p in self.params:
            if p._zero_pending:  # zeroed lazily and never written by a backward: zero it now
                p.grad.fill(0)
        flat = self._flat
        self._fused_update(flat.data, flat.grad, flat.state, flat.publish)
        return True

    # --- hyperparameters ----------------------------------------------------------------------
    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        # >= 0 rather than > 0: a schedule may take the learning rate down to 0
        self._lr = _non_negative(type(self).__name__, "lr", value)

    @property
    def hyperparameters(self):
        """The constructor arguments (other than params), JSON-serialisable."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in ((name, getattr(self, name)) for name in self._hyperparameter_names)
        }

    # --- the step -----------------------------------------------------------------------------
    def step(self):
        """Update every parameter from its ``.grad`` (one optimisation step)."""
        device = backend.device_of(self.params[0].data)
        if device != self._device:
            self.to(device)
        self.step_count += 1
        if device == "gpu" and self._fused_step():
            return
        if device == "cpu" and self._compiled_cpu_step():
            return
        if self._scratch is None:
            self._scratch = [backend.xp_of(p.data).empty_like(p.data) for p in self.params]
        for index, p in enumerate(self.params):
            self._update(p.data, self._gradient(index, p), self.state[index], self._scratch[index])

    def to(self, device):
        """Move the optimizer state to ``device`` (``"cpu"`` or ``"gpu"``), where the model now is.
        ``step()`` does it by itself after ``model.to(device)``."""
        device = backend.resolve_device(device)
        self.state = [{name: backend.to_device(array, device) for name, array in state.items()}
                      for state in self.state]
        self._scratch = self._decayed_grads = self._flat = None
        self._device = device
        return self

    def _gradient(self, index, p):
        """``grad + weight_decay * data`` (coupled weight decay, L2), or ``grad`` itself."""
        if not self._coupled_weight_decay or self.weight_decay == 0:
            return p.grad
        if self._decayed_grads is None:
            self._decayed_grads = [backend.xp_of(q.data).empty_like(q.data) for q in self.params]
        out = self._decayed_grads[index]
        backend.xp_of(out).multiply(p.data, self.weight_decay, out=out)
        out += p.grad
        return out

    def zero_grad(self):
        """Set every parameter's ``.grad`` to zero."""
        for p in self.params:
            p.zero_grad()

    # --- state --------------------------------------------------------------------------------
    def state_dict(self):
        """``{"type", "hyperparameters", "step_count", "state"}``; the arrays are copies."""
        return {
            "type": type(self).__name__,
            "hyperparameters": self.hyperparameters,
            "step_count": self.step_count,
            "state": {
                f"{index}.{name}": array.copy()
                for index, state in enumerate(self.state)
                for name, array in state.items()
            },
        }

    def load_state_dict(self, state_dict):
        """Restore hyperparameters, step count and state from ``state_dict()`` output.

        Everything is checked before anything changes; a mismatch (optimizer type, hyperparameter
        names or values, parameter count, buffer names, shapes, dtypes) raises ``ValueError``.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{owner}: expected a dict from state_dict(), got {type(state_dict).__name__}")
        missing = sorted({"type", "hyperparameters", "step_count", "state"} - set(state_dict))
        if missing:
            raise ValueError(f"{owner}: the state dict lacks {missing}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(
                f"{owner}: expected the state of a {type(self).__name__}, got one of a {state_dict['type']!r}"
            )
        hyperparameters = dict(state_dict["hyperparameters"])
        if set(hyperparameters) != set(self._hyperparameter_names):
            raise ValueError(
                f"{owner}: expected hyperparameters {sorted(self._hyperparameter_names)}, "
                f"got {sorted(hyperparameters)}"
            )
        hyperparameters = {k: tuple(v) if isinstance(v, list) else v for k, v in hyperparameters.items()}
        saved_lr = hyperparameters.get("lr")
        try:
            # A schedule may have taken lr down to 0 (the lr setter allows it): check the rest with a
            # stand-in, then check lr itself as the setter does.
            hyperparameters = self._check_hyperparameters(**{**hyperparameters, "lr": 1.0})
            hyperparameters["lr"] = _non_negative(type(self).__name__, "lr", saved_lr)
        except TypeError as error:
            raise ValueError(f"{owner}: {error}") from None
        step_count = state_dict["step_count"]
        if isinstance(step_count, bool) or not isinstance(step_count, Integral) or step_count < 0:
            raise ValueError(f"{owner}: step_count must be an integer >= 0, got {step_count!r}")
        arrays = self._check_arrays(owner, state_dict["state"], hyperparameters, int(step_count))

        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self.step_count = int(step_count)
        self.state = [{} for _ in self.params]
        for (index, name), array in arrays.items():
            p = self.params[index]
            array = backend.to_device(array, backend.device_of(p.data))
            self.state[index][name] = array.astype(p.dtype, copy=True)

    def _check_arrays(self, owner, arrays, hyperparameters, step_count):
        """``{(parameter index, buffer name): array}``, after checking names, shapes and dtypes."""
        if not isinstance(arrays, dict):
            raise ValueError(f"{owner}: 'state' must be a dict of arrays, got {type(arrays).__name__}")
        names = self._buffer_names(hyperparameters)
        count = len(self.params)
        parsed = {}
        for key, array in arrays.items():
            index, _, name = str(key).partition(".")
            if not index.isdigit() or not name:
                raise ValueError(
                    f"{owner}: state keys must be '<parameter index>.<buffer name>', got {key!r}"
                )
            if int(index) >= count:
                raise ValueError(
                    f"{owner}: the state holds buffers for parameter {index}, "
                    f"but this optimizer has {count} parameters"
                )
            parsed[(int(index), name)] = array
        expected = {(index, name) for index in range(count) for name in names}
        if parsed or (step_count > 0 and names):
            if set(parsed) != expected:
                missing = sorted(f"{i}.{n}" for i, n in expected - set(parsed))
                extra = sorted(f"{i}.{n}" for i, n in set(parsed) - expected)
                raise ValueError(
                    f"{owner}: expected buffers {sorted(names)} for each of {count} parameters; "
                    f"missing {missing[:6]}{'...' if len(missing) > 6 else ''}, unexpected {extra[:6]}"
                )
        for (index, name), array in parsed.items():
            p = self.params[index]
            shape, dtype = tuple(getattr(array, "shape", ())), getattr(array, "dtype", None)
            if shape != tuple(p.shape) or dtype != p.dtype:
                raise ValueError(
                    f"{owner}: '{index}.{name}' expected shape {tuple(p.shape)} and dtype {p.dtype} "
                    f"(those of parameter {index}), got {shape} and {dtype}"
                )
        return parsed

    def __repr__(self):
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.hyperparameters.items())
        return f"{type(self).__name__}({arguments})"


# --- the optimizers ----------------------------------------------------------------------------


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    With g = grad + weight_decay * data, at step t::

        b = g                                     (t = 1)
        b = momentum * b + (1 - dampening) * g    (t > 1)
        direction = g + momentum * b   if nesterov
                    b                  if momentum > 0
                    g                  otherwise
        data -= lr * direction

    Defaults are PyTorch's (``torch.optim.SGD``: lr=1e-3).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)

    def _check_hyperparameters(self, lr, momentum, dampening, weight_decay, nesterov):
        owner = type(self).__name__
        checked = {
            "lr": _positive(owner, "lr", lr),
            "momentum": _fraction(owner, "momentum", momentum),
            "dampening": _real(owner, "dampening", dampening, "in [0, 1]", lambda v: 0 <= v <= 1),
            "weight_decay": _non_negative(owner, "weight_decay", weight_decay),
            "nesterov": _flag(owner, "nesterov", nesterov),
        }
        if nesterov and (checked["momentum"] == 0 or checked["dampening"] != 0):
            raise ValueError(
                f"{owner}: nesterov=True requires momentum > 0 and dampening = 0, "
                f"got momentum={momentum!r} and dampening={dampening!r}"
            )
        return checked

    def _buffer_names(self, hyperparameters):
        return ["momentum_buffer"] if hyperparameters["momentum"] else []

    def _fusable(self):
        return True

    def _fused_update(self, data, grad, state, publish):
        sgd_update = backend.fused_kernels(data).sgd_update
        buffer, first = None, False
        if self.momentum:
            buffer = state.get("momentum_buffer")
            first = buffer is None
            if first:
                buffer = backend.xp_of(data).empty_like(data)
                publish("momentum_buffer", buffer)
        sgd_update(data, grad, buffer, self.lr, self.weight_decay, self.momentum, self.dampening,
                   self.nesterov, first)

    def _update(self, data, grad, state, scratch):
        xp = backend.xp_of(data)
        direction = grad
        if self.momentum:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = grad.copy()
            else:
                b *= self.momentum
                if self.dampening:
                    xp.multiply(grad, 1 - self.dampening, out=scratch)
                    b += scratch
                else:
                    b += grad
            direction = b
            if self.nesterov:
                xp.multiply(b, self.momentum, out=scratch)
                scratch += grad
                direction = scratch
        xp.multiply(direction, self.lr, out=scratch)
        data -= scratch


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with optional AMSGrad and L2 weight decay.

    With g = grad + weight_decay * data, at step t::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                       (amsgrad; then v_max replaces v below)
        data -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Defaults are PyTorch's (``torch.optim.Adam``).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def _check_hyperparameters(self, lr, betas, eps, weight_decay, amsgrad):
        owner = type(self).__name__
        return {
            "lr": _positive(owner, "lr", lr),
            "betas": _betas(owner, betas),
            "eps": _positive(owner, "eps", eps),
            "weight_decay": _non_negative(owner, "weight_decay", weight_decay),
            "amsgrad": _flag(owner, "amsgrad", amsgrad),
        }

    def _buffer_names(self, hyperparameters):
        return ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if hyperparameters["amsgrad"] else [])

    def _fusable(self):
        return not self.amsgrad

    def _fused_update(self, data, grad, state, publish):
        adam_update = backend.fused_kernels(data).adam_update
        for name in ("exp_avg", "exp_avg_sq"):
            if name not in state:
                publish(name, backend.xp_of(data).zeros_like(data))
        adam_update(data, grad, state["exp_avg"], state["exp_avg_sq"], self.betas, self.eps, self.lr,
                    self.step_count, self.weight_decay, decoupled=not self._coupled_weight_decay)

    def _update(self, data, grad, state, scratch):
        xp = backend.xp_of(data)
        beta1, beta2 = self.betas
        m, v = _buffer(state, "exp_avg", data), _buffer(state, "exp_avg_sq", data)
        m *= beta1
        xp.multiply(grad, 1 - beta1, out=scratch)
        m += scratch
        v *= beta2
        xp.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        v += scratch
        if self.amsgrad:
            v_max = _buffer(state, "max_exp_avg_sq", data)
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        t = self.step_count
        denominator = xp.sqrt(v, out=scratch)
        denominator /= math.sqrt(1 - beta2**t)
        denominator += self.eps
        step = xp.divide(m, denominator, out=scratch)
        step *= self.lr / (1 - beta1**t)
        data -= step


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    As ``Adam`` with g = grad, after first shrinking the data: ``data *= 1 - lr * weight_decay``.
    Defaults are PyTorch's (``torch.optim.AdamW``: weight_decay=1e-2).
    """

    _coupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def _update(self, data, grad, state, scratch):
        if self.weight_decay:
            data *= 1 - self.lr * self.weight_decay
        super()._update(data, grad, state, scratch)


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
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)

    def _check_hyperparameters(self, lr, alpha, eps, weight_decay, momentum, centered):
        owner = type(self).__name__
        return {
            "lr": _positive(owner, "lr", lr),
            "alpha": _fraction(owner, "alpha", alpha),
            "eps": _positive(owner, "eps", eps),
            "weight_decay": _non_negative(owner, "weight_decay", weight_decay),
            "momentum": _fraction(owner, "momentum", momentum),
            "centered": _flag(owner, "centered", centered),
        }

    def _buffer_names(self, hyperparameters):
        return (["square_avg"] + (["momentum_buffer"] if hyperparameters["momentum"] else [])
                + (["grad_avg"] if hyperparameters["centered"] else []))

    def _update(self, data, grad, state, scratch):
        xp = backend.xp_of(data)
        alpha = self.alpha
        s = _buffer(state, "square_avg", data)
        s *= alpha
        xp.multiply(grad, grad, out=scratch)
        scratch *= 1 - alpha
        s += scratch
        if self.centered:
            a = _buffer(state, "grad_avg", data)
            a *= alpha
            xp.multiply(grad, 1 - alpha, out=scratch)
            a += scratch
            xp.multiply(a, a, out=scratch)
            xp.subtract(s, scratch, out=scratch)
            xp.maximum(scratch, 0, out=scratch)  # s >= a**2 exactly; rounding must not make sqrt NaN
            denominator = xp.sqrt(scratch, out=scratch)
        else:
            denominator = xp.sqrt(s, out=scratch)
        denominator += self.eps
        step = xp.divide(grad, denominator, out=scratch)
        if self.momentum:
            b = _buffer(state, "momentum_buffer", data)
            b *= self.momentum
            b += step
            step = xp.multiply(b, self.lr, out=scratch)
        else:
            step *= self.lr
        data -= step


RMSprop = RMSProp
"""PyTorch's spelling."""


# --- gradient clipping -------------------------------------------------------------------------


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
    max_norm = _non_negative(owner, "max_norm", max_norm)
    if isinstance(norm_type, str) and norm_type.lower() == "inf":
        norm_type = math.inf
    if not (norm_type == math.inf):
        norm_type = _positive(owner, "norm_type", norm_type)
    if not parameters:
        return 0.0
    xp = backend.xp_of(parameters[0].data)
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
