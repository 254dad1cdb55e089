"""The checks of a checkpoint's metadata fields (``ownnet.train.checkpoint``), as the model file's are
checked: each bad field is a ``ModelFormatError`` that names it, what was expected and what was found.

The metadata is ``{str: str}``: ``format``, ``epoch`` (a decimal integer) and JSON texts for ``run``,
``optimizer``, ``schedule``, ``loader``, ``rng``, ``augment`` and ``history``.
"""

import json
import re
from numbers import Integral, Real

import numpy as np

from ownnet.io import ModelFormatError

FORMAT = "ownnet-checkpoint"
RUN_FIELDS = ("optimizer", "schedule", "loader", "rng", "augment", "history")
"""The JSON fields besides ``run``, restored by their owners."""

BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
"""The NumPy bit generators whose state a checkpoint may hold (``np.random.default_rng`` is PCG64)."""

_EPOCH_TEXT = re.compile(r"[0-9]{1,18}")


def parse_fields(path, metadata):
    """``{name: parsed JSON}`` of ``run`` and ``RUN_FIELDS``, after checking the ``format``."""
    if metadata.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not an ownnet checkpoint (format={metadata.get('format')!r})")
    if "run" not in metadata:
        raise ModelFormatError(
            f"{path}: this checkpoint does not record the run's settings (field 'run'; written by an "
            "older ownnet), so a resume could not check them; continue it with the ownnet that wrote "
            "it, or start the run afresh in another folder")
    fields = {}
    for name in ("epoch", "run", *RUN_FIELDS):
        if name not in metadata:
            raise ModelFormatError(f"{path}: field {name!r} is missing")
        if name != "epoch":
            try:
                fields[name] = json.loads(metadata[name])
            except (TypeError, ValueError) as error:
                raise ModelFormatError(f"{path}: field {name!r} is not valid JSON ({error})") from None
    return fields


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_run(path, run):
    """``run`` (``describe_run``'s record): its keys and the form of each entry."""
    keys = {"model", "optimizer", "schedule", "epochs", "config"}
    if not isinstance(run, dict) or set(run) != keys:
        raise ModelFormatError(f"{path}: field 'run' must be an object with keys {sorted(keys)}, "
                               f"got {run!r:.100}")
    model, optimizer, schedule = run["model"], run["optimizer"], run["schedule"]
    if not isinstance(model, list) or not all(
            isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
            and isinstance(entry[1], dict) for entry in model):
        raise ModelFormatError(f"{path}: field 'run': 'model' must be a list of [class name, config], "
                               f"got {model!r:.100}")
    if not (isinstance(optimizer, dict) and set(optimizer) == {"type", "hyperparameters", "step_count"}
            and isinstance(optimizer["type"], str) and isinstance(optimizer["hyperparameters"], dict)
            and _is_int(optimizer["step_count"])):
        raise ModelFormatError(f"{path}: field 'run': 'optimizer' must be {{type, hyperparameters, "
                               f"step_count}}, got {optimizer!r:.100}")
    if schedule is not None and not (isinstance(schedule, dict) and set(schedule) == {"type", "config"}
                                     and isinstance(schedule["type"], str)
                                     and isinstance(schedule["config"], dict)):
        raise ModelFormatError(f"{path}: field 'run': 'schedule' must be null or {{type, config}}, "
                               f"got {schedule!r:.100}")
    if not _is_int(run["epochs"]) or run["epochs"] < 0:
        raise ModelFormatError(f"{path}: field 'run': 'epochs' must be an integer >= 0, "
                               f"got {run['epochs']!r:.100}")
    if run["config"] is not None and not isinstance(run["config"], dict):
        raise ModelFormatError(f"{path}: field 'run': 'config' must be an object or null, "
                               f"got {run['config']!r:.100}")
    return run


def check_epoch(path, text, epochs):
    """The ``epoch`` field: a decimal integer from 0 to ``epochs`` (the run's), as an int."""
    if not isinstance(text, str) or not _EPOCH_TEXT.fullmatch(text) or int(text) > epochs:
        raise ModelFormatError(f"{path}: field 'epoch' must be an integer from 0 to the run's "
                               f"epochs ({epochs}), got {text!r:.100}")
    return int(text)


def _plain(value):
    return value is None or isinstance(value, (str, Real))  # bool is a Real


def check_history(path, history, epoch):
    """The ``history`` field: ``{name: [plain value per epoch]}``, ``history["epoch"]`` the epochs
    ``1, ..., epoch``, no list longer than ``epoch``."""
    if not isinstance(history, dict):
        raise ModelFormatError(f"{path}: field 'history' must be an object of per-epoch lists, "
                               f"got {history!r:.100}")
    for key, values in history.items():
        if not isinstance(values, list) or len(values) > epoch or not all(map(_plain, values)):
            raise ModelFormatError(
                f"{path}: field 'history': {key!r} must be a list of at most {epoch} numbers "
                f"(one per epoch), got {values!r:.100}")
    if history.get("epoch", []) != list(range(1, epoch + 1)):
        raise ModelFormatError(f"{path}: field 'history': 'epoch' must be the epochs 1 to {epoch}, "
                               f"got {history.get('epoch')!r:.100}")


def _same_form(state, reference):
    """Whether ``state`` has the keys and kinds of values of ``reference`` (a fresh generator's)."""
    if isinstance(reference, dict):
        return isinstance(state, dict) and set(state) == set(reference) and all(
            _same_form(state[key], reference[key]) for key in reference)
    if isinstance(reference, str):
        return state == reference
    if isinstance(reference, np.ndarray):
        return isinstance(state, list) and len(state) == reference.size and all(map(_is_int, state))
    return _is_int(state)


def check_generator_state(path, field, state, kind=None):
    """``state`` must be the state of a NumPy bit generator (of class ``kind`` when given): the keys
    and integers that a fresh one of its class has, accepted by that class."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    allowed = (kind,) if kind is not None else BIT_GENERATORS
    if name not in allowed:
        raise ModelFormatError(f"{path}: field {field!r} must be the state of a NumPy bit generator "
                               f"({' or '.join(allowed)}), got {state!r:.100}")
    generator = getattr(np.random, name)()
    if not _same_form(state, generator.state):
        raise ModelFormatError(f"{path}: field {field!r}: malformed {name} state {state!r:.100}")
    try:
        generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise ModelFormatError(f"{path}: field {field!r}: invalid {name} state ({error})") from None
