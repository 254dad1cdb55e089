"""The argument checks shared by the loader, the preprocessing helpers and ``ShardedLoader``:
a data argument becomes an array with a first (sample) axis, lengths must agree, counts are
positive integers, and a seed makes a generator. Each raises with the argument's name in the message.
"""

import numbers

import numpy as np

from ownnet import backend

__all__ = ["as_samples", "check_same_length", "make_rng", "positive_int"]


def as_samples(array, name):
    """``array`` as an array with a first (sample) axis; arrays (and memmaps) are kept, not copied."""
    if not (isinstance(array, np.ndarray) or backend.is_gpu_array(array)):
        try:
            array = np.asarray(array)
        except (ValueError, TypeError) as error:
            raise TypeError(f"{name}: expected an array, could not convert it ({error})") from None
    if array.ndim == 0:
        raise ValueError(f"{name}: expected an array of shape (samples, ...), got a scalar")
    if array.dtype.hasobject:
        raise TypeError(f"{name}: expected numeric data, got dtype {array.dtype}")
    return array


def check_same_length(x, y, x_name="x", y_name="y"):
    """A ``ValueError`` unless ``x`` and ``y`` have the same number of samples."""
    if len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of samples, "
            f"got len({x_name})={len(x)} and len({y_name})={len(y)}"
        )


def positive_int(value, name):
    """``value`` as an ``int`` >= 1 (a bool is refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def make_rng(seed):
    """``np.random.default_rng(seed)``, with a ``TypeError`` naming ``seed`` for a bad one."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as error:
        raise TypeError(f"seed: expected None or a non-negative integer, got {seed!r} ({error})") from None
