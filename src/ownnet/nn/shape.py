"""Shape layers: ``Flatten``."""

from ownnet.nn.module import Module


class Flatten(Module):
    """Merge the axes ``start_dim`` .. ``end_dim`` (inclusive) into one, as PyTorch's ``Flatten``.

    Shape: with the defaults (``start_dim=1, end_dim=-1``), ``(batch, d1, d2, ...)`` ->
    ``(batch, d1 * d2 * ...)``. Backward reshapes the gradient back to the input's shape.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Flatten: {name} must be an integer, got {value!r}")
        self.start_dim, self.end_dim = start_dim, end_dim
        self.input_shape = self.output_shape = None

    def forward(self, x):
        start, end = self._axis(self.start_dim, x), self._axis(self.end_dim, x)
        if start > end:
            raise ValueError(
                f"{self.label}: start_dim={self.start_dim} comes after end_dim={self.end_dim} "
                f"for an input of shape {tuple(x.shape)}"
            )
        self.input_shape = x.shape
        out = x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])
        self.output_shape = out.shape
        return out

    def _axis(self, dim, x):
        ndim = max(x.ndim, 1)  # as PyTorch, a 0-d array counts as 1-d
        if not -ndim <= dim < ndim:
            raise ValueError(
                f"{self.label}: dim {dim} is out of range for an input of shape {tuple(x.shape)}"
            )
        return dim % ndim

    def backward(self, grad_out):
        self._check_grad_shape(grad_out, self._saved(self.output_shape))
        return grad_out.reshape(self.input_shape)

    def get_config(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}
