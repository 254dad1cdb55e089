"""The layer contract: ``Parameter`` and ``Module``.

A module's ``forward(x)`` computes its output and keeps what ``backward`` needs; ``backward(grad_out)``
takes dL/d(output) and returns dL/d(input), *adding* dL/d(parameter) into each ``parameter.grad``.
The optimizer reads ``.grad`` and updates ``.data`` separately, so gradients can be inspected.

A module hands its array operations to ``self.ops``, the ops of its device (``ownnet.backend.ops``:
NumPy, Numba or CuPy), taken when it is built and again when ``to(device)`` moves it.
"""

from ownnet import backend
from ownnet.backend.ops import ops_for, ops_for_device
from ownnet.nn.summary import summary_table

MODULES = {}
"""Every Module subclass by class name: used by model files and by the gradient-check tests."""


class Parameter:
    """A trainable array ``data`` with its accumulated gradient ``grad`` (same shape and dtype).

    ``ops`` are the ops of the gradient's device, taken whenever a gradient array is set.
    """

    def __init__(self, data, name=""):
        self.data = data
        self.grad = backend.xp_of(data).zeros_like(data)
        self.name = name

    @property
    def grad(self):
        """dL/d(data), summed over every ``backward`` since the last ``zero_grad``."""
        if self._zero_pending:
            self._grad.fill(0)
            self._zero_pending = False
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = value
        self._zero_pending = False
        self.ops = ops_for(value)

    def zero_grad(self):
        # Lazily: the next accumulate_matmul writes its product straight into the array instead of
        # adding it to zeros (one pass over the gradient instead of three); reading .grad first zeroes it.
        self._zero_pending = True

    def accumulate_matmul(self, a, b):
        """``grad += a @ b``, without a temporary array (straight into ``grad`` after ``zero_grad``)."""
        self.ops.matmul(a, b, out=self._grad, accumulate=not self._zero_pending)
        self._zero_pending = False

    def accumulate_column_sum(self, g):
        """``grad += g.sum(axis=0)`` for ``g`` of shape ``(batch, *grad.shape)`` (a bias gradient)."""
        self.ops.column_sum_into(g, self._grad, accumulate=not self._zero_pending)
        self._zero_pending = False

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    def __repr__(self):
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of every layer and container.

    Subclasses implement ``forward`` and ``backward``; parameters are declared with
    ``add_parameter`` and non-trainable state (running statistics) with ``add_buffer``; sub-modules
    are declared with ``add_child``. ``get_config()`` returns the constructor arguments, so that a
    model file can rebuild the module from its class name and config.
    """

    capturable = True
    """Whether a training step through this module can be recorded once as a CUDA graph and replayed
    (False for a layer that draws random numbers on the host at every forward, as Dropout)."""

    needs_input_grad = True
    """Whether ``backward`` must return dL/dx. The training loop sets it to False on the first layer
    (nothing uses the gradient of the data), which lets ``Linear`` skip one matrix product."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            MODULES[cls.__name__] = cls

    def __init__(self):
        self.training = True
        self.label = type(self).__name__
        # the ops of this module's device (its parameters'); a layer without parameters takes those of
        # its input in forward (ops_for(x))
        self.ops = ops_for_device(backend.default_device())
        self._parameters = {}
        self._buffers = {}
        self._children = []

    # --- declaring state -------------------------------------------------------------------
    def add_parameter(self, name, data, dtype=None):
        """Declare ``data`` (an array, a list or a number) as the trainable parameter ``name``; returns
        its ``Parameter``.

        The parameter is stored as a float array of ``dtype``; None means the default dtype (float32
        unless ``set_default_dtype``), the dtype every layer of a model is built in (``ownnet.load``
        sets it to the file's dtype while it rebuilds a model). So a plain ``np.array([1.0])``, which
        NumPy makes float64, becomes float32 in a float32 model: the model computes in one dtype and
        saves a file that loads. A layer asked for another dtype passes it on, as
        ``Linear(..., dtype="float64")`` does. An array already of that dtype is kept as it is (no copy).
        """
        dtype = backend.resolve_dtype(dtype)
        if getattr(data, "dtype", None) != dtype:
            xp = backend.xp_of(data) if hasattr(data, "dtype") else backend.xp
            data = xp.asarray(data, dtype=dtype)
        parameter = Parameter(data, name)
        self._parameters[name] = parameter
        self.ops = parameter.ops
        return parameter

    def add_buffer(self, name, data):
        self._buffers[name] = data
        return data

    def add_child(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"{self.label}: expected a Module, got {type(module).__name__}")
        self._children.append(module)
        return module

    def children(self):
        return list(self._children)

    def modules(self):
        """This module and every module below it, depth first (as PyTorch's ``modules()``)."""
        yield self
        for child in self._children:
            yield from child.modules()

    # --- the parameters() protocol ---------------------------------------------------------
    def named_parameters(self, prefix=""):
        """``[(qualified name, Parameter)]``; children are named by their index, as in PyTorch."""
        named = [(prefix + name, p) for name, p in self._parameters.items()]
        for index, child in enumerate(self._children):
            named += child.named_parameters(f"{prefix}{index}.")
        return named

    def parameters(self):
        """All trainable parameters of this module and its children, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        named = [(prefix + name, b) for name, b in self._buffers.items()]
        for index, child in enumerate(self._children):
            named += child.named_buffers(f"{prefix}{index}.")
        return named

    def num_parameters(self):
        return sum(p.size for p in self.parameters())

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    # --- state: weights and buffers by name -------------------------------------------------
    def state_dict(self):
        """``{qualified name: array}`` of every parameter and buffer (the arrays, not copies)."""
        state = {name: p.data for name, p in self.named_parameters()}
        state.update(self.named_buffers())
        return state

    def load_state_dict(self, state):
        """Copy arrays into this module's parameters and buffers (names, shapes and dtypes must match)."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        if missing or extra:
            raise ValueError(f"{self.label}.load_state_dict: missing {missing}, unexpected {extra}")
        for name, target in own.items():
            source = state[name]
            if tuple(source.shape) != tuple(target.shape) or source.dtype != target.dtype:
                raise ValueError(
                    f"{self.label}.load_state_dict: {name!r} expected shape {tuple(target.shape)} "
                    f"and dtype {target.dtype}, got {tuple(source.shape)} and {source.dtype}"
                )
            target[...] = backend.to_device(source, backend.device_of(target))

    # --- modes, dtype -------------------------------------------------------------------------
    def train(self, mode=True):
        self.training = bool(mode)
        for child in self._children:
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    @property
    def dtype(self):
        """The dtype of the first parameter (or buffer), else the default dtype."""
        for _, array in self.named_parameters() or self.named_buffers():
            return (array.data if isinstance(array, Parameter) else array).dtype
        return backend.get_default_dtype()

    @property
    def device(self):
        """Where the parameters live: ``"cpu"`` or ``"gpu"`` (the backend's default if it has none)."""
        for _, array in self.named_parameters() or self.named_buffers():
            return backend.device_of(array.data if isinstance(array, Parameter) else array)
        return backend.default_device()

    def to(self, target):
        """Convert every parameter and buffer, in place: to a dtype (``"float32"``, ``"float64"``) or
        to a device (``"cpu"``, ``"gpu"``/``"cuda"``: moves them between NumPy and CuPy).
        Returns the module. An optimizer built before a move follows on its next step."""
        if isinstance(target, str) and target in ("cpu", "gpu", "cuda", "cupy"):
            device = backend.resolve_device(target)
            self._convert(lambda array: backend.to_device(array, device))
            ops = ops_for_device(device)
            for module in self.modules():
                module.ops = ops
            return self
        dtype = backend.resolve_dtype(target)
        self._convert(lambda array: array.astype(dtype, copy=False))
        return self

    def _convert(self, fn):
        for p in self._parameters.values():
            p.data = fn(p.data)
            p.grad = fn(p.grad)
        for name, buffer in self._buffers.items():
            self._buffers[name] = fn(buffer)
        for child in self._children:
            child._convert(fn)

    # --- the forward/backward contract ------------------------------------------------------
    def __call__(self, x):
        """Validate and convert ``x`` (to this module's dtype and device, NaN/inf check), then ``forward``."""
        return self.forward(backend.as_float_array(x, name=f"input to {self.label}", dtype=self.dtype,
                                                   device=self.device))

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def _saved(self, value):
        """Return what ``forward`` saved, or explain that ``backward`` came before ``forward``."""
        if value is None:
            raise ValueError(f"{self.label}: backward() called before forward(); run forward first")
        return value

    def _check_grad_shape(self, grad_out, expected_shape):
        try:  # free when grad_out is an array
            shape = grad_out.shape
        except AttributeError:
            raise TypeError(f"{self.label}.backward: expected grad_out to be an array of shape "
                            f"{tuple(expected_shape)}, got {type(grad_out).__name__}") from None
        if tuple(shape) != tuple(expected_shape):
            raise ValueError(
                f"{self.label}.backward: expected grad_out of shape {tuple(expected_shape)} "
                f"(the shape of the last output), got {tuple(grad_out.shape)}"
            )

    # --- description -------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments (JSON-serialisable) that rebuild this module."""
        return {}

    @classmethod
    def state_shapes(cls, config):
        """``{name: shape}`` of the parameters and buffers that ``cls(**config)`` would create, computed
        from the config alone (no allocation), or None when unknown (the default).

        ``ownnet.load`` compares it with the file's tensors *before* calling the constructor, so that a
        file whose config asks for a huge layer is refused instead of allocated. Only the class that
        defines it uses it (a subclass with another constructor is not misjudged by its parent's).
        """
        return None

    def extra_repr(self):
        return ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()})"]
        if self._parameters and not self._children:
            shapes = ", ".join(f"{p.name} {tuple(p.shape)}" for p in self._parameters.values())
            lines[0] += f"  # {shapes}: {self.num_parameters():,} parameters"
        if self._children:
            lines[0] = f"{type(self).__name__}("
            for index, child in enumerate(self._children):
                child_lines = repr(child).splitlines()
                lines.append(f"  ({index}): " + child_lines[0])
                lines += ["  " + line for line in child_lines[1:]]
            lines.append(f")  # {self.num_parameters():,} parameters")
        return "\n".join(lines)

    def summary(self, input_shape=None):
        """A table of layers, output shapes (when ``input_shape`` is given, batch excluded) and
        parameter counts; returns the text."""
        return summary_table(self, input_shape)
