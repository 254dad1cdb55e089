"""Data-parallel training on MPI (``mpi4py``): every rank trains on its shard of each global batch.

Start the same script on every rank (``mpiexec -n 4 python train.py``, ``srun``) and pass
``distributed=True`` to ``fit``, or run ``mpiexec -n 4 ownnet train --distributed``. One step:

1. every rank draws the same permutation (same seed) and takes the same global batch of
   ``batch_size × ranks`` rows; rank ``r`` keeps the ``r``-th contiguous shard (``ShardedLoader``);
2. forward and backward run on the shard, each rank alone;
3. one ``Allreduce`` sums the gradients of all parameters in one flat buffer (every
   ``Parameter.grad`` is a view into it), each rank's part weighted by its share of the global
   batch (``rows here / rows in the global batch``): the result is the gradient of the global
   batch's mean loss, on every rank (``DistributedOptimizer``);
4. every rank applies the same optimizer step, so the models stay identical.

``batch_size`` is therefore **per rank**: N ranks with ``batch_size=b`` take the steps that one
process takes with ``batch_size=N·b`` (to rounding). Parameters, buffers and optimizer state start
as rank 0's (broadcast); after each epoch the loss and metrics are summed over the ranks, the
BatchNorm running statistics averaged, and rank 0's parameters broadcast again; only rank 0 prints,
writes checkpoints and files. An exception on one rank stops every rank (``MPI_Abort``) with a
message naming it. See docs/distributed.md.

``mpi4py`` is optional: ``pip install 'ownnet[mpi]'`` (mpi4py and the mpich wheel).

The package: ``world`` (``Distributed``, ``init``), ``loader`` (``ShardedLoader``, ``shard_bounds``),
``optimizer`` (``DistributedOptimizer``) and ``runner`` (``MpiRunner``: what ``fit`` runs on each
rank, registered in ``ownnet.train.runners`` as ``"mpi"``). ``ownnet train --distributed`` is
``ownnet.apps.recipes.train_distributed``.
"""

from ownnet.distributed.loader import ShardedLoader, shard_bounds
from ownnet.distributed.optimizer import DistributedOptimizer
from ownnet.distributed.world import Distributed, init

__all__ = ["Distributed", "DistributedOptimizer", "ShardedLoader", "init", "shard_bounds"]
