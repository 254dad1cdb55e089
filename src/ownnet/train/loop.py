"""``fit``, ``evaluate``, ``predict``: the training loop the lesson writes by hand, with the rest around it.

One step is the lesson's manual loop — ``out = model.forward(x)``, ``loss.forward(out, y)``,
``model.backward(loss.backward())``, ``optimizer.step()`` — and ``fit`` adds minibatches, metrics,
validation, schedules, callbacks, a progress bar, divergence checks and checkpoints.
"""

import math
import numbers
import os
import time
from dataclasses import dataclass, field

from ownnet import backend, metrics
from ownnet.train.history import History
from ownnet.train.progress import EpochProgress, format_logs

METRICS = {
    "accuracy": metrics.accuracy,
    "zero_one_loss": metrics.zero_one_loss,
    "mae": metrics.mean_absolute_error,
    "mse": metrics.mean_squared_error,
    "r2": metrics.r2_score,
}
_CLASSIFICATION_METRICS = ("accuracy", "zero_one_loss")


class DivergenceError(FloatingPointError):
    """Training produced NaN or inf (loss or weights): usually a learning rate that is too high."""


@dataclass
class Run:
    """What callbacks see while ``fit`` runs."""

    model: object
    loss: object
    optimizer: object
    history: History
    schedule: object = None
    epoch: int = 0
    step: int = 0
    stop_training: bool = False
    extra: dict = field(default_factory=dict)
    distributed: object = None  # fit(distributed=True): the rank's ownnet.distributed.FitSession
    gpu: object = None  # a model on the GPU: the loop of ownnet.train.gpu_fit.GpuTraining


def _resolve_metrics(names, loss):
    if isinstance(names, str):
        raise TypeError(f"metrics: expected a list of metric names, got the string {names!r}; "
                        f"write metrics=[{names!r}]")
    resolved = []
    threshold = 0.0 if type(loss).__name__ == "BCEWithLogitsLoss" else 0.5
    for name in names or ():
        if callable(name):
            resolved.append((getattr(name, "__name__", "metric"), name))
        elif name in METRICS:
            fn = METRICS[name]
            if name in _CLASSIFICATION_METRICS:
                resolved.append((name, lambda y_true, y_pred, fn=fn: fn(y_true, y_pred, threshold=threshold)))
            else:
                resolved.append((name, fn))
        else:
            raise ValueError(f"metrics: unknown metric {name!r}; expected one of {sorted(METRICS)} or a "
                             "function metric(y_true, y_pred)")
    return resolved


def _as_inputs(model, x, y=None):
    """Validate once, up front, so that the training step itself checks nothing."""
    x = backend.as_float_array(x, name="x", dtype=model.dtype, device=model.device)
    if y is None:
        return x, None
    y = backend.as_device_array(y, "y", model.device)
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y: expected {x.shape[0]} targets (one per row of x, which has shape "
                         f"{tuple(x.shape)}), got shape {tuple(y.shape)}")
    if y.dtype.kind in "iub":
        y = y.astype(backend.xp_of(y).int64, copy=False)
    else:
        y = backend.as_float_array(y, name="y", dtype=model.dtype, device=model.device)
    return x, y


def _check_class_labels(model, loss, x, y):
    """Integer labels for a classification loss must lie in [0, n_classes): check them all before the
    first step rather than at the batch that holds a bad one. The number of classes is the width of
    the model's output for one row (computed in eval mode, which draws no random numbers)."""
    if type(loss).__name__ != "CrossEntropyLoss" or y.ndim != 1 or y.dtype.kind not in "iu":
        return
    was_training = model.training
    model.eval()
    try:
        n_classes = model.forward(x[:1]).shape[-1]
    except ValueError:  # a shape error: the first training batch reports it with the batch's shape
        return
    finally:
        model.train(was_training)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise ValueError(f"y: class labels must be in [0, {n_classes}) for a model with {n_classes} outputs, "
                         f"got label {bad}")


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


_CALLBACK_HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")


def _check_model(model):
    from ownnet.nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"model: expected an ownnet Module (e.g. Sequential(...)), "
                        f"got {type(model).__name__}")


def _check_loss(loss):
    if not (callable(getattr(loss, "forward", None)) and callable(getattr(loss, "backward", None))):
        raise TypeError(f"loss: expected a loss with forward(pred, target) and backward() (e.g. "
                        f"CrossEntropyLoss()), got {type(loss).__name__}")


def _check_training_arguments(model, loss, optimizer, callbacks, augment, checkpoint_dir):
    """Everything ``fit`` is given besides the data, checked once before the first step."""
    _check_model(model)
    _check_loss(loss)
    if not (callable(getattr(optimizer, "step", None)) and callable(getattr(optimizer, "zero_grad", None))):
        raise TypeError(f"optimizer: expected an optimizer with step() and zero_grad() (e.g. "
                        f"SGD(model.parameters(), lr=0.05)), got {type(optimizer).__name__}")
    params = getattr(optimizer, "params", None)
    own = {id(p) for p in model.parameters()}
    if params is not None and own and not any(id(p) in own for p in params):
        raise ValueError("optimizer: holds none of the model's parameters (was it built for another "
                         "model?); expected optimizer = SGD(model.parameters(), ...)")
    if hasattr(callbacks, "on_epoch_end") or isinstance(callbacks, (str, bytes)):
        raise TypeError(f"callbacks: expected a list of callbacks, got {type(callbacks).__name__}; "
                        "write callbacks=[callback]")
    callbacks = list(callbacks)
    for index, callback in enumerate(callbacks):
        missing = [hook for hook in _CALLBACK_HOOKS if not callable(getattr(callback, hook, None))]
        if missing:
            raise TypeError(f"callbacks[{index}]: expected a Callback (a subclass of ownnet.Callback), "
                            f"got {type(callback).__name__} without {', '.join(missing)}")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment: expected a function x_batch -> x_batch, got {type(augment).__name__}")
    if checkpoint_dir is not None and os.path.exists(checkpoint_dir) and not os.path.isdir(checkpoint_dir):
        raise ValueError(f"checkpoint_dir: expected a folder, got the existing file {checkpoint_dir!r}")
    return callbacks


def _split_validation(x, y, validation_data, validation_split, model):
    if validation_data is not None:
        if validation_split:
            raise ValueError("give either validation_data or validation_split, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data: expected a tuple (x_val, y_val)")
        return x, y, _as_inputs(model, *validation_data)
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise TypeError(f"validation_split: expected a fraction in (0, 1), got {validation_split!r}")
    if not validation_split:
        return x, y, None
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split: expected a fraction in (0, 1), got {validation_split!r}")
    n_val = int(round(len(x) * validation_split))
    if n_val < 1 or n_val >= len(x):
        raise ValueError(f"validation_split={validation_split} leaves no data on one side of {len(x)} rows")
    # As in Keras: the last rows, taken before any shuffling.
    return x[:-n_val], y[:-n_val], (x[-n_val:], y[-n_val:])


def fit(model, loss, optimizer, x, y, epochs=1, batch_size=32, validation_data=None,
        validation_split=0.0, metrics=("accuracy",), schedule=None, callbacks=(), seed=None,
        shuffle=True, verbose=True, checkpoint_dir=None, resume=False, clip_grad_norm=None,
        augment=None, distributed=False, cuda_graph=None):
    """Train ``model`` on ``(x, y)`` by minibatch gradient descent; returns a ``History``.

    x: ``(samples, features)``; y: class labels ``(samples,)``, or targets shaped like the model's
    output. Each epoch visits every sample once in batches of ``batch_size`` (shuffled, reproducibly
    when ``seed`` is given). After each epoch: metrics on the training batches (running, as Keras
    reports them) and on the validation data, the schedule's ``step()``, the callbacks, and — with
    ``checkpoint_dir`` — a checkpoint from which ``resume=True`` continues bit-identically.

    ``augment``, if given, is a function ``x_batch -> x_batch`` applied to every training batch
    (e.g. ``on.RandomShift``). Raises ``DivergenceError`` (naming epoch and step) as soon as the
    loss is NaN or inf.

    ``distributed=True`` (or an ``ownnet.distributed.Distributed``) trains data-parallel on the MPI
    ranks this script runs on (``mpiexec -n 4 python train.py``; needs ``ownnet[mpi]``): every rank
    passes the same data, ``batch_size`` is per rank, only rank 0 prints and writes the checkpoint.
    See docs/distributed.md.

    A model on the GPU (``model.to("gpu")``) trains there; ``x`` and ``y`` are uploaded once. The
    loss and metrics are summed on the device and read once per epoch, so a NaN loss is reported at
    the end of its epoch. ``cuda_graph``: None (default) records the whole step as a CUDA graph
    after two warm-up steps and replays it, where that applies (SGD, no Dropout, no ``augment``, no
    ``clip_grad_norm``, no per-step schedule, accuracy-type metrics); True insists (``ValueError``
    saying why not); False never. See docs/gpu.md.
    """
    from ownnet.data import DataLoader

    epochs = _check_positive_int("epochs", epochs)
    batch_size = _check_positive_int("batch_size", batch_size)
    callbacks = _check_training_arguments(model, loss, optimizer, callbacks, augment, checkpoint_dir)
    x, y = _as_inputs(model, x, y)
    on_gpu = model.device == "gpu"
    float_labels = type(loss).__name__ == "CrossEntropyLoss" and y.ndim == 1 and y.dtype.kind == "f"
    if on_gpu and float_labels:  # integral float labels, checked once: the steps will not
        y = loss._labels(y, int(y.max()) + 1)
    _check_class_labels(model, loss, x, y)
    x, y, validation = _split_validation(x, y, validation_data, validation_split, model)
    metric_fns = _resolve_metrics(metrics, loss)
    if cuda_graph not in (None, True, False):
        raise TypeError(f"cuda_graph: expected None, True or False, got {cuda_graph!r}")
    if cuda_graph is True and not on_gpu:
        raise ValueError("cuda_graph=True: the model is on the CPU; move it with model.to('gpu')")
    if on_gpu:
        from ownnet.train.gpu_fit import check_gpu_training

        check_gpu_training(model, distributed)
        if hasattr(loss, "_check_unit_interval") and type(loss).__name__.startswith("BCE"):
            loss._check_unit_interval(y, "targets")  # checked here once: the steps will not
    session = None
    if distributed:
        from ownnet.distributed import prepare_fit

        session = prepare_fit(distributed, model, loss, optimizer, x, y, batch_size=batch_size,
                              shuffle=shuffle, seed=seed, clip_grad_norm=clip_grad_norm, verbose=verbose,
                              checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks,
                              augment=augment)
        loader, optimizer, seed, verbose = session.loader, session.optimizer, session.seed, session.verbose
        checkpoint_dir, resume, callbacks = session.checkpoint_dir, session.resume, session.callbacks
        clip_grad_norm = None  # the DistributedOptimizer clips the summed gradient
    else:
        loader = DataLoader(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed, reuse_buffers=True)
    history = History()
    run = Run(model, loss, optimizer, history, schedule, distributed=session)
    step_schedule = schedule is not None and getattr(schedule, "interval", "epoch") == "step"
    if on_gpu:
        from ownnet.train.gpu_fit import GpuTraining

        names = [name if isinstance(name, str) else None for name in (metrics or ())]
        run.gpu = GpuTraining(run, loader, metric_fns, names, cuda_graph, augment, clip_grad_norm,
                              step_schedule, x, y)
    start_epoch = 1
    if seed is not None:
        from ownnet.nn.init import manual_seed

        manual_seed(seed)  # Dropout masks
    if checkpoint_dir is not None and resume:
        from ownnet.train.checkpoint import checkpoint_path, load_checkpoint

        if os.path.exists(checkpoint_path(checkpoint_dir)):
            start_epoch = load_checkpoint(checkpoint_dir, model, optimizer, history, schedule, loader,
                                          augment) + 1
            if verbose:
                print(f"resumed from {checkpoint_path(checkpoint_dir)} after epoch {start_epoch - 1}")
    for callback in callbacks:
        callback.on_train_begin(run)

    was_training, needed_input_grad = model.training, model.needs_input_grad
    was_deferred = getattr(loss, "deferred", False)
    model.train()
    model.needs_input_grad = False  # nobody uses dL/dx of the data: skip that product
    if on_gpu and hasattr(loss, "deferred"):
        loss.deferred = True  # the loss stays on the device: no step waits for the GPU
    logs = {}
    try:
        for epoch in range(start_epoch, epochs + 1):
            run.epoch = epoch
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            logs = _train_epoch(run, loader, metric_fns, epochs, verbose, callbacks, clip_grad_norm,
                                step_schedule, validation, augment)
            history.append(logs)
            if schedule is not None and not step_schedule:
                if getattr(schedule, "needs_metric", False):
                    schedule.step(logs.get("val_loss", logs["loss"]))
                else:
                    schedule.step()
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if checkpoint_dir is not None and (session is None or session.is_root):
                from ownnet.train.checkpoint import save_checkpoint

                save_checkpoint(checkpoint_dir, epoch, model, optimizer, history, schedule, loader,
                                augment)
            if run.stop_training:
                break
    except BaseException as error:
        if session is not None:
            session.abort(error)  # the other ranks wait in a collective: stop the whole job (MPI_Abort)
        raise
    finally:
        model.needs_input_grad = needed_input_grad
        model.train(was_training)
        if hasattr(loss, "deferred"):
            loss.deferred = was_deferred
    for callback in callbacks:
        callback.on_train_end(logs)
    return history


def _train_epoch(run, loader, metric_fns, epochs, verbose, callbacks, clip_norm, step_schedule,
                 validation, augment):
    model, loss, optimizer = run.model, run.loss, run.optimizer
    start = time.perf_counter()
    progress = EpochProgress(run.epoch, epochs, len(loader), verbose)
    lr = optimizer.lr
    if run.gpu is not None:
        total_loss, seen, metric_sums = run.gpu.train_epoch(callbacks, progress)
    else:
        total_loss, seen, metric_sums = _cpu_epoch(run, loader, metric_fns, callbacks, clip_norm,
                                                   step_schedule, augment, progress)
    if run.distributed is not None:  # totals over all ranks; every rank gets rank 0's parameters
        total_loss, seen, metric_sums = run.distributed.end_epoch(total_loss, seen, metric_sums)
    if not math.isfinite(total_loss):  # on the GPU, the first look at the loss is here
        raise DivergenceError(
            f"the loss became {total_loss / seen} during epoch {run.epoch} (learning rate "
            f"{optimizer.lr:g}); try a smaller learning rate or clip_grad_norm. The last checkpoint "
            "(if any) is intact."
        )
    _check_parameters_finite(model, run.epoch, optimizer.lr)
    logs = {"epoch": run.epoch, "loss": total_loss / seen}
    for (name, _), total in zip(metric_fns, metric_sums):
        logs[name] = total / seen
    if validation is not None:
        results = _evaluate(model, loss, *validation, metric_fns, batch_size=1024)
        logs.update({f"val_{key}": value for key, value in results.items()})
    seconds = time.perf_counter() - start
    logs.update({"lr": lr, "seconds": seconds, "samples_per_second": seen / seconds})
    progress.close(format_logs(run.epoch, epochs, logs))
    return logs


def _cpu_epoch(run, loader, metric_fns, callbacks, clip_norm, step_schedule, augment, progress):
    """One epoch of the lesson's loop; returns ``(loss sum, samples, [metric sums])``."""
    model, loss, optimizer = run.model, run.loss, run.optimizer
    total_loss, seen = 0.0, 0
    metric_sums = [0.0] * len(metric_fns)
    for step, (x_batch, y_batch) in enumerate(loader, 1):
        n = len(x_batch)
        if augment is not None:
            x_batch = augment(x_batch)
        out = model.forward(x_batch)
        value = loss.forward(out, y_batch)
        if not math.isfinite(value):
            raise DivergenceError(
                f"the loss became {value} at epoch {run.epoch}, step {step} (learning rate "
                f"{optimizer.lr:g}); try a smaller learning rate or clip_grad_norm. The last checkpoint "
                "(if any) is intact."
            )
        optimizer.zero_grad()
        model.backward(loss.backward())
        if clip_norm is not None:
            from ownnet.optim import clip_grad_norm

            clip_grad_norm(optimizer.params, clip_norm)
        optimizer.step()
        if step_schedule:
            run.schedule.step()
        total_loss += value * n
        seen += n
        for k, (_, fn) in enumerate(metric_fns):
            metric_sums[k] += fn(y_batch, out) * n
        run.step = step
        if callbacks:
            for callback in callbacks:
                callback.on_batch_end(step, {"loss": value, "batch_size": n})
        if progress.bar is not None:
            progress.update(step, {"loss": f"{total_loss / seen:.4f}"})
    return total_loss, seen, metric_sums


def _check_parameters_finite(model, epoch, lr):
    for name, p in model.named_parameters():
        if not bool(backend.xp_of(p.data).isfinite(p.data).all()):
            raise DivergenceError(f"parameter {name} holds NaN or inf after epoch {epoch} "
                                  f"(learning rate {lr:g}); try a smaller learning rate")


def _batches(n, batch_size):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def _evaluate(model, loss, x, y, metric_fns, batch_size):
    """Loss and metrics over all of ``(x, y)``, in eval mode, batch by batch."""
    outputs = predict(model, x, batch_size=batch_size)
    results = {}
    if loss is not None:
        results["loss"] = _batched_loss(loss, outputs, y, batch_size)
    for name, fn in metric_fns:
        results[name] = float(fn(y, outputs))
    return results


def _batched_loss(loss, outputs, y, batch_size):
    total = 0.0
    for part in _batches(len(outputs), batch_size):
        value = float(loss.forward(outputs[part], y[part]))
        total += value * (part.stop - part.start) if loss.reduction == "mean" else value
    return total / len(outputs) if loss.reduction == "mean" else total


def evaluate(model, loss, x, y, metrics=("accuracy",), batch_size=1024):
    """``{"loss": ..., "accuracy": ...}`` of ``model`` on ``(x, y)`` in eval mode (Dropout off,
    BatchNorm running statistics). ``loss`` may be None to compute only the metrics."""
    batch_size = _check_positive_int("batch_size", batch_size)
    _check_model(model)
    if loss is not None:
        _check_loss(loss)
    x, y = _as_inputs(model, x, y)
    return _evaluate(model, loss, x, y, _resolve_metrics(metrics, loss), batch_size)


def predict(model, x, batch_size=1024):
    """The model's outputs for ``x`` (logits for a classifier), computed in eval mode in batches, so
    that any number of rows fits in memory: ``(samples, features)`` -> ``(samples, outputs)``."""
    batch_size = _check_positive_int("batch_size", batch_size)
    _check_model(model)
    on_host = not backend.is_gpu_array(x)
    x, _ = _as_inputs(model, x)
    was_training = model.training
    model.eval()
    try:
        outputs = None
        for part in _batches(len(x), batch_size):
            out = model.forward(x[part])
            if outputs is None:
                outputs = backend.xp_of(out).empty((len(x), *out.shape[1:]), dtype=out.dtype)
            outputs[part] = out
    finally:
        model.train(was_training)
    return backend.to_numpy(outputs) if on_host else outputs


def predict_proba(model, x, batch_size=1024):
    """Class probabilities: softmax of the outputs, or the sigmoid for a single output column
    (two classes with ``BCEWithLogitsLoss``), as ``(samples, n_classes)``."""
    logits = predict(model, x, batch_size)
    xp = backend.xp_of(logits)
    if logits.ndim == 1 or logits.shape[1] == 1:
        p = 1.0 / (1.0 + xp.exp(-logits.reshape(-1, 1)))
        return xp.concatenate([1 - p, p], axis=1).astype(logits.dtype, copy=False)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = xp.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def predict_classes(model, x, batch_size=1024):
    """The most probable class of each row: ``(samples,)`` integer labels."""
    probabilities = predict_proba(model, x, batch_size)
    return probabilities.argmax(axis=1)
