"""The one place that knows the array library (``xp``), the device and the default dtype.

Every array ownnet creates goes through here, so that CuPy (the GPU) can replace NumPy without
touching the layers: a layer asks ``xp_of(x)`` for the module of the array it was given and calls
``matmul`` for its matrix products. float32 is the default; float64 on request.

Backend: ``use_backend("cupy")`` or ``OWNNET_BACKEND=cupy`` makes new parameters live on the GPU;
``model.to("gpu")`` / ``model.to("cpu")`` moves one model. The validated entry points (``model(x)``,
``fit``, ``predict``, ``evaluate``) upload host data (NumPy arrays, lists) to the model's device; a
raw ``forward``/``backward`` never converts, and a GPU array given to a CPU model is an error.
"""

import os

import numpy as np

xp = np
"""The array module in use for new arrays (NumPy by default, CuPy after ``use_backend("cupy")``)."""

BACKENDS = ("numpy", "cupy")
_DEVICES = {"cpu": "cpu", "numpy": "cpu", "gpu": "gpu", "cuda": "gpu", "cupy": "gpu"}
_backend_name = "numpy"


def _import_cupy():
    """CuPy, with a GPU behind it, or a clear error saying what is missing."""
    try:
        import cupy
    except ImportError:
        raise ImportError("the GPU backend needs CuPy: pip install 'ownnet[gpu]' (CuPy for CUDA 12) "
                          "or the cupy-cuda13x wheel that matches your driver") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDARuntimeError: no driver, no device
        raise RuntimeError(f"CuPy is installed but no GPU can be used ({error})") from None
    if count < 1:
        raise RuntimeError("CuPy is installed but this machine has no GPU")
    return cupy


def gpu_available():
    """Whether CuPy is installed and sees at least one GPU (never raises)."""
    try:
        _import_cupy()
    except (ImportError, RuntimeError):
        return False
    return True


def use_backend(name):
    """Create new parameters and arrays with ``"numpy"`` (the CPU, default) or ``"cupy"`` (the GPU)."""
    global xp, _backend_name
    if name not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {name!r}")
    xp = np if name == "numpy" else _import_cupy()
    _backend_name = name


def get_backend():
    return _backend_name


def is_gpu_array(x):
    """Whether ``x`` is a CuPy array (checked by type, without importing CuPy)."""
    kind = type(x)
    return kind is not np.ndarray and kind.__module__.startswith("cupy")  # NumPy first: the hot path


def xp_of(*arrays):
    """The array module (``numpy`` or ``cupy``) of the given arrays, as ``cupy.get_array_module``."""
    for array in arrays:
        if is_gpu_array(array):
            import cupy

            return cupy
    return np


def resolve_device(device):
    """``"cpu"`` or ``"gpu"`` from a device name (``"cuda"`` and ``"cupy"`` mean the GPU)."""
    resolved = _DEVICES.get(device) if isinstance(device, str) else None
    if resolved is None:
        raise ValueError(f"device: expected 'cpu' or 'gpu' (or 'cuda'), got {device!r}")
    return resolved


def default_device():
    """Where new arrays are made: ``"gpu"`` under the CuPy backend, else ``"cpu"``."""
    return "gpu" if _backend_name == "cupy" else "cpu"


def device_of(x):
    return "gpu" if is_gpu_array(x) else "cpu"


def address(x):
    """The address of ``x``'s first element (NumPy or CuPy): two views alias if they match."""
    return x.data.ptr if is_gpu_array(x) else x.__array_interface__["data"][0]


def to_device(x, device):
    """``x`` on ``device`` (``"cpu"``: a NumPy array, ``"gpu"``: a CuPy array); no copy if it is there."""
    if resolve_device(device) == "cpu":
        return x.get() if is_gpu_array(x) else np.asarray(x)
    return _import_cupy().asarray(x)


def to_numpy(x):
    """``x`` as a NumPy array (copied from the GPU if it lives there)."""
    return to_device(x, "cpu")


def check_device(x, device, name):
    """Raise a ``TypeError`` unless the array ``x`` lives on ``device``: no silent copy between the
    CPU and the GPU inside a forward or backward pass."""
    if device_of(x) != device:
        kind = "CuPy (GPU)" if is_gpu_array(x) else f"{type(x).__module__.split('.')[0]} (CPU)"
        raise TypeError(f"{name}: got a {kind} array, but the model lives on the {device.upper()}; "
                        f"move the data with ownnet.to_device(x, {device!r}) or the model with "
                        f"model.to({device_of(x)!r})")


def matmul(a, b, out=None, accumulate=False):
    """``a @ b`` for 2-D arrays, into ``out`` when given; ``accumulate=True`` adds it to ``out``.

    On the GPU the product goes to cuBLAS directly (``ownnet.backend.cuda.cublas``), which a CUDA graph can
    capture; on the CPU it is NumPy's ``matmul`` (the same BLAS call, no temporary without
    ``accumulate``).
    """
    if is_gpu_array(a) or is_gpu_array(b):
        from ownnet.backend.cuda.cublas import gemm

        return gemm(a, b, out, accumulate)
    if accumulate:
        out += a @ b
        return out
    return np.matmul(a, b, out=out)


def fused_kernels(array):
    """The module of fused kernels for ``array``'s device: ``ownnet.backend.cuda.kernels`` (CuPy) on the GPU,
    ``ownnet.backend.cpu_kernels`` (Numba) on the CPU; both have the same functions."""
    if is_gpu_array(array):
        from ownnet.backend.cuda import kernels

        return kernels
    from ownnet.backend import cpu_kernels

    return cpu_kernels


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
        return _import_cupy().asarray(x)
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
    if (_check_finite if check_finite is None else check_finite) and not all_finite(x):
        bad = int(x.size - xp_of(x).isfinite(x).sum())
        raise ValueError(f"{name}: contains {bad} NaN or inf value(s); expected finite numbers")
    return x


_requested = os.environ.get("OWNNET_BACKEND")
if _requested:
    if _requested not in BACKENDS:
        raise ValueError(f"OWNNET_BACKEND: expected one of {BACKENDS}, got {_requested!r}")
    use_backend(_requested)
