"""The default dtype of new parameters and converted inputs (float32 unless changed; float64 on
request), and the switch of the NaN/inf check on model inputs."""

import numpy as np

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
