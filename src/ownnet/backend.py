"""The one place that knows the array library (``xp``) and the default dtype.

Every array ownnet creates goes through here, so that a GPU backend (CuPy) can replace NumPy
without touching the layers. float32 is the default; float64 on request.
"""

import numpy as np

xp = np
"""The array module in use (NumPy by default)."""

_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_default_dtype = np.dtype(np.float32)
_check_finite = True


def get_default_dtype():
    """The dtype of new parameters and of converted inputs (``float32`` unless changed)."""
    return _default_dtype


def set_default_dtype(dtype):
    """Set the dtype of new parameters: ``"float32"`` (default) or ``"float64"``."""
    global _default_dtype
    _default_dtype = resolve_dtype(dtype)


def resolve_dtype(dtype):
    """Turn ``None`` (the default), a string or a NumPy dtype into a supported float dtype."""
    if dtype is None:
        return _default_dtype
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected 'float32' or 'float64', got {dtype!r}") from None
    if resolved not in _SUPPORTED_DTYPES:
        raise TypeError(f"dtype: expected 'float32' or 'float64', got {resolved}")
    return resolved


def set_check_finite(enabled):
    """Switch the NaN/inf check on model inputs on (default) or off (a little faster)."""
    global _check_finite
    _check_finite = bool(enabled)


def get_check_finite():
    return _check_finite


def zeros(shape, dtype=None):
    return xp.zeros(shape, dtype=resolve_dtype(dtype))


_FINITE_CHUNK = 1 << 20
"""Elements checked at a time by ``all_finite``: a 1 MB temporary, whatever the size of the data."""


def all_finite(x):
    """Whether every element of ``x`` is finite, checked in blocks of rows, so that a million-row input
    needs no boolean temporary as large as itself."""
    if x.ndim == 0 or x.size <= _FINITE_CHUNK:
        return bool(xp.isfinite(x).all())
    rows = max(1, _FINITE_CHUNK // (x.size // len(x)))
    return all(bool(xp.isfinite(x[start:start + rows]).all()) for start in range(0, len(x), rows))


def as_float_array(x, name="x", dtype=None, check_finite=None):
    """Convert ``x`` (array, list, int or bool data) to a float array of ``dtype``.

    Integer and boolean inputs are converted to ``dtype``; float inputs of another precision are cast
    (never upcast silently: a float32 model fed float64 data computes in float32). Raises ``TypeError``
    for non-numeric data and ``ValueError`` for empty arrays or NaN/inf values.
    """
    dtype = resolve_dtype(dtype)
    if not isinstance(x, xp.ndarray):
        try:
            x = xp.asarray(x)
        except (ValueError, TypeError) as error:
            raise TypeError(f"{name}: expected a numeric array, could not convert it ({error})") from None
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected numeric data (float, int or bool), got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{name}: expected an array of shape (batch, ...), got a scalar")
    if x.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {x.shape}")
    if x.dtype != dtype:
        x = x.astype(dtype)
    if (_check_finite if check_finite is None else check_finite) and not all_finite(x):
        bad = int(x.size - xp.isfinite(x).sum())
        raise ValueError(f"{name}: contains {bad} NaN or inf value(s); expected finite numbers")
    return x
