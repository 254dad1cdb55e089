"""Containers: ``Sequential`` (a chain), ``Residual`` (x + f(x)) and ``Concat`` (branches side by side).

Their backward is the chain rule over their children: Sequential runs the children's backward in
reverse order; Residual adds the identity path's gradient; Concat splits the gradient between the
branches and sums what flows back into the shared input.
"""

from ownnet import backend
from ownnet.nn.module import Module


class Sequential(Module):
    """Layers applied one after the other: ``Sequential(Linear(784, 128), ReLU(), Linear(128, 10))``.

    Shape: whatever the first layer takes -> whatever the last layer gives. ``add(layer)`` appends,
    as in the lesson. Like every container it never changes the layers it is given: their weights
    are the ones they were created (or loaded) with.
    """

    def __init__(self, *layers):
        super().__init__()
        for layer in layers:
            self.add(layer)

    def add(self, layer):
        self.add_child(layer)
        index = len(self._children) - 1
        layer.label = f"{type(layer).__name__} (layer {index} of the Sequential)"
        return self

    @property
    def layers(self):
        return self.children()

    def __len__(self):
        return len(self._children)

    def __getitem__(self, index):
        return self._children[index]

    @property
    def needs_input_grad(self):
        return self._children[0].needs_input_grad if self._children else True

    @needs_input_grad.setter
    def needs_input_grad(self, value):
        if self._children:
            self._children[0].needs_input_grad = value

    def forward(self, x):
        for layer in self._children:
            x = layer.forward(x)
        return x

    def backward(self, grad_out):
        for layer in reversed(self._children):
            grad_out = layer.backward(grad_out)
            if grad_out is None:  # the first layer was told not to compute dL/dx
                break
        return grad_out


class Residual(Module):
    """``y = x + block(x)``: a skip connection around ``block``.

    Shape: ``block`` must map ``(batch, features)`` to the same shape. Backward:
    dL/dx = dL/dy + block.backward(dL/dy) (the identity path plus the block's path).
    """

    def __init__(self, block):
        super().__init__()
        self.block = self.add_child(block)

    def forward(self, x):
        out = self.block.forward(x)
        if out.shape != x.shape:
            raise ValueError(
                f"{self.label}: the block must keep the shape of its input {tuple(x.shape)}, "
                f"it returned {tuple(out.shape)}"
            )
        return x + out

    def backward(self, grad_out):
        return grad_out + self.block.backward(grad_out)


class Concat(Module):
    """Branches applied to the same input, outputs joined on the last (feature) axis.

    Shape: input ``(batch, in)`` -> ``(batch, out_1 + out_2 + ...)``. Backward: the gradient is split
    back into the branches' parts, and their input gradients are summed (the input is shared).
    """

    def __init__(self, *branches):
        super().__init__()
        if not branches:
            raise ValueError("Concat: expected at least one branch")
        for branch in branches:
            self.add_child(branch)
        self.widths = None

    def forward(self, x):
        outputs = [branch.forward(x) for branch in self._children]
        for branch, out in zip(self._children, outputs):
            if out.ndim != 2 or out.shape[0] != x.shape[0]:
                raise ValueError(
                    f"{self.label}: each branch must return (batch, features) with batch "
                    f"{x.shape[0]}; {branch.label} returned {tuple(out.shape)}"
                )
        self.widths = [out.shape[1] for out in outputs]
        return backend.xp.concatenate(outputs, axis=1)

    def backward(self, grad_out):
        widths = self._saved(self.widths)
        self._check_grad_shape(grad_out, (grad_out.shape[0], sum(widths)))
        grad_x, start = None, 0
        for branch, width in zip(self._children, widths):
            part = branch.backward(grad_out[:, start:start + width])
            grad_x = part if grad_x is None else grad_x + part
            start += width
        return grad_x

