"""The one place that knows the array library (``xp``), the device and the default dtype, and the ops
that run array operations on each device.

Every array ownnet creates goes through here, so that CuPy (the GPU) can replace NumPy without
touching the layers: a layer hands its operations to the ops of its device (``ops_for(x)``, or the
``ops`` a module takes when it is built and moved), which are NumPy's, Numba's or CuPy's. float32 is
the default; float64 on request.

- ``device.py``: ``xp``, ``use_backend``, device names, ``to_device`` / ``to_numpy``, ``check_device``.
- ``dtype.py``: the default dtype, ``resolve_dtype``, the NaN/inf check switch.
- ``arrays.py``: ``zeros``, ``all_finite``, ``as_device_array``, ``as_float_array``.
- ``ops/``: ``NumpyOps`` (the reference), ``NumbaOps``, ``CupyOps``; ``ops_for``, ``ops_for_device``.
- ``cpu_kernels.py`` (Numba) and ``cuda/`` (cuBLAS, fused kernels, CUDA-graph capture): what the fast
  ops call.

Backend: ``use_backend("cupy")`` or ``OWNNET_BACKEND=cupy`` makes new parameters live on the GPU;
``model.to("gpu")`` / ``model.to("cpu")`` moves one model. The validated entry points (``model(x)``,
``fit``, ``predict``, ``evaluate``) upload host data (NumPy arrays, lists) to the model's device; a
raw ``forward``/``backward`` never converts, and a GPU array given to a CPU model is an error.
"""

import os

import ownnet.backend.device as _device
from ownnet.backend.arrays import all_finite, as_device_array, as_float_array, zeros
from ownnet.backend.device import (
    BACKENDS,
    address,
    check_device,
    default_device,
    device_of,
    get_backend,
    gpu_available,
    is_gpu_array,
    resolve_device,
    to_device,
    to_numpy,
    use_backend,
    xp_of,
)
from ownnet.backend.dtype import (
    get_check_finite,
    get_default_dtype,
    resolve_dtype,
    set_check_finite,
    set_default_dtype,
)
from ownnet.backend.ops import CupyOps, NumbaOps, NumpyOps, ops_for, ops_for_device

__all__ = [
    "BACKENDS", "CupyOps", "NumbaOps", "NumpyOps", "address", "all_finite", "as_device_array",
    "as_float_array", "check_device", "default_device", "device_of", "get_backend",
    "get_check_finite", "get_default_dtype", "gpu_available", "is_gpu_array", "ops_for", "ops_for_device",
    "resolve_device", "resolve_dtype", "set_check_finite", "set_default_dtype", "to_device", "to_numpy",
    "use_backend", "xp", "xp_of", "zeros",
]


def __getattr__(name):
    """``backend.xp``: the array module for new arrays, read from ``device.xp`` at the time of use
    (``use_backend`` replaces it there)."""
    if name == "xp":
        return _device.xp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_requested = os.environ.get("OWNNET_BACKEND")
if _requested:
    if _requested not in BACKENDS:
        raise ValueError(f"OWNNET_BACKEND: expected one of {BACKENDS}, got {_requested!r}")
    use_backend(_requested)
