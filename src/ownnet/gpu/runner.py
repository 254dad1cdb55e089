"""``fit`` on the GPU: the same ``train_step``, with the running totals kept on the device and, where
it applies, the whole step captured once as a CUDA graph and replayed (``ownnet.backend.cuda.graph``).

The CPU loop reads the loss of every step as a float; on the GPU that would make every step wait
for the GPU to finish. Here the loss and the number of correct predictions are added up on the
device and read once per epoch, so the host runs ahead and queues the next steps (NaN or inf is
then detected at the end of the epoch rather than at the step).
"""

import weakref

from ownnet.backend import ops_for_device
from ownnet.backend.cuda.graph import StepGraph
from ownnet.nn.losses import Loss
from ownnet.optim import SGD
from ownnet.train.progress import ProgressBar
from ownnet.train.runners import CpuRunner
from ownnet.train.step import train_step

DEVICE_METRICS = ("accuracy", "zero_one_loss")
"""Metrics counted on the device for class labels (others are computed on the host, each step)."""


_GRAPH_POOLS = weakref.WeakKeyDictionary()
"""model -> the memory pools of its captured steps. What the layers keep from the last step (their
saved inputs and outputs) lives in such a pool, so the pool must live as long as the model."""


class GpuRunner(CpuRunner):
    """The epochs of ``fit`` for a model on the GPU (the ``"gpu"`` runner; made by ``fit``).

    ``cuda_graph`` (``fit``'s): None captures the step after two warm-up steps where that applies
    (``graph_blocker`` says why not otherwise), True insists (``ValueError`` with the reason),
    False never captures.
    """

    @staticmethod
    def prepare_targets(loss, y):
        """Integral float class labels become integers here, once: the steps on the GPU do not check."""
        if type(loss).__name__ == "CrossEntropyLoss" and y.ndim == 1 and y.dtype.kind == "f":
            return loss._labels(y, int(y.max()) + 1)
        return y

    def __init__(self, run, setup, stop):
        import cupy

        loss = run.loss
        if hasattr(loss, "_check_unit_interval") and type(loss).__name__.startswith("BCE"):
            loss._check_unit_interval(setup.y, "targets")  # checked here once: the steps will not
        super().__init__(run, setup, stop)
        self.run = run
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.totals = cupy.zeros(1 + len(self.metrics), dtype=cupy.float64)
        self.count_correct = ops_for_device(run.model.device).count_correct  # a kernel: no wait
        self.count_on_device = _labels_and_scores(run.model, setup.x, setup.y) and all(
            name in DEVICE_METRICS for name in setup.metric_names)
        self.graph = None
        reason = self.graph_blocker(setup.metric_names, setup.augment, setup.clip_grad_norm,
                                    setup.step_schedule)
        if setup.cuda_graph is True and reason is not None:
            raise ValueError(f"cuda_graph=True: the training step cannot be captured: {reason}")
        if setup.cuda_graph is not False and reason is None:
            self.x_buffer, self.y_buffer = self.loader._batch_buffers()
            self.graph = StepGraph(lambda: self.step(self.x_buffer, self.y_buffer), self.stream)
            _GRAPH_POOLS.setdefault(run.model, []).append(self.graph.pools)

    def step_hooks(self, setup, stop):
        """The clipping if asked, but no loss check at every step: reading the loss would make the
        step wait for the GPU (``fit`` checks each epoch's total)."""
        _check_loss, *clipping = super().step_hooks(setup, stop)
        return clipping

    def graph_blocker(self, metric_names, augment, clip_norm, step_schedule):
        """Why the step cannot be captured, or None when it can."""
        run = self.run
        if type(self.optimizer) is not SGD:
            return (f"the optimizer is {type(self.optimizer).__name__}; only SGD's step is captured (the "
                    "others change their arguments at every step)")
        if not isinstance(run.loss, Loss):
            return "the loss is not one of ownnet's"
        if step_schedule:
            return "a per-step schedule changes the learning rate at every step"
        if augment is not None:
            return "augment draws its shifts on the host at every step"
        if clip_norm is not None:
            return "clip_grad_norm reads the gradient norm on the host"
        blocking = [m.label for m in run.model.modules() if not getattr(m, "capturable", True)]
        if blocking:
            return f"{', '.join(blocking)} draw(s) random numbers on the host at every step"
        if not self.count_on_device:
            names = [name for name in metric_names if name not in DEVICE_METRICS] or metric_names
            return (f"the metrics {names} are computed on the host (only {list(DEVICE_METRICS)} with "
                    "integer labels are counted on the device)")
        return None

    def __enter__(self):
        loss = self.run.loss
        self.was_deferred = getattr(loss, "deferred", False)
        if hasattr(loss, "deferred"):
            loss.deferred = True  # the loss stays on the device: no step waits for the GPU
        return self

    def __exit__(self, kind, error, traceback):
        if hasattr(self.run.loss, "deferred"):
            self.run.loss.deferred = self.was_deferred
        return False

    def step(self, x, y):
        """One ``train_step``; adds its loss and metrics to the device totals. Returns the loss (a 0-d
        device array: ``loss.deferred`` is on)."""
        value, out = train_step(self.run.model, self.run.loss, self.optimizer, x, y, self.hooks)
        self._accumulate(value, out, y, len(x))
        return value

    def _accumulate(self, value, out, y, n):
        totals = self.totals
        totals[0:1] += value * n
        for k, (name, fn) in enumerate(self.metrics, 1):
            if self.count_on_device:
                hits = self.count_correct(y, out)
                totals[k:k + 1] += hits if name == "accuracy" else n - hits
            else:
                totals[k:k + 1] += fn(y, out) * n  # on the host: waits for the GPU

    def run_epoch(self, run, step_callbacks):
        """Train one epoch; returns ``(loss sum, samples, [metric sums])`` as floats."""
        optimizer = self.optimizer
        self.totals.fill(0)
        seen = 0
        # A callback that wants every step's loss makes every step wait for the GPU; the bar does not.
        read_loss = any(not isinstance(callback, ProgressBar) for callback in step_callbacks)
        with self.stream:
            for step, (x_batch, y_batch) in enumerate(self.loader, 1):
                run.step = step
                n = len(x_batch)
                if self.augment is not None:
                    x_batch = self.augment(x_batch)
                if self.graph is not None and x_batch is self.x_buffer and y_batch is self.y_buffer:
                    before = optimizer.step_count
                    value = self.graph.run(key=optimizer.lr)
                    if optimizer.step_count == before:  # a replay: no Python ran, count the step here
                        optimizer.step_count += 1
                else:
                    value = self.step(x_batch, y_batch)
                if self.step_schedule:
                    run.schedule.step()
                seen += n
                if step_callbacks:
                    batch_loss = float(value) if read_loss else None  # float(): waits for the GPU
                    for callback in step_callbacks:
                        callback.on_batch_end(step, {"loss": batch_loss, "batch_size": n})
            totals = self.totals.get()
        return float(totals[0]), seen, [float(total) for total in totals[1:]]


def _labels_and_scores(model, x, y):
    """Integer labels and a model with one score column per class (>= 2): accuracy on the device."""
    if y.ndim != 1 or y.dtype.kind not in "iu":
        return False
    was_training = model.training
    model.eval()
    try:
        width = model.forward(x[:1]).shape
    except ValueError:  # a shape error: the first training batch reports it with the batch's shape
        return False
    finally:
        model.train(was_training)
    return len(width) == 2 and width[1] >= 2
