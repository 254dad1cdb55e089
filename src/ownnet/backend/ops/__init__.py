"""The ops of each device: one object that layers, losses, metrics and optimizers hand their array
operations to, chosen once for a device (thinc's ``Ops``).

- ``NumpyOps`` (``numpy_ops.py``): the reference, plain NumPy, the formulas of the lesson.
- ``NumbaOps(NumpyOps)`` (``numba_ops.py``): the CPU where Numba is installed; compiled one-pass kernels.
- ``CupyOps(NumpyOps)`` (``cupy_ops.py``): the GPU; cuBLAS, fused kernels, one-launch optimizer steps.

A subclass overrides only what it makes faster; everything else is the reference, by inheritance.
``ops_for(array)`` gives the ops of an array's device, ``ops_for_device("cpu" | "gpu")`` those of a
device: the same object every time (the CPU's follows the switch of ``cpu_kernels.set_enabled``).
"""

import ownnet.backend.cpu_kernels as cpu_kernels
from ownnet.backend.device import is_gpu_array, resolve_device
from ownnet.backend.ops.cupy_ops import CupyOps
from ownnet.backend.ops.numba_ops import NumbaOps
from ownnet.backend.ops.numpy_ops import NumpyOps

__all__ = ["CupyOps", "NumbaOps", "NumpyOps", "ops_for", "ops_for_device"]

_NUMPY_OPS = NumpyOps()
_NUMBA_OPS = NumbaOps()
_gpu_ops = None


def ops_for(array):
    """The ops of ``array``'s device (a type check and a flag: cheap enough for every forward pass)."""
    if is_gpu_array(array):
        return _cupy_ops()
    return _NUMBA_OPS if cpu_kernels.available() else _NUMPY_OPS


def ops_for_device(device):
    """The ops of ``device`` (``"cpu"`` or ``"gpu"``, or an alias such as ``"cuda"``)."""
    if resolve_device(device) == "gpu":
        return _cupy_ops()
    return _NUMBA_OPS if cpu_kernels.available() else _NUMPY_OPS


def _cupy_ops():
    global _gpu_ops
    if _gpu_ops is None:
        _gpu_ops = CupyOps()
    return _gpu_ops

