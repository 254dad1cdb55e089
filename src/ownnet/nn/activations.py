"""Activations: element-wise non-linearities (ReLU, LeakyReLU, Tanh, Sigmoid, GELU), Softmax, LogSoftmax,
Identity.

Each keeps from its forward pass exactly what its backward pass needs (ReLU, Tanh and Sigmoid reuse
their output), and keeps the input's dtype: a float32 input gives float32 outputs and gradients.
Scalar constants are Python floats, which NumPy never lets upcast a float32 array.

``preferred_init`` tells ``mlp`` how to initialise the ``Linear`` layer it puts in front of the
activation: He for ReLU-like activations, Xavier for the symmetric, saturating ones.
"""

import math

from ownnet.backend import xp_of
from ownnet.backend.ops import ops_for
from ownnet.nn.module import Module


class _FromOutput(Module):
    """An activation whose derivative is a function of its output y (ReLU, tanh, sigmoid): forward
    keeps y, backward is dL/dx = dL/dy * dy/dx(y). The formulas are the ops' (``self.ops``, the NumPy
    reference in ``ownnet.backend.ops.numpy_ops``); having no parameters, the layer takes the ops of
    its input's device in ``forward``."""

    def __init__(self):
        super().__init__()
        self.out = None

    def _output_for(self, grad_out):
        """The output ``forward`` saved, once ``grad_out`` is checked to have its shape."""
        out = self._saved(self.out)
        self._check_grad_shape(grad_out, out.shape)
        return out


class ReLU(_FromOutput):
    """``y = max(x, 0)``; dy/dx is 1 where the output is positive, else 0.

    Shape: any ``(batch, ...)`` -> the same shape.
    """

    preferred_init = "he_uniform"

    def forward(self, x):
        self.ops = ops_for(x)
        self.out = self.ops.relu(x)
        return self.out

    def backward(self, grad_out):
        return self.ops.relu_backward(grad_out, self._output_for(grad_out))


class LeakyReLU(Module):
    """``y = x`` where ``x > 0``, else ``negative_slope * x`` (PyTorch's default slope 0.01).

    Forward keeps the local slope dy/dx (1 or ``negative_slope``) and computes ``y = slope * x``;
    backward is ``grad_out * slope``. (Arithmetic on the mask is several times faster than
    ``where`` on a random-looking mask.)

    Shape: any ``(batch, ...)`` -> the same shape.
    """

    preferred_init = "he_uniform"

    def __init__(self, negative_slope=0.01):
        super().__init__()
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, got {negative_slope!r}")
        if not math.isfinite(negative_slope):
            raise ValueError(f"LeakyReLU: negative_slope must be a finite number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)  # a Python float: never upcasts float32
        self.slope = None

    def forward(self, x):
        slope = (x > 0).astype(x.dtype)  # 1.0 or 0.0 ...
        slope *= 1.0 - self.negative_slope
        slope += self.negative_slope  # ... now 1.0 or negative_slope
        self.slope = slope
        return x * slope

    def backward(self, grad_out):
        slope = self._saved(self.slope)
        self._check_grad_shape(grad_out, slope.shape)
        return grad_out * slope

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class Tanh(_FromOutput):
    """``y = tanh(x)``; dy/dx = 1 - y^2, computed from the saved output.

    Shape: any ``(batch, ...)`` -> the same shape.
    """

    preferred_init = "xavier_uniform"

    def forward(self, x):
        self.ops = ops_for(x)
        self.out = self.ops.tanh(x)
        return self.out

    def backward(self, grad_out):
        return self.ops.tanh_backward(grad_out, self._output_for(grad_out))


class Sigmoid(_FromOutput):
    """``y = 1 / (1 + exp(-x))``; dy/dx = y (1 - y), computed from the saved output.

    Accurate for any ``x`` (no cancellation: 1 + exp(-x) >= 1). For very negative ``x``
    (below about -88 in float32, -709 in float64), exp(-x) overflows to inf and 1 / (1 + inf) = 0,
    which is the correctly rounded result: that one overflow is expected and silenced, so no warning.

    Shape: any ``(batch, ...)`` -> the same shape.
    """

    preferred_init = "xavier_uniform"

    def forward(self, x):
        self.ops = ops_for(x)
        self.out = self.ops.sigmoid(x)
        return self.out

    def backward(self, grad_out):
        return self.ops.sigmoid_backward(grad_out, self._output_for(grad_out))


class GELU(Module):
    """Gaussian Error Linear Unit, as PyTorch defines it: ``y = x * Phi(x)``.

    ``approximate="none"``: Phi(x) = (1 + erf(x / sqrt(2))) / 2, the standard normal CDF;
    dy/dx = Phi(x) + x * phi(x), with phi(x) = exp(-x^2 / 2) / sqrt(2 pi).

    ``approximate="tanh"``: y = x * (1 + tanh(u)) / 2 with u = sqrt(2 / pi) * (x + 0.044715 x^3);
    dy/dx = (1 + t) / 2 + x (1 - t^2) / 2 * sqrt(2 / pi) * (1 + 3 * 0.044715 x^2), t = tanh(u).

    ``erf`` comes from SciPy (``scipy.special.erf``) when it is installed; otherwise from Python's
    ``math.erf`` applied element by element (exact, but slower on large arrays; install SciPy for
    speed). SciPy is not a dependency of ownnet.

    Shape: any ``(batch, ...)`` -> the same shape.
    """

    preferred_init = "he_uniform"
    _APPROXIMATIONS = ("none", "tanh")

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in self._APPROXIMATIONS:
            raise ValueError(f"GELU: approximate must be one of {self._APPROXIMATIONS}, got {approximate!r}")
        self.approximate = approximate
        self.x = None
        self.phi_or_t = None  # Phi(x) for "none", t = tanh(u) for "tanh"

    def forward(self, x):
        self.ops = ops_for(x)
        self.x = x
        if self.approximate == "none":
            cdf = self.ops.erf(x * _SQRT_HALF)
            cdf += 1
            cdf *= 0.5
            self.phi_or_t = cdf
            return x * cdf
        t = x * x
        t *= 0.044715
        t += 1
        t *= x
        t *= _SQRT_2_OVER_PI
        self.ops.xp.tanh(t, out=t)
        self.phi_or_t = t
        out = t + 1
        out *= x
        out *= 0.5
        return out

    def backward(self, grad_out):
        x, saved = self._saved(self.x), self._saved(self.phi_or_t)
        self._check_grad_shape(grad_out, x.shape)
        grad = x * x
        if self.approximate == "none":
            grad *= -0.5
            self.ops.xp.exp(grad, out=grad)
            grad *= _INV_SQRT_2PI  # phi(x)
            grad *= x
            grad += saved  # Phi(x) + x phi(x)
        else:
            t = saved
            grad *= 3 * 0.044715
            grad += 1
            grad *= _SQRT_2_OVER_PI  # du/dx
            grad *= 1 - t * t
            grad *= x
            grad += 1 + t
            grad *= 0.5  # (1 + t) / 2 + x (1 - t^2) du/dx / 2
        grad *= grad_out
        return grad

    def get_config(self):
        return {"approximate": self.approximate}


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class _AlongDim(Module):
    """A normalisation along one axis ``dim`` (``Softmax``, ``LogSoftmax``): the argument's checks."""

    def __init__(self, dim=-1):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"{type(self).__name__}: dim must be an integer, got {dim!r}")
        self.dim = dim
        self.out = None

    def _check_dim(self, x):
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self.label}: dim={self.dim} is out of range for an input of shape {x.shape}")

    def get_config(self):
        return {"dim": self.dim}


class Softmax(_AlongDim):
    """``y_i = exp(x_i) / sum_j exp(x_j)`` along ``dim`` (the last axis by default).

    Stable: the maximum along ``dim`` is subtracted first (softmax is unchanged by a shift).
    Backward: dL/dx_j = sum_i dL/dy_i dy_i/dx_j with dy_i/dx_j = y_i (delta_ij - y_j), that is
    dL/dx = y * (g - sum(g * y, dim)), with g = dL/dy (the Jacobian never built).

    Not before ``CrossEntropyLoss``, which takes logits and applies softmax itself: ``fit`` and
    ``evaluate`` warn (``DoubleSoftmaxWarning``) about a model ending in ``Softmax`` trained with it.
    Use it to read probabilities, or ``LogSoftmax`` + ``NLLLoss`` for the lesson's two steps.

    Shape: any ``(batch, ...)`` -> the same shape.
    """

    def forward(self, x):
        self._check_dim(x)
        out = x - x.max(axis=self.dim, keepdims=True)
        xp_of(x).exp(out, out=out)
        out /= out.sum(axis=self.dim, keepdims=True)
        self.out = out
        return out

    def backward(self, grad_out):
        out = self._saved(self.out)
        self._check_grad_shape(grad_out, out.shape)
        grad = grad_out * out
        grad_out_dot_y = grad.sum(axis=self.dim, keepdims=True)
        grad -= out * grad_out_dot_y  # y * g - y * sum(g * y)
        return grad


class LogSoftmax(_AlongDim):
    """``y_i = x_i - log(sum_j exp(x_j))`` along ``dim``: the logarithm of ``Softmax``, as
    ``torch.nn.LogSoftmax``.

    Stable: computed as ``(x - max) - log(sum(exp(x - max)))``, never as ``log(softmax(x))``, so a
    probability that rounds to 0 gives a large negative number instead of ``-inf``. With ``NLLLoss``
    it is the lesson's two steps (softmax, then cross-entropy) in a form that neither divides by a
    probability nor clips: ``NLLLoss()(LogSoftmax()(z), y) == CrossEntropyLoss()(z, y)``.

    Backward: dy_i/dx_j = delta_ij - softmax(x)_j, so dL/dx = g - softmax(x) * sum(g, dim), with
    g = dL/dy and softmax(x) = exp(y).

    Shape: any ``(batch, ...)`` -> the same shape.
    """

    def forward(self, x):
        self._check_dim(x)
        out = x - x.max(axis=self.dim, keepdims=True)  # <= 0: exp cannot overflow
        xp = xp_of(x)
        out -= xp.log(xp.exp(out).sum(axis=self.dim, keepdims=True))
        self.out = out
        return out

    def backward(self, grad_out):
        out = self._saved(self.out)
        self._check_grad_shape(grad_out, out.shape)
        grad = xp_of(out).exp(out)  # softmax(x)
        grad *= grad_out.sum(axis=self.dim, keepdims=True)
        return grad_out - grad  # g - softmax * sum(g)


class Identity(Module):
    """``y = x``: a placeholder layer (for example, to switch a block off without rewiring).

    Shape: any -> the same shape.
    """

    def __init__(self):
        super().__init__()
        self.shape = None

    def forward(self, x):
        self.shape = x.shape
        return x

    def backward(self, grad_out):
        self._check_grad_shape(grad_out, self._saved(self.shape))
        return grad_out
