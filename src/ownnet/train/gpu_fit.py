"""``fit`` on the GPU: the same training step, with the running totals kept on the device and, where
it applies, the whole step captured once as a CUDA graph and replayed (``ownnet.backend.cuda.graph``).

The CPU loop reads the loss of every step as a float; on the GPU that would make every step wait
for the GPU to finish. Here the loss and the number of correct predictions are added up on the
device and read once per epoch, so the host runs ahead and queues the next steps (NaN or inf is
then detected at the end of the epoch rather than at the step).
"""

import weakref

DEVICE_METRICS = ("accuracy", "zero_one_loss")
"""Metrics counted on the device for class labels (others are computed on the host, each step)."""


_GRAPH_POOLS = weakref.WeakKeyDictionary()
"""model -> the memory pools of its captured steps. What the layers keep from the last step (their
saved inputs and outputs) lives in such a pool, so the pool must live as long as the model."""


class GpuTraining:
    """The per-epoch loop of ``fit`` for a model on the GPU (made by ``fit``; not a public API)."""

    def __init__(self, run, loader, metric_fns, metric_names, cuda_graph, augment, clip_norm,
                 step_schedule, x, y):
        import cupy

        from ownnet.backend.cuda.graph import StepGraph

        self.run, self.loader, self.metric_fns = run, loader, metric_fns
        self.augment, self.clip_norm, self.step_schedule = augment, clip_norm, step_schedule
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.totals = cupy.zeros(1 + len(metric_fns), dtype=cupy.float64)
        self.count_on_device = self._labels_and_scores(run.model, x, y) and all(
            name in DEVICE_METRICS for name in metric_names)
        self.graph = None
        reason = self.graph_blocker(metric_names, augment, clip_norm, step_schedule)
        if cuda_graph is True and reason is not None:
            raise ValueError(f"cuda_graph=True: the training step cannot be captured: {reason}")
        if cuda_graph is not False and reason is None:
            self.x_buffer, self.y_buffer = loader._batch_buffers()
            self.graph = StepGraph(lambda: self.step(self.x_buffer, self.y_buffer), self.stream)
            _GRAPH_POOLS.setdefault(run.model, []).append(self.graph.pools)

    @staticmethod
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

    def graph_blocker(self, metric_names, augment, clip_norm, step_schedule):
        """Why the step cannot be captured, or None when it can."""
        from ownnet.nn.losses import Loss
        from ownnet.optim import SGD

        run = self.run
        if type(run.optimizer) is not SGD:
            return (f"the optimizer is {type(run.optimizer).__name__}; only SGD's step is captured (the "
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

    def step(self, x, y):
        """One training step, the lesson's loop; adds the loss and metrics to the device totals."""
        model, loss, optimizer = self.run.model, self.run.loss, self.run.optimizer
        out = model.forward(x)
        value = loss.forward(out, y)  # a 0-d device array: loss.deferred is on
        optimizer.zero_grad()
        model.backward(loss.backward())
        if self.clip_norm is not None:
            from ownnet.optim import clip_grad_norm

            clip_grad_norm(optimizer.params, self.clip_norm)
        optimizer.step()
        self._accumulate(value, out, y, len(x))
        return value

    def _accumulate(self, value, out, y, n):
        from ownnet.backend.cuda.kernels import count_correct

        totals = self.totals
        totals[0:1] += value * n
        for k, (name, fn) in enumerate(self.metric_fns, 1):
            if self.count_on_device:
                hits = count_correct(out, y)
                totals[k:k + 1] += hits if name == "accuracy" else n - hits
            else:
                totals[k:k + 1] += fn(y, out) * n  # on the host: waits for the GPU

    def train_epoch(self, callbacks, progress):
        """Train one epoch; returns ``(loss sum, samples, [metric sums])`` as floats."""
        run, optimizer = self.run, self.run.optimizer
        self.totals.fill(0)
        seen = 0
        notify = any(type(callback).on_batch_end is not _base_on_batch_end() for callback in callbacks)
        with self.stream:
            for step, (x_batch, y_batch) in enumerate(self.loader, 1):
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
                run.step = step
                if notify:  # a callback wants every step's loss: read it (the step waits for the GPU)
                    for callback in callbacks:
                        callback.on_batch_end(step, {"loss": float(value), "batch_size": n})
                if progress.bar is not None:
                    progress.update(step, {})
            totals = self.totals.get()
        return float(totals[0]), seen, [float(total) for total in totals[1:]]


def _base_on_batch_end():
    from ownnet.train.callbacks import Callback

    return Callback.on_batch_end


def check_gpu_training(model, distributed):
    """Refuse what the GPU path does not do, before anything runs."""
    if distributed:
        raise ValueError("distributed=True trains on the CPU (MPI ranks exchange NumPy buffers); move the "
                         "model back with model.to('cpu')")
