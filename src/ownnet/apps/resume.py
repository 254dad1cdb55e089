"""``ownnet train --out D --resume``: the configuration a resumed run continues with.

The checkpoint in ``D/checkpoint`` records the recipe config of the run that wrote it
(``ownnet.apps.recipes``). A flag left out is taken from it, so ``ownnet train --out D --resume``
alone continues the run, and ``--recipe`` left out resets nothing. A flag given explicitly that
differs from it is refused (``ResumeError``), naming each difference and how to go on: leave the flag
out, or give another ``--out`` for a new run. ``--epochs`` may change where the schedule does not
depend on the total (``recipes.SCHEDULES_USING_EPOCHS``: step and cosine do), down to the epochs
already done. A folder without a checkpoint, or whose checkpoint records no config (written by
``fit`` directly), is refused too.

The recorded config is a file's content: it is checked key by key (the values the command line
accepts), and the hidden layers it asks for must fit in the weights the checkpoint holds, so that a
crafted checkpoint cannot make the run allocate more than a file of that size describes.
"""

import math
import os
from numbers import Integral, Real

from ownnet.apps import recipes
from ownnet.train.checkpoint import checkpoint_path, read_checkpoint

INPUTS = {"mnist": 784, "fashion-mnist": 784}
"""The number of inputs of each data set's model (2 for the synthetic ones)."""


class ResumeError(ValueError):
    """``--resume`` cannot continue the run in ``--out`` with these flags."""


def _int_at_least(minimum):
    return lambda v: isinstance(v, Integral) and not isinstance(v, bool) and v >= minimum


def _real_in(low, high, high_included=False):
    return lambda v: (isinstance(v, Real) and not isinstance(v, bool) and low <= v
                      and (v <= high if high_included else v < high))


_VALID = {
    "dataset": lambda v: v in recipes.DATASETS,
    "hidden": lambda v: isinstance(v, list) and all(map(_int_at_least(1), v)),
    "activation": lambda v: isinstance(v, str),
    "dropout": _real_in(0, 1),
    "batch_norm": lambda v: isinstance(v, bool),
    "optimizer": lambda v: v in recipes.OPTIMIZERS,
    "lr": lambda v: _real_in(0, math.inf)(v) and v > 0,
    "momentum": _real_in(0, 1),
    "weight_decay": _real_in(0, math.inf),
    "batch_size": _int_at_least(1),
    "epochs": _int_at_least(1),
    "schedule": lambda v: v in recipes.SCHEDULES,
    "seed": _int_at_least(0),
    "dtype": lambda v: v in ("float32", "float64"),
    "device": lambda v: v in ("cpu", "gpu"),
    "augment": _int_at_least(0),
    "limit": lambda v: v is None or _int_at_least(1)(v),
    "validation": lambda v: v is None or isinstance(v, str),
}
"""What each key of a recorded config may hold (the values ``ownnet train``'s flags produce)."""


def _check_saved_config(checkpoint):
    """The checkpoint's recorded config, checked; ``ResumeError`` if it has none or a bad one."""
    saved = checkpoint.run["config"]
    if saved is None:
        raise ResumeError(f"{checkpoint.path} records no ownnet train configuration (it was written by "
                          "fit(checkpoint_dir=...)); resume it from Python, or give another --out")
    if set(saved) != set(_VALID):
        raise ResumeError(f"{checkpoint.path}: the recorded configuration must have the keys "
                          f"{sorted(_VALID)}, got {sorted(saved)}")
    bad = [key for key, valid in _VALID.items() if not valid(saved[key])]
    if bad:
        raise ResumeError(f"{checkpoint.path}: invalid recorded configuration "
                          + ", ".join(f"{key}={saved[key]!r:.60}" for key in bad))
    sizes = [INPUTS.get(saved["dataset"], 2), *saved["hidden"]]
    implied = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    held = sum(array.size for array in checkpoint.arrays("model").values())
    if implied > held:
        raise ResumeError(f"{checkpoint.path}: the recorded hidden layers {saved['hidden']} need "
                          f"{implied:,} weights, the checkpoint holds {held:,}")
    return saved


def _flag(key, flags):
    """The command-line spelling of a config key: ``--weight-decay``, or the recipe that set it."""
    return f"--{key.replace('_', '-')}" if flags.get(key) is not None else f"--recipe ({key})"


def _text(value):
    if isinstance(value, list):
        return ",".join(map(str, value)) if value else "''"
    return "none" if value is None else str(value)


def resumed_config(out, recipe, flags):
    """The config that ``ownnet train --out OUT --resume`` continues with: the checkpoint's, with the
    flags given (``flags``: {config key: value or None when left out}; ``recipe``: the ``--recipe``
    given or None). Raises ``ResumeError`` (one line) for no checkpoint, or a flag that differs."""
    folder = os.path.join(out, "checkpoint")
    if not os.path.exists(checkpoint_path(folder)):
        raise ResumeError(f"no checkpoint in {out} (expected {checkpoint_path(folder)}); check --out, "
                          "or leave out --resume to start a new run there")
    checkpoint = read_checkpoint(folder)
    saved = _check_saved_config(checkpoint)
    given = {key: value for key, value in flags.items() if value is not None}
    if recipe is not None:
        given = recipes.config_for(recipe, **given)
    config = {**saved, **given}
    found = recipes.resume_differences(saved, config, checkpoint.epoch)
    if found:
        differences = "; ".join(f"{_flag(key, flags)}: checkpoint {_text(before)}, given {_text(now)}"
                                + (f" ({why})" if why else "") for key, before, now, why in found)
        raise ResumeError(f"the checkpoint in {out} is of another run: {differences}; leave these flags "
                          "out to continue it, or give another --out for a new run")
    return config
