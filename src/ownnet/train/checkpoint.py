"""Resumable checkpoints: model, optimizer, schedule, data order, random state and history in one file.

The file is written atomically (temporary file + rename), so a crash while writing leaves the previous
checkpoint intact. It uses the model-file layout (safetensors): tensors named ``model/<name>`` and
``optimizer/<name>``, everything else as JSON in the metadata.

``fit(checkpoint_dir=..., resume=...)`` uses two callbacks: ``ResumeFromCheckpoint`` (the first of
its callbacks: the others start from the restored state) and ``SaveCheckpoint`` (the last: the file
holds what the other callbacks changed at the end of the epoch).
"""

import json
import os

from ownnet.io import ModelFormatError, read_tensors, write_tensors
from ownnet.nn import init
from ownnet.train.callbacks import Callback

CHECKPOINT_NAME = "checkpoint.safetensors"


def checkpoint_path(directory):
    return os.path.join(os.fspath(directory), CHECKPOINT_NAME)


def save_checkpoint(directory, epoch, model, optimizer, history, schedule=None, loader=None,
                    augment=None):
    """Write the state after ``epoch`` (1-based) into ``directory/checkpoint.safetensors``."""
    os.makedirs(directory, exist_ok=True)
    optimizer_state = optimizer.state_dict()
    tensors = {f"model/{name}": array for name, array in model.state_dict().items()}
    tensors.update({f"optimizer/{name}": array for name, array in optimizer_state["state"].items()})
    metadata = {
        "format": "ownnet-checkpoint",
        "epoch": str(epoch),
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


def load_checkpoint(directory, model, optimizer, history, schedule=None, loader=None, augment=None):
    """Restore everything ``save_checkpoint`` wrote; returns the epoch it was saved after."""
    path = checkpoint_path(directory)
    tensors, metadata = read_tensors(path)
    if metadata.get("format") != "ownnet-checkpoint":
        raise ModelFormatError(f"{path}: not an ownnet checkpoint (format={metadata.get('format')!r})")
    try:
        model.load_state_dict({name[len("model/"):]: array for name, array in tensors.items()
                               if name.startswith("model/")})
        optimizer_state = json.loads(metadata["optimizer"])
        optimizer_state["state"] = {name[len("optimizer/"):]: array for name, array in tensors.items()
                                    if name.startswith("optimizer/")}
        optimizer.load_state_dict(optimizer_state)
        if schedule is not None:
            schedule.load_state_dict(json.loads(metadata["schedule"]))
        if loader is not None:
            loader.load_state_dict(json.loads(metadata["loader"]))
        init.rng().bit_generator.state = json.loads(metadata["rng"])
        if hasattr(augment, "load_state_dict"):
            augment.load_state_dict(json.loads(metadata["augment"]))
        history.history = json.loads(metadata["history"])
        return int(metadata["epoch"])
    except (KeyError, ValueError, TypeError) as error:
        raise ModelFormatError(f"{path}: checkpoint does not match this run: {error}") from error


class ResumeFromCheckpoint(Callback):
    """At the start of training: restore the run from ``folder``'s checkpoint, if there is one;
    ``run.epoch`` is then the epoch it was saved after (``fit`` continues with the next one)."""

    def __init__(self, folder, loader, augment=None, verbose=False):
        self.folder, self.loader, self.augment, self.verbose = folder, loader, augment, verbose

    def on_train_begin(self, run):
        super().on_train_begin(run)
        path = checkpoint_path(self.folder)
        if not os.path.exists(path):
            return
        run.epoch = load_checkpoint(self.folder, run.model, run.optimizer, run.history, run.schedule,
                                    self.loader, self.augment)
        if self.verbose:
            print(f"resumed from {path} after epoch {run.epoch}")


class SaveCheckpoint(Callback):
    """After every epoch: the whole state of the run into ``folder`` (``save_checkpoint``)."""

    def __init__(self, folder, loader, augment=None):
        self.folder, self.loader, self.augment = folder, loader, augment

    def on_epoch_end(self, epoch, logs):
        run = self.run
        save_checkpoint(self.folder, epoch, run.model, run.optimizer, run.history, run.schedule,
                        self.loader, self.augment)
