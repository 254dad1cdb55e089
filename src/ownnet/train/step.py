"""One training step: the body of the lesson's loop, used by every way of running ``fit``.

    out = model.forward(x)                 # (batch, outputs)
    value = loss.forward(out, y)           # the batch's loss
    optimizer.zero_grad()
    model.backward(loss.backward())        # dL/dW of every layer, added into parameter.grad
    ... hooks ...                          # look at the loss, clip or sum the gradients
    optimizer.step()                       # W <- W - lr * dL/dW (or Adam's rule, ...)

The runners (``ownnet.train.runners``) decide how an epoch of these steps runs: on the CPU, on the
GPU (where the step may be captured once as a CUDA graph and replayed), on MPI ranks (where a hook
sums the gradients over the ranks). The step itself is the same for all of them.
"""

from ownnet.optim import clip_grad_norm


def train_step(model, loss, optimizer, x, y, hooks=()):
    """Forward, loss, backward and update on one batch; returns ``(loss value, model output)``.

    ``x``: ``(batch, features)``; ``y``: the batch's targets. The loss value is a float on the CPU
    (a 0-d device array on the GPU, where the loss does not wait for the GPU). ``hooks`` are called
    as ``hook(loss_value)`` in order between the backward pass and the update: they may look at
    the loss (stop on NaN) and change the gradients (clip them, sum them over MPI ranks).
    """
    out = model.forward(x)
    value = loss.forward(out, y)
    optimizer.zero_grad()
    model.backward(loss.backward())
    for hook in hooks:
        hook(value)
    optimizer.step()
    return value, out


class ClipGradNorm:
    """A step hook: scale all gradients together so that their joint L2 norm is at most ``max_norm``
    (``fit(clip_grad_norm=...)``; ``ownnet.optim.clip_grad_norm`` does the arithmetic)."""

    def __init__(self, params, max_norm):
        self.params, self.max_norm = params, max_norm

    def __call__(self, loss_value):
        clip_grad_norm(self.params, self.max_norm)
