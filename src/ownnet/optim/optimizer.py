"""``Optimizer``: the base class of the optimizers — the parameters, the hyperparameters, the state of
each parameter, how a step runs, and saving and loading the state.

An optimizer holds a model's parameters; ``step()`` moves every ``parameter.data`` against its
``parameter.grad``. The update rules, arguments and defaults are PyTorch's (``torch.optim``), so a
trajectory can be checked against it step by step.

Each optimizer's rule is an op of the parameters' device (``ops.sgd_update``, ``ops.adam_update``,
``ops.rmsprop_update``: the NumPy formula in ``ownnet.backend.ops.numpy_ops``, one compiled or CUDA
kernel where there is one). How a step runs is chosen once, when the optimizer is made and again when
the parameters move to another device, as PyTorch picks its single-tensor, multi-tensor or fused
implementation from flags: parameter by parameter, or, where the ops update all at once (the GPU), over
flat arrays that hold every parameter (``FlatParameters``: one kernel launch per step).

The update is the training hot path: it works in place, in each parameter's dtype (a float32
parameter keeps float32 data and state), and allocates only at the first step (the state, and the
scratch arrays of the NumPy rules), so later steps allocate nothing. ``parameter.grad`` is only read.
"""

from numbers import Integral

from ownnet.backend import device_of, ops_for_device, resolve_device, to_device, xp_of
from ownnet.optim.arguments import check_non_negative, check_params
from ownnet.optim.flat import FlatParameters


class Optimizer:
    """Base class: holds the parameters, the hyperparameters and the per-parameter state.

    A subclass lists its constructor arguments in ``_check_hyperparameters`` (which validates and
    returns them), names its state arrays in ``_buffer_names`` and implements ``_update``, which hands
    its rule to ``self.ops``. ``lr`` may be changed between steps (schedules do).

    ``state_dict()`` is ``{"type": "SGD", "hyperparameters": {...JSON...}, "step_count": int,
    "state": {"<parameter index>.<buffer name>": array}}`` (copies of the arrays), a flat dict of
    arrays that a safetensors file can hold.
    """

    def __init__(self, params, **hyperparameters):
        self.params = check_params(type(self).__name__, params)
        self._hyperparameter_names = tuple(hyperparameters)
        for name, value in self._check_hyperparameters(**hyperparameters).items():
            setattr(self, name, value)
        self.step_count = 0
        self.state = [{} for _ in self.params]
        self._choose_implementation(device_of(self.params[0].data))

    # --- subclass interface -------------------------------------------------------------------
    def _check_hyperparameters(self, **hyperparameters):
        raise NotImplementedError

    def _buffer_names(self, hyperparameters):
        raise NotImplementedError

    def _update(self, data, grad, state, work, first):
        """Apply the rule, through ``self.ops``, to ``data`` with ``grad`` and ``state`` (one parameter,
        or all of them as flat arrays). ``work``: a dict for the rule's scratch arrays; ``first``: the
        state was just made (its arrays are zeros)."""
        raise NotImplementedError

    # --- hyperparameters ----------------------------------------------------------------------
    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        # >= 0 rather than > 0: a schedule may take the learning rate down to 0
        self._lr = check_non_negative(type(self).__name__, "lr", value)

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
        device = device_of(self.params[0].data)
        if device != self._device:  # the model moved: follow it
            self.to(device)
        self.step_count += 1
        self._step()

    def _choose_implementation(self, device):
        """Take the ops of ``device`` and pick how ``step`` runs there: over flat arrays where the ops
        update all parameters at once and the parameters share a dtype, else parameter by parameter."""
        self._device = device
        self.ops = ops_for_device(device)
        self._flat = None
        flat = self.ops.flat_updates and FlatParameters.possible(self.params)
        self._step = self._step_flat if flat else self._step_each
        self._work = [{} for _ in self.params]  # one per parameter (the flat step uses the first)

    def _step_each(self):
        """The rule applied to each parameter in turn."""
        names = self._buffer_names(vars(self))  # the hyperparameters are attributes
        for p, state, work in zip(self.params, self.state, self._work):
            first = self._add_state(state, names, p.data)
            self._update(p.data, p.grad, state, work, first)

    def _step_flat(self):
        """The rule applied once to flat arrays that hold every parameter (see ``FlatParameters``)."""
        first = False
        if self._flat is None or not self._flat.intact(self.state):
            if not FlatParameters.possible(self.params):  # a parameter changed its dtype since
                self._step = self._step_each
                return self._step_each()
            names = self._buffer_names(vars(self))
            first = any([self._add_state(state, names, p.data) for p, state in zip(self.params, self.state)])
            self._flat = FlatParameters(self.params, self.state)
            self._work[0] = {}
        for p in self.params:
            if p._zero_pending:  # zeroed lazily and never written by a backward: zero it now
                p.grad.fill(0)
        flat = self._flat
        self._update(flat.data, flat.grad, flat.state, self._work[0], first)

    @staticmethod
    def _add_state(state, names, like):
        """Make the state arrays ``names`` that ``state`` lacks, as zeros like the parameter; True if
        it made any (the first step of this state)."""
        if len(state) == len(names):
            return False
        for name in names:
            if name not in state:
                state[name] = xp_of(like).zeros_like(like)
        return True

    def to(self, device):
        """Move the optimizer state to ``device`` (``"cpu"`` or ``"gpu"``), where the model now is.
        ``step()`` does it by itself after ``model.to(device)``."""
        device = resolve_device(device)
        self.state = [{name: to_device(array, device) for name, array in state.items()}
                      for state in self.state]
        self._choose_implementation(device)
        return self

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
            hyperparameters["lr"] = check_non_negative(type(self).__name__, "lr", saved_lr)
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
            array = to_device(array, device_of(p.data))
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


