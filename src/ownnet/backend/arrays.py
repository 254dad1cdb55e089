"""Making and converting arrays: new zeros on the backend's device, host data checked and uploaded to
a model's device (``as_float_array``: the validated entry points' conversion)."""

import numpy as np

import ownnet.backend.device as devices
from ownnet.backend.device import (
    check_device,
    default_device,
    import_cupy,
    is_gpu_array,
    resolve_device,
    xp_of,
)
from ownnet.backend.dtype import get_check_finite, resolve_dtype


def zeros(shape, dtype=None):
    """Zeros of ``dtype`` (default: the default dtype) on the backend's device."""
    return devices.xp.zeros(shape, dtype=resolve_dtype(dtype))


_FINITE_CHUNK = 1 << 20
"""Elements checked at a time by ``all_finite``: a 1 MB temporary, whatever the size of the data."""


def all_finite(x):
    """Whether every element of ``x`` is finite, checked in blocks of rows, so that a million-row input
    needs no boolean temporary as large as itself."""
    module = xp_of(x)
    if module is not np:  # one reduction on the GPU (no temporary problem there: no host copy)
        return bool(module.isfinite(x).all())
    if x.ndim == 0 or x.size <= _FINITE_CHUNK:
        return bool(np.isfinite(x).all())
    rows = max(1, _FINITE_CHUNK // (x.size // len(x)))
    return all(bool(np.isfinite(x[start:start + rows]).all()) for start in range(0, len(x), rows))


def as_device_array(x, name="x", device=None):
    """``x`` as an array on ``device`` (default: the backend's): host data (NumPy arrays, lists) is
    uploaded to the GPU; a GPU array for the CPU is a ``TypeError`` (see ``check_device``)."""
    device = default_device() if device is None else resolve_device(device)
    if is_gpu_array(x):
        check_device(x, device, name)
        return x
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as error:
            raise TypeError(f"{name}: expected a numeric array, could not convert it ({error})") from None
    if device == "gpu" and x.dtype.kind in "fiub":
        return import_cupy().asarray(x)
    return x


def as_float_array(x, name="x", dtype=None, check_finite=None, device=None):
    """Convert ``x`` (array, list, int or bool data) to a float array of ``dtype`` on ``device``
    (default: the backend's; see ``as_device_array``).

    Integer and boolean inputs are converted to ``dtype``; float inputs of another precision are cast
    (never upcast silently: a float32 model fed float64 data computes in float32). Raises ``TypeError``
    for non-numeric data and ``ValueError`` for empty arrays or NaN/inf values.
    """
    dtype = resolve_dtype(dtype)
    x = as_device_array(x, name, device)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected numeric data (float, int or bool), got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{name}: expected an array of shape (batch, ...), got a scalar")
    if x.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {x.shape}")
    if x.dtype != dtype:
        x = x.astype(dtype)
    if (get_check_finite() if check_finite is None else check_finite) and not all_finite(x):
        bad = int(x.size - xp_of(x).isfinite(x).sum())
        raise ValueError(f"{name}: contains {bad} NaN or inf value(s); expected finite numbers")
    return x
