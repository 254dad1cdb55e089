"""``ownnet.gpu``: ``fit`` for a model on the GPU (``model.to("gpu")``), registered as the ``"gpu"`` runner.

``ownnet.train`` loads it by name when a model on the GPU is trained (``ownnet.train.runners``); the
CUDA pieces it drives (cuBLAS, fused kernels, the CUDA-graph capture) live in ``ownnet.backend.cuda``.
Importing it does not import CuPy.
"""

from ownnet.gpu.runner import GpuRunner

__all__ = ["GpuRunner"]
