"""Resumable checkpoints: model, optimizer, schedule, data order, random state and history in one file.

The file is written atomically (temporary file + rename), so a crash while writing leaves the previous
checkpoint intact. It uses the model-file layout (safetensors): tensors named ``model/<name>`` and
``optimizer/<name>``, everything else as JSON in the metadata.

``fit(checkpoint_dir=..., resume=...)`` uses two callbacks: ``ResumeFromCheckpoint`` (the first of
its callbacks: the others start from the restored state) and ``SaveCheckpoint`` (the last: the file
holds what the other callbacks changed at the end of the epoch). Without a checkpoint in the folder,
``resume=True`` starts from scratch, so that a script can always pass it (``ownnet train --resume``
refuses a folder without one: there it is a typo).

**What a resume compares.** A checkpoint records how its run was set up (metadata ``run``, see
``describe_run``): the model's architecture (every module's class and config, depth first), the
optimizer's class and hyperparameters as they were when training started, the schedule's class and
config, the ``epochs`` asked for, and ``fit``'s ``run_config`` (``ownnet train`` puts its recipe
config there; it is kept for the caller, ``ownnet.apps.resume`` compares it, ``fit`` does not).
``fit(resume=True)`` describes its own run the same way and raises ``CheckpointMismatchError`` (a
``ValueError``), naming each difference, when the architecture, the optimizer's class or
hyperparameters (those of the start of the run; an optimizer that has taken steps already, the same
object trained on in the same process, must be in the state last saved), or the schedule's class or
config differ, or when the checkpoint is further than
the ``epochs`` asked for. ``epochs`` itself may grow: what depends on the total (the cosine
schedule's ``T_max``) is in the schedule's config. Of the data only the loader's length, batch size
and shuffling are compared (``DataLoader.load_state_dict``), not the values.

**Every field is validated** before anything is restored, as the model file's are, and a bad one
raises ``ModelFormatError`` naming it: ``epoch`` an integer from 0 to the recorded ``epochs``,
``history`` lists of plain values with ``history["epoch"] == [1, ..., epoch]``, ``rng``, the loader's
generator and ``RandomShift``'s (``augment``) valid NumPy bit-generator states, ``optimizer``,
``schedule`` and ``loader`` dicts (or null), read by their owners' ``load_state_dict`` (which check
their contents). A checkpoint
without ``run`` (written before the run was recorded) is refused: continue it with the ownnet that
wrote it, or start the run afresh in another folder.
"""

import json
import os
from dataclasses import dataclass

from ownnet.io import ModelFormatError, read_tensors, write_tensors
from ownnet.nn import init
from ownnet.train.callbacks import Callback
from ownnet.train.checkpoint_fields import (
    FORMAT,
    RUN_FIELDS,
    check_epoch,
    check_generator_state,
    check_history,
    check_run,
    parse_fields,
)

__all__ = ["CHECKPOINT_NAME", "Checkpoint", "CheckpointMismatchError", "ResumeFromCheckpoint",
           "SaveCheckpoint", "check_matches", "checkpoint_path", "describe_run", "load_checkpoint",
           "read_checkpoint", "save_checkpoint"]

CHECKPOINT_NAME = "checkpoint.safetensors"


class CheckpointMismatchError(ValueError):
    """A valid checkpoint of another run: other architecture, optimizer, schedule or length."""


def checkpoint_path(directory):
    return os.path.join(os.fspath(directory), CHECKPOINT_NAME)


def _as_json(value):
    """``value`` as it comes back from JSON (tuples become lists), for comparisons with a file's."""
    return json.loads(json.dumps(value, default=repr))


def describe_run(model, optimizer, schedule=None, epochs=None, config=None):
    """How a run is set up, as a checkpoint records it (metadata ``run``): ``{"model": [[class,
    config], ...] (depth first), "optimizer": {"type", "hyperparameters", "step_count"},
    "schedule": {"type", "config"} or None, "epochs", "config"}``. Call it before training (the
    hyperparameters of the start)."""
    return _as_json({
        "model": [[type(module).__name__, module.get_config()] for module in model.modules()],
        "optimizer": {"type": type(optimizer).__name__, "hyperparameters": optimizer.hyperparameters,
                      "step_count": optimizer.step_count},
        "schedule": None if schedule is None else {"type": type(schedule).__name__,
                                                   "config": schedule.get_config()},
        "epochs": epochs,
        "config": config,
    })


def save_checkpoint(directory, epoch, model, optimizer, history, schedule=None, loader=None,
                    augment=None, run=None):
    """Write the state after ``epoch`` (1-based) into ``directory/checkpoint.safetensors``; ``run`` is
    ``describe_run``'s record of the run (made from the current state when None)."""
    os.makedirs(directory, exist_ok=True)
    if run is None:
        run = describe_run(model, optimizer, schedule, epochs=epoch)
    optimizer_state = optimizer.state_dict()
    tensors = {f"model/{name}": array for name, array in model.state_dict().items()}
    tensors.update({f"optimizer/{name}": array for name, array in optimizer_state["state"].items()})
    metadata = {
        "format": FORMAT,
        "epoch": str(epoch),
        "run": json.dumps(run),
        "optimizer": json.dumps({key: value for key, value in optimizer_state.items() if key != "state"}),
        "schedule": json.dumps(schedule.state_dict() if schedule is not None else None),
        "loader": json.dumps(loader.state_dict() if loader is not None else None),
        "rng": json.dumps(init.rng().bit_generator.state),
        "augment": json.dumps(augment.state_dict() if hasattr(augment, "state_dict") else None),
        "history": json.dumps(history.to_dict()),
    }
    path = checkpoint_path(directory)
    write_tensors(path, tensors, metadata)
    return path


@dataclass
class Checkpoint:
    """A checkpoint file, read and validated (``read_checkpoint``): the fields of its metadata, parsed."""

    path: str
    epoch: int
    run: dict
    optimizer: dict
    schedule: object
    loader: object
    rng: dict
    augment: object
    history: dict
    tensors: dict

    def arrays(self, prefix):
        """``{name: array}`` of the tensors named ``<prefix>/<name>``."""
        return {name[len(prefix) + 1:]: array for name, array in self.tensors.items()
                if name.startswith(prefix + "/")}


def read_checkpoint(directory):
    """The checkpoint in ``directory``, every field checked (``ModelFormatError`` naming the first
    bad one); nothing is restored."""
    path = checkpoint_path(directory)
    tensors, metadata = read_tensors(path)
    fields = parse_fields(path, metadata)
    run = check_run(path, fields["run"])
    epoch = check_epoch(path, metadata["epoch"], run["epochs"])
    check_history(path, fields["history"], epoch)
    check_generator_state(path, "rng", fields["rng"], type(init.rng().bit_generator).__name__)
    if isinstance(fields["augment"], dict) and "bit_generator" in fields["augment"]:  # RandomShift's
        check_generator_state(path, "augment", fields["augment"])  # (another augment checks its own)
    if not isinstance(fields["optimizer"], dict):
        raise ModelFormatError(f"{path}: field 'optimizer' must be a JSON object, "
                               f"got {fields['optimizer']!r:.100}")
    for name in ("schedule", "loader"):
        if fields[name] is not None and not isinstance(fields[name], dict):
            raise ModelFormatError(f"{path}: field {name!r} must be a JSON object or null, "
                                   f"got {fields[name]!r:.100}")
    if fields["loader"] is not None:
        check_generator_state(path, "loader", fields["loader"].get("rng_state"))
    return Checkpoint(path, epoch, run, tensors=tensors, **{name: fields[name] for name in RUN_FIELDS})


def _differences(checkpoint, current):
    """What keeps ``checkpoint`` from continuing the run ``current`` (``describe_run``): a list of
    ``"what: checkpoint X, this run Y"``."""
    saved = checkpoint.run
    found = []
    if saved["model"] != current["model"]:
        found.append(_model_difference(saved["model"], current["model"]))
    found += _optimizer_differences(checkpoint, current["optimizer"])
    if saved["schedule"] != current["schedule"]:
        found.append(f"schedule: checkpoint {_schedule_text(saved['schedule'])}, "
                     f"this run {_schedule_text(current['schedule'])}")
    if current["epochs"] is not None and checkpoint.epoch > current["epochs"]:
        found.append(f"epochs: the checkpoint is after epoch {checkpoint.epoch}, this run asks for "
                     f"epochs={current['epochs']}")
    return found


def _optimizer_differences(checkpoint, now):
    """A fresh optimizer (no step taken) must be set up as the run's was at its start; one that has
    trained (the same object, in the same process) must be in the state the checkpoint saved."""
    if now["step_count"] == 0:
        before = checkpoint.run["optimizer"]
    else:
        before = {key: checkpoint.optimizer.get(key) for key in ("type", "hyperparameters", "step_count")}
    if before["type"] != now["type"]:
        return [f"optimizer: checkpoint {before['type']}, this run {now['type']}"]
    saved = before["hyperparameters"]
    found = [f"optimizer {name}: checkpoint {saved.get(name)!r}, this run {value!r}"
             for name, value in now["hyperparameters"].items() if saved.get(name) != value]
    if now["step_count"] != 0 and before["step_count"] != now["step_count"]:
        found.append(f"optimizer steps taken: checkpoint {before['step_count']!r}, "
                     f"this optimizer {now['step_count']}")
    return found


def _model_difference(saved, current):
    """The first modules that differ (of at most 3)."""
    found = [f"module {index} is {before[0]}({before[1]}) in the checkpoint, {now[0]}({now[1]}) in this run"
             for index, (before, now) in enumerate(zip(saved, current)) if before != now]
    if len(saved) != len(current):
        found.append(f"{len(saved)} modules in the checkpoint, {len(current)} in this run")
    return "model: " + ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")


def _schedule_text(schedule):
    return "none" if schedule is None else f"{schedule['type']}({schedule['config']})"


def check_matches(checkpoint, current):
    """Raise ``CheckpointMismatchError`` naming every difference between ``checkpoint``'s run and
    ``current`` (``describe_run``)."""
    found = _differences(checkpoint, current)
    if found:
        raise CheckpointMismatchError(
            f"{checkpoint.path}: this checkpoint is of another run ({'; '.join(found)}); resume with "
            "the settings it was made with, or train into another folder")


def _restore(checkpoint, model, optimizer, history, schedule, loader, augment):
    """Copy ``checkpoint``'s state into the objects; a field they refuse is named in a
    ``ModelFormatError``."""
    steps = [("model", lambda: model.load_state_dict(checkpoint.arrays("model"))),
             ("optimizer", lambda: optimizer.load_state_dict(
                 {**checkpoint.optimizer, "state": checkpoint.arrays("optimizer")}))]
    if schedule is not None:
        steps.append(("schedule", lambda: schedule.load_state_dict(checkpoint.schedule)))
    if loader is not None:
        steps.append(("loader", lambda: loader.load_state_dict(checkpoint.loader)))
    if hasattr(augment, "load_state_dict"):
        steps.append(("augment", lambda: augment.load_state_dict(checkpoint.augment)))
    for field, restore in steps:
        try:
            restore()
        except (KeyError, ValueError, TypeError) as error:
            raise ModelFormatError(f"{checkpoint.path}: field {field!r} does not fit this run: {error}") \
                from error
    init.rng().bit_generator.state = checkpoint.rng
    history.history = {key: list(values) for key, values in checkpoint.history.items()}


def load_checkpoint(directory, model, optimizer, history, schedule=None, loader=None, augment=None,
                    run=None):
    """Restore everything ``save_checkpoint`` wrote; returns the epoch it was saved after. With
    ``run`` (``describe_run`` of this run), a checkpoint of another run is refused first
    (``CheckpointMismatchError``)."""
    checkpoint = read_checkpoint(directory)
    if run is not None:
        check_matches(checkpoint, run)
    _restore(checkpoint, model, optimizer, history, schedule, loader, augment)
    return checkpoint.epoch


class ResumeFromCheckpoint(Callback):
    """At the start of training: restore the run from ``folder``'s checkpoint, if there is one;
    ``run.epoch`` is then the epoch it was saved after (``fit`` continues with the next one).

    ``description`` (``describe_run`` of this run, or None to compare nothing) is checked against
    the checkpoint's; its ``optimizer`` entry then becomes the checkpoint's, so that the checkpoints
    written next keep recording the hyperparameters the run started with."""

    def __init__(self, folder, loader, augment=None, verbose=False, description=None):
        self.folder, self.loader, self.augment, self.verbose = folder, loader, augment, verbose
        self.description = description

    def on_train_begin(self, run):
        super().on_train_begin(run)
        path = checkpoint_path(self.folder)
        if not os.path.exists(path):
            return
        checkpoint = read_checkpoint(self.folder)
        if self.description is not None:
            check_matches(checkpoint, self.description)
            self.description["optimizer"] = checkpoint.run["optimizer"]
        _restore(checkpoint, run.model, run.optimizer, run.history, run.schedule, self.loader, self.augment)
        run.epoch = checkpoint.epoch
        if self.verbose:
            print(f"resumed from {path} after epoch {run.epoch}")


class SaveCheckpoint(Callback):
    """After every epoch: the whole state of the run into ``folder`` (``save_checkpoint``), with
    ``description`` (``describe_run``) as its record of the run."""

    def __init__(self, folder, loader, augment=None, description=None):
        self.folder, self.loader, self.augment, self.description = folder, loader, augment, description

    def on_epoch_end(self, epoch, logs):
        run = self.run
        save_checkpoint(self.folder, epoch, run.model, run.optimizer, run.history, run.schedule,
                        self.loader, self.augment, self.description)
