"""``DistributedOptimizer``: any optimizer, with the gradients of all ranks summed by one ``Allreduce``."""

import time

import numpy as np

from ownnet import optim
from ownnet.distributed.world import init


class DistributedOptimizer:
    """Wraps any optimizer: ``step()`` first sums the ranks' gradients with one ``Allreduce``, then
    steps.

    The gradients of all parameters share one flat buffer (one per dtype; a model has one): each
    ``Parameter.grad`` is replaced by a view into it, so layers accumulate straight into the buffer
    and nothing is copied. Before the ``Allreduce`` the buffer is multiplied by this rank's share of
    the global batch — ``loader.weight`` (rows here / rows in the batch) for a ``"mean"`` loss,
    1 for ``reduction="sum"`` — so the sum is the gradient of the whole global batch. Without a
    loader the share is ``1 / size`` (equal shards). ``clip_grad_norm`` (a max norm) clips the
    summed gradient, as one process would clip the global batch's gradient.

    Everything else (``lr``, ``state_dict``, ``step_count``, ...) is the wrapped optimizer's.
    """

    def __init__(self, optimizer, distributed=None, loader=None, reduction="mean", clip_grad_norm=None):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction: expected 'mean' or 'sum' (the loss's), got {reduction!r}")
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm: expected a positive max norm or None, got {clip_grad_norm!r}")
        self.optimizer = optimizer
        self.distributed = distributed if distributed is not None else init()
        self.loader = loader
        self.reduction = reduction
        self.clip_grad_norm = clip_grad_norm
        if not isinstance(getattr(optimizer, "params", None), list):
            raise TypeError(f"optimizer: expected an optimizer with a list of Parameter in .params (e.g. "
                            f"SGD(model.parameters(), lr=0.05)), got {type(optimizer).__name__}")
        self.params = optimizer.params
        self._buffers, self._views = _flat_gradients(self.params)
        self._steps = 0

    @property
    def lr(self):
        return self.optimizer.lr

    @lr.setter
    def lr(self, value):
        self.optimizer.lr = value

    def __getattr__(self, name):  # only called for names this wrapper does not define
        optimizer = self.__dict__.get("optimizer")
        if optimizer is None:
            raise AttributeError(name)
        return getattr(optimizer, name)

    def _restore_views(self):
        for p, view in zip(self.params, self._views):
            if p.grad is not view:  # something replaced the array: take its values back into the buffer
                view[...] = p.grad
                p.grad = view

    def zero_grad(self):
        self._restore_views()
        for buffer in self._buffers:
            buffer.fill(0)

    def synchronize(self):
        """Sum the gradients over all ranks (weighted by each rank's share of the batch), in place."""
        self._restore_views()
        dist = self.distributed
        if self.reduction == "sum":
            weight = 1.0
        else:
            weight = self.loader.weight if self.loader is not None else 1.0 / dist.size
        for buffer in self._buffers:
            if weight != 1.0:
                buffer *= weight
            started = time.perf_counter()
            what = f"the Allreduce of the gradients (optimizer step {self._steps + 1})"
            dist.allreduce_sum(buffer, what)
            dist.stats["allreduce_seconds"] += time.perf_counter() - started
            dist.stats["allreduce_calls"] += 1
            dist.stats["allreduce_bytes"] += buffer.nbytes
        self._steps += 1

    def step(self):
        """For a loop of your own: sum the gradients over the ranks, clip the sum (``clip_grad_norm``),
        step. (``fit(distributed=True)`` runs the same as ``train_step`` hooks.)"""
        self.synchronize()
        if self.clip_grad_norm is not None:
            optim.clip_grad_norm(self.params, self.clip_grad_norm)
        self.optimizer.step()

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r}, size={self.distributed.size})"


def _flat_gradients(params):
    """One zeroed buffer per dtype holding every gradient; each ``p.grad`` becomes a view into it
    (keeping its current values)."""
    by_dtype = {}
    for p in params:
        by_dtype.setdefault(p.grad.dtype, []).append(p)
    buffers, view_of = [], {}
    for dtype, group in by_dtype.items():
        buffer = np.zeros(sum(p.grad.size for p in group), dtype=dtype)
        offset = 0
        for p in group:
            view = buffer[offset:offset + p.grad.size].reshape(p.grad.shape)
            view[...] = p.grad
            p.grad = view_of[id(p)] = view
            offset += p.grad.size
        buffers.append(buffer)
    return buffers, [view_of[id(p)] for p in params]
