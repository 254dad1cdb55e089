"""``Linear``: the fully connected layer, y = x @ W + b."""

import numbers

from ownnet import backend
from ownnet.nn.init import initial_weight, resolve_scheme
from ownnet.nn.module import Module


class Linear(Module):
    """A fully connected layer: ``y = x @ weight + bias``.

    Shape: input ``(batch, in_features)`` -> output ``(batch, out_features)``;
    ``weight`` is ``(in_features, out_features)``, ``bias`` is ``(out_features,)``.

    ``init`` is one of ``"he_uniform"`` (the default), ``"he_normal"``, ``"xavier_uniform"``,
    ``"xavier_normal"``, ``"zeros"`` (``kaiming_*``/``glorot_*`` aliases; ``"auto"``, the name older
    versions saved, means ``"he_uniform"``). The weights are drawn once, here: putting the layer in a
    ``Sequential``, ``Residual`` or ``Concat`` never changes them. Before tanh or sigmoid choose
    ``init="xavier_uniform"`` yourself; ``mlp(..., activation="tanh")`` does it for its layers.

    Example::

        layer = Linear(784, 10)
        logits = layer(x)              # x: (batch, 784) -> (batch, 10)
        grad_x = layer.backward(g)     # g: (batch, 10); adds into layer.weight.grad, layer.bias.grad
    """

    def __init__(self, in_features, out_features, bias=True, init="he_uniform", dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        in_features, out_features = int(in_features), int(out_features)  # NumPy integers too
        self.in_features, self.out_features, self.has_bias = in_features, out_features, bool(bias)
        self.init = resolve_scheme(init)
        self.weight = self.add_parameter("weight",
                                         initial_weight(self.init, in_features, out_features, dtype), dtype)
        self.bias = None
        if self.has_bias:
            self.bias = self.add_parameter("bias", backend.zeros((out_features,), dtype), dtype)
        self.x = None

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            hint = " (for a single sample use x.reshape(1, -1))" if x.ndim == 1 else ""
            raise ValueError(
                f"{self.label}: expected input of shape (batch, {self.in_features}), "
                f"got {tuple(x.shape)}{hint}"
            )
        if x.dtype != self.weight.data.dtype:
            x = x.astype(self.weight.data.dtype)
        backend.check_device(x, self.ops.device, f"input to {self.label}")
        self.x = x
        y = self.ops.matmul(x, self.weight.data)
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_out):
        x = self._saved(self.x)
        self._check_grad_shape(grad_out, (x.shape[0], self.out_features))
        self.weight.accumulate_matmul(x.T, grad_out)  # dL/dW = x^T . dL/dy   (.grad += x.T @ grad_out)
        if self.bias is not None:
            self.bias.accumulate_column_sum(grad_out)  # dL/db = sum over the batch of dL/dy
        if not self.needs_input_grad:
            return None
        return self.ops.matmul(grad_out, self.weight.data.T)  # dL/dx = dL/dy . W^T

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.has_bias, "init": self.init}

    @classmethod
    def state_shapes(cls, config):
        """``weight`` ``(in_features, out_features)`` and ``bias`` ``(out_features,)`` of a config."""
        shapes = {"weight": (config.get("in_features"), config.get("out_features"))}
        if config.get("bias", True):
            shapes["bias"] = (config.get("out_features"),)
        return shapes
