"""Runners: how ``fit`` runs an epoch of ``train_step`` and keeps its totals.

``fit`` asks the registry for a runner by name (``get_runner``): ``"mpi"`` for
``fit(distributed=True)``, otherwise the model's device (``"cpu"``, ``"gpu"``). ``CpuRunner`` is here:
the plain loop. The others live in their own packages and are loaded on first use from the module
path they are registered with, so that ``ownnet.train`` imports neither the GPU code nor MPI:

- ``"gpu"``: ``ownnet.gpu.runner.GpuRunner`` (totals on the device, the step captured as a CUDA graph);
- ``"mpi"``: ``ownnet.distributed.runner.MpiRunner`` (a shard of every batch on each rank, the
  gradients summed over the ranks by a step hook).

A runner is a class built as ``Runner(run, setup, stop)`` (``run``: the ``Run`` callbacks see;
``setup``: ``fit``'s checked arguments, which a runner may adapt to its process, e.g. only MPI rank 0
prints; ``stop``: the ``DivergenceStop``) with ``loader``, ``callbacks`` (added to ``fit``'s),
``run_epoch(run, step_callbacks)``, ``with runner:`` around the epochs and a static
``prepare_targets(loss, y)``. ``register_runner`` adds one; subclassing ``CpuRunner`` gives all of it.
"""

import importlib

from ownnet.data import DataLoader
from ownnet.train.step import ClipGradNorm, train_step


class CpuRunner:
    """The lesson's loop: one ``train_step`` per batch, the totals as Python floats."""

    @staticmethod
    def prepare_targets(loss, y):
        """The targets as the steps will see them (the GPU runner converts float class labels once)."""
        return y

    def __init__(self, run, setup, stop):
        self.optimizer = run.optimizer  # the one whose zero_grad and step train_step calls
        self.loader = self.make_loader(setup)
        self.metrics = setup.metrics
        self.augment = setup.augment
        self.step_schedule = setup.step_schedule
        self.hooks = self.step_hooks(setup, stop)
        self.callbacks = []  # added to fit's own

    def make_loader(self, setup):
        """The batches of an epoch: the whole data set, shuffled by ``setup.seed``."""
        return DataLoader(setup.x, setup.y, batch_size=setup.batch_size, shuffle=setup.shuffle,
                          seed=setup.seed, reuse_buffers=True)

    def step_hooks(self, setup, stop):
        """What ``train_step`` calls between backward and the update: stop on a NaN or inf loss
        (before the weights change), then clip the gradients if asked."""
        hooks = [stop.check_step]
        if setup.clip_grad_norm is not None:
            hooks.append(ClipGradNorm(self.optimizer.params, setup.clip_grad_norm))
        return hooks

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        return False

    def run_epoch(self, run, step_callbacks):
        """Train one epoch; returns ``(loss sum, samples, [metric sums])``.

        ``step_callbacks``: the callbacks whose ``on_batch_end`` does something.
        """
        model, loss, optimizer, hooks = run.model, run.loss, self.optimizer, self.hooks
        total_loss, seen = 0.0, 0
        metric_sums = [0.0] * len(self.metrics)
        for step, (x_batch, y_batch) in enumerate(self.loader, 1):
            run.step = step
            n = len(x_batch)
            if self.augment is not None:
                x_batch = self.augment(x_batch)
            value, out = train_step(model, loss, optimizer, x_batch, y_batch, hooks)
            if self.step_schedule:
                run.schedule.step()
            total_loss += value * n
            seen += n
            for k, (_, fn) in enumerate(self.metrics):
                metric_sums[k] += fn(y_batch, out) * n
            for callback in step_callbacks:
                callback.on_batch_end(step, {"loss": value, "batch_size": n})
        return total_loss, seen, metric_sums


_RUNNERS = {
    "cpu": CpuRunner,
    "gpu": "ownnet.gpu.runner:GpuRunner",
    "mpi": "ownnet.distributed.runner:MpiRunner",
}


def register_runner(name, runner):
    """Make ``runner`` the runner called ``name``: a class, or ``"package.module:ClassName"``,
    imported the first time ``get_runner(name)`` is called."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_runner: expected a runner name (a non-empty string), got {name!r}")
    _RUNNERS[name] = runner


def get_runner(name):
    """The runner class registered as ``name``; ``ValueError`` naming the known ones otherwise."""
    if name not in _RUNNERS:
        raise ValueError(f"runner: unknown name {name!r}; expected one of {sorted(_RUNNERS)}")
    runner = _RUNNERS[name]
    if isinstance(runner, str):
        module, _, attribute = runner.partition(":")
        runner = _RUNNERS[name] = getattr(importlib.import_module(module), attribute)
    return runner
