"""Devices: the CPU (NumPy arrays) and the GPU (CuPy arrays), the array module of each, and moving
arrays between them.

``use_backend("cupy")`` (or ``OWNNET_BACKEND=cupy``) makes new parameters live on the GPU;
``model.to("gpu")`` / ``model.to("cpu")`` moves one model. The validated entry points (``model(x)``,
``fit``, ``predict``, ``evaluate``) upload host data (NumPy arrays, lists) to the model's device; a raw
``forward``/``backward`` never converts, and a GPU array given to a CPU model is an error.
"""

import numpy as np

xp = np
"""The array module in use for new arrays (NumPy by default, CuPy after ``use_backend("cupy")``).
Read it as ``ownnet.backend.xp`` (or ``device.xp``) at the time of use: ``use_backend`` replaces it."""

BACKENDS = ("numpy", "cupy")
_DEVICES = {"cpu": "cpu", "numpy": "cpu", "gpu": "gpu", "cuda": "gpu", "cupy": "gpu"}
_backend_name = "numpy"


def import_cupy():
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
        import_cupy()
    except (ImportError, RuntimeError):
        return False
    return True


def use_backend(name):
    """Create new parameters and arrays with ``"numpy"`` (the CPU, default) or ``"cupy"`` (the GPU)."""
    global xp, _backend_name
    if name not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {name!r}")
    xp = np if name == "numpy" else import_cupy()
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
    return import_cupy().asarray(x)


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
