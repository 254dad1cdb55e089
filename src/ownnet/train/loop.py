"""``fit``, ``evaluate``, ``predict``: the training loop the lesson writes by hand, with the rest around it.

One step is the lesson's manual loop (``ownnet.train.step.train_step``): ``out = model.forward(x)``,
``loss.forward(out, y)``, ``model.backward(loss.backward())``, ``optimizer.step()``. ``fit`` checks its
arguments once, picks a runner (``ownnet.train.runners``: the plain loop on the CPU, or the GPU or
MPI one), and for each epoch lets the runner train it, stops on divergence, validates, steps the
schedule and calls the callbacks: yours, and those that show the progress and write and resume
checkpoints.
"""

import time
from dataclasses import dataclass, field

from ownnet import backend
from ownnet.data.checks import positive_int
from ownnet.nn.init import manual_seed
from ownnet.nn.losses import warn_if_double_softmax
from ownnet.train.callbacks import Callback
from ownnet.train.checkpoint import ResumeFromCheckpoint, SaveCheckpoint, describe_run
from ownnet.train.checks import (
    as_inputs,
    check_class_labels,
    check_cuda_graph,
    check_loss,
    check_model,
    check_training_arguments,
    resolve_metrics,
    split_validation,
)
from ownnet.train.divergence import DivergenceError, DivergenceStop
from ownnet.train.history import History
from ownnet.train.progress import progress_callbacks
from ownnet.train.runners import get_runner

__all__ = ["DivergenceError", "Run", "Setup", "evaluate", "fit", "predict", "predict_classes",
           "predict_proba"]


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


@dataclass
class Setup:
    """``fit``'s arguments, checked: what the runner and the callbacks are built from.

    A runner may adapt what differs between processes: with MPI only rank 0 prints
    (``verbose``), writes the checkpoint (``checkpoint_dir``) and runs ``ModelCheckpoint``, the
    others resume from a copy of its checkpoint (``resume_dir``), all use the seed rank 0 drew.
    """

    x: object
    y: object
    validation: object  # (x_val, y_val) or None
    metrics: list  # [(name, metric(y_true, y_pred))]
    metric_names: list  # the names given (None for a function)
    epochs: int
    batch_size: int
    callbacks: list
    shuffle: bool
    seed: object
    verbose: bool
    checkpoint_dir: object  # where to write the checkpoint after every epoch, or None
    resume_dir: object  # where to resume from, or None
    description: object  # with a checkpoint_dir: describe_run of this run (what resume compares)
    clip_grad_norm: object
    augment: object
    step_schedule: bool  # the schedule steps after every batch (else after every epoch)
    cuda_graph: object
    distributed: object


def fit(model, loss, optimizer, x, y, epochs=1, batch_size=32, validation_data=None,
        validation_split=0.0, metrics=("accuracy",), schedule=None, callbacks=(), seed=None,
        shuffle=True, verbose=True, checkpoint_dir=None, resume=False, clip_grad_norm=None,
        augment=None, distributed=False, cuda_graph=None, run_config=None):
    """Train ``model`` on ``(x, y)`` by minibatch gradient descent; returns a ``History``.

    x: ``(samples, features)``; y: class labels ``(samples,)``, or targets shaped like the model's
    output. Each epoch visits every sample once in batches of ``batch_size`` (shuffled, reproducibly
    when ``seed`` is given). After each epoch: metrics on the training batches (running, as Keras
    reports them) and on the validation data, the schedule's ``step()``, the callbacks, and — with
    ``checkpoint_dir`` — a checkpoint from which ``resume=True`` continues bit-identically. A resume
    refuses the checkpoint of another run (``CheckpointMismatchError``: other architecture,
    optimizer hyperparameters or schedule; see ``ownnet.train.checkpoint``); ``run_config``, a
    JSON-serialisable dict describing the run (``ownnet train`` gives its recipe config), is stored
    in the checkpoint for the caller to compare (``read_checkpoint(folder).run["config"]``).

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
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    callbacks = check_training_arguments(model, loss, optimizer, callbacks, augment, checkpoint_dir)
    warn_if_double_softmax(model, loss, "fit")  # the lesson's Softmax before CrossEntropyLoss
    runner_class = get_runner("mpi" if distributed else model.device)
    x, y, validation = _checked_data(model, loss, runner_class, x, y, validation_data, validation_split)
    metric_fns = resolve_metrics(metrics, loss)
    check_cuda_graph(cuda_graph, model)
    setup = Setup(
        x=x, y=y, validation=validation, metrics=metric_fns,
        metric_names=[name if isinstance(name, str) else None for name in metrics or ()],
        epochs=epochs, batch_size=batch_size, callbacks=callbacks, shuffle=shuffle, seed=seed,
        verbose=verbose, checkpoint_dir=checkpoint_dir, resume_dir=checkpoint_dir if resume else None,
        description=None if checkpoint_dir is None else describe_run(model, optimizer, schedule, epochs,
                                                                      run_config),
        clip_grad_norm=clip_grad_norm, augment=augment, cuda_graph=cuda_graph, distributed=distributed,
        step_schedule=schedule is not None and getattr(schedule, "interval", "epoch") == "step")
    run = Run(model, loss, optimizer, History(), schedule)
    stop = DivergenceStop(run)
    return _train(run, runner_class(run, setup, stop), setup, stop)


def _checked_data(model, loss, runner_class, x, y, validation_data, validation_split):
    """``(x, y, validation)`` on the model's device and dtype, the labels checked."""
    x, y = as_inputs(model, x, y)
    y = runner_class.prepare_targets(loss, y)
    check_class_labels(model, loss, x, y)
    return split_validation(x, y, validation_data, validation_split, model)


def _callbacks(runner, setup):
    """All of ``fit``'s callbacks, in the order they are called: resume, progress, yours, the
    runner's, and the checkpoint last (it saves what the others changed). The resume and the save
    share ``setup.description``: the resume checks it and hands it the optimizer settings the run
    started with, the save records it."""
    callbacks = []
    if setup.resume_dir is not None:
        callbacks.append(ResumeFromCheckpoint(setup.resume_dir, runner.loader, setup.augment, setup.verbose,
                                              setup.description))
    callbacks += progress_callbacks(setup.verbose, setup.epochs, len(runner.loader))
    callbacks += setup.callbacks + runner.callbacks
    if setup.checkpoint_dir is not None:
        callbacks.append(SaveCheckpoint(setup.checkpoint_dir, runner.loader, setup.augment,
                                        setup.description))
    return callbacks


def _acts_on_batch_end(callback):
    """False where ``on_batch_end`` is ``Callback``'s, which does nothing: the runners skip it."""
    return getattr(callback.on_batch_end, "__func__", None) is not Callback.on_batch_end


def _train(run, runner, setup, stop):
    """The epochs, with the callbacks around them; returns the ``History``."""
    callbacks = _callbacks(runner, setup)
    step_callbacks = [callback for callback in callbacks if _acts_on_batch_end(callback)]
    if setup.seed is not None:
        manual_seed(setup.seed)  # Dropout masks
    for callback in callbacks:
        callback.on_train_begin(run)  # a resume sets run.epoch to the epoch it restored
    model = run.model
    was_training, needed_input_grad = model.training, model.needs_input_grad
    model.train()
    model.needs_input_grad = False  # nobody uses dL/dx of the data: skip that product
    logs = {}
    try:
        with runner:
            for epoch in range(run.epoch + 1, setup.epochs + 1):
                run.epoch = epoch
                for callback in callbacks:
                    callback.on_epoch_begin(epoch)
                logs = _train_epoch(run, runner, setup, stop, step_callbacks)
                run.history.append(logs)
                _schedule_after_epoch(run.schedule, logs, setup.step_schedule)
                for callback in callbacks:
                    callback.on_epoch_end(epoch, logs)
                if run.stop_training:
                    break
    finally:
        model.needs_input_grad = needed_input_grad
        model.train(was_training)
    for callback in callbacks:
        callback.on_train_end(logs)
    return run.history


def _train_epoch(run, runner, setup, stop, step_callbacks):
    """One epoch by the runner, checked for divergence, then validated; returns its logs."""
    start = time.perf_counter()
    lr = run.optimizer.lr
    total_loss, seen, metric_sums = runner.run_epoch(run, step_callbacks)
    stop.check_epoch(total_loss, seen)
    logs = {"epoch": run.epoch, "loss": total_loss / seen}
    for (name, _), total in zip(setup.metrics, metric_sums):
        logs[name] = total / seen
    if setup.validation is not None:
        results = _evaluate(run.model, run.loss, *setup.validation, setup.metrics, batch_size=1024)
        logs.update({f"val_{key}": value for key, value in results.items()})
    seconds = time.perf_counter() - start
    logs.update({"lr": lr, "seconds": seconds, "samples_per_second": seen / seconds})
    return logs


def _schedule_after_epoch(schedule, logs, step_schedule):
    """An epoch schedule steps after each epoch (a per-step one stepped after each batch)."""
    if schedule is None or step_schedule:
        return
    if getattr(schedule, "needs_metric", False):
        schedule.step(logs.get("val_loss", logs["loss"]))
    else:
        schedule.step()


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
    batch_size = positive_int(batch_size, "batch_size")
    check_model(model)
    if loss is not None:
        check_loss(loss)
        warn_if_double_softmax(model, loss, "evaluate")
    x, y = as_inputs(model, x, y)
    return _evaluate(model, loss, x, y, resolve_metrics(metrics, loss), batch_size)


def predict(model, x, batch_size=1024):
    """The model's outputs for ``x`` (logits for a classifier), computed in eval mode in batches, so
    that any number of rows fits in memory: ``(samples, features)`` -> ``(samples, outputs)``."""
    batch_size = positive_int(batch_size, "batch_size")
    check_model(model)
    on_host = not backend.is_gpu_array(x)
    x, _ = as_inputs(model, x)
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
