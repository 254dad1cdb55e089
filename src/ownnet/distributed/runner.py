"""``fit(distributed=True)``: the ``"mpi"`` runner, the CPU loop on every rank around the same step.

On each rank: the loader is the rank's shard of every global batch (``ShardedLoader``); a step hook
sums the gradients over the ranks between backward and the update (one ``Allreduce``,
``DistributedOptimizer.synchronize``), before the clipping; after each epoch the totals are summed
over the ranks and every rank takes rank 0's parameters. The options that differ between ranks are
set here: only rank 0 prints, writes the checkpoint and runs ``ModelCheckpoint``; every rank uses the
seed rank 0 drew. An exception on one rank aborts all of them (the others would wait forever).
"""

import os
import shutil
import tempfile

import numpy as np

from ownnet.distributed.loader import ShardedLoader
from ownnet.distributed.optimizer import DistributedOptimizer
from ownnet.distributed.world import Distributed, init
from ownnet.nn.init import manual_seed
from ownnet.train.callbacks import Callback, ModelCheckpoint
from ownnet.train.checkpoint import checkpoint_path
from ownnet.train.runners import CpuRunner


class MpiRunner(CpuRunner):
    """One ``fit`` call on one rank (made by ``fit``; ``setup.distributed`` is True or a
    ``Distributed``). ``world``: the ``Distributed``; ``seed``: the seed every rank uses."""

    def __init__(self, run, setup, stop):
        if run.model.device == "gpu":
            raise ValueError("distributed=True trains on the CPU (MPI ranks exchange NumPy buffers); move "
                             "the model back with model.to('cpu')")
        if setup.distributed is not True and not isinstance(setup.distributed, Distributed):
            raise TypeError(f"distributed: expected True, False or an ownnet.distributed.Distributed, "
                            f"got {setup.distributed!r}")
        self.world = setup.distributed if isinstance(setup.distributed, Distributed) else init()
        self.model = run.model
        self._copied_checkpoint = None
        try:
            self._agree(run, setup)
            super().__init__(run, setup, stop)
            self._wrap_optimizer(run)
            self.callbacks = [_RankSync(self, setup.augment)]
            self._announce(setup)
        except BaseException as error:
            self.world.abort(error)
            raise

    def _agree(self, run, setup):
        """The same data, batch size and seed on every rank; what only rank 0 does."""
        world = self.world
        hint = " (every rank must pass the whole data set; ShardedLoader picks each rank's rows)"
        world.check_same("the number of samples", len(setup.x), hint)
        world.check_same("batch_size", setup.batch_size)
        self.seed = setup.seed = world.agree_seed(setup.seed)
        setup.verbose = bool(setup.verbose) and world.is_root
        self._checkpoint_to_resume(setup)
        setup.callbacks = [c for c in setup.callbacks if world.is_root or not isinstance(c, ModelCheckpoint)]
        if setup.clip_grad_norm is None and isinstance(run.optimizer, DistributedOptimizer):
            setup.clip_grad_norm = run.optimizer.clip_grad_norm

    def make_loader(self, setup):
        return ShardedLoader(setup.x, setup.y, setup.batch_size, self.world.rank, self.world.size,
                             shuffle=setup.shuffle, seed=setup.seed, reuse_buffers=True)

    def _wrap_optimizer(self, run):
        """``self.gradients``: the ``DistributedOptimizer`` whose ``synchronize`` sums the gradients;
        ``train_step`` steps the optimizer it wraps."""
        optimizer = run.optimizer
        if isinstance(optimizer, DistributedOptimizer):
            optimizer.loader = optimizer.loader or self.loader
            self.gradients = optimizer
        else:
            self.gradients = DistributedOptimizer(optimizer, self.world, self.loader,
                                                  getattr(run.loss, "reduction", "mean"))
        self.optimizer = self.gradients.optimizer

    def step_hooks(self, setup, stop):
        """The loss check, the sum of the gradients over the ranks, then the clipping (of the sum, as
        one process would clip the global batch's gradient)."""
        check_loss, *clipping = super().step_hooks(setup, stop)
        return [check_loss, self.sum_gradients, *clipping]

    def sum_gradients(self, loss_value):
        self.gradients.synchronize()

    def _announce(self, setup):
        """Rank 0 prints the ranks' hosts and process ids (to match an ``mpiexec`` message about a
        dead process with its rank)."""
        world, batch_size = self.world, setup.batch_size
        if world.size == 1:
            return
        where = world.host_and_pids()  # a collective: every rank takes part
        if setup.verbose:  # rank 0 only
            ranks = ", ".join(f"{rank} {name}" for rank, name in enumerate(where[:8]))
            more = ", ..." if world.size > 8 else ""
            print(f"distributed: {world.size} ranks (rank host:pid — {ranks}{more}); "
                  f"batch {batch_size} per rank, {batch_size * world.size} per step", flush=True)

    def _checkpoint_to_resume(self, setup):
        """Rank 0 decides whether to resume; the others read its checkpoint from a private copy (so
        that ``--out`` need not be on a shared file system), and write none."""
        world = self.world
        found = bool(world.is_root and setup.resume_dir is not None
                     and os.path.exists(checkpoint_path(setup.resume_dir)))
        found = world.broadcast_json(found, "broadcast of the checkpoint")
        if world.size == 1:
            return
        if not world.is_root:
            setup.checkpoint_dir = None
        if not found:
            setup.resume_dir = None
            return
        data = b""
        if world.is_root:
            with open(checkpoint_path(setup.resume_dir), "rb") as f:
                data = f.read()
        data = world.broadcast_bytes(data, "broadcast of the checkpoint")
        if world.is_root:
            return
        folder = tempfile.mkdtemp(prefix=f"ownnet-rank{world.rank}-")
        with open(checkpoint_path(folder), "wb") as f:
            f.write(data)
        self._copied_checkpoint = setup.resume_dir = folder
        world.temporary_paths.append(folder)

    def __exit__(self, kind, error, traceback):
        if error is not None:
            self.world.abort(error)  # the other ranks wait in a collective: stop the whole job (MPI_Abort)
        return False

    def run_epoch(self, run, step_callbacks):
        """The CPU loop on this rank's shards; returns the totals over all ranks."""
        total_loss, seen, metric_sums = super().run_epoch(run, step_callbacks)
        return self._end_epoch(total_loss, seen, metric_sums)

    def _end_epoch(self, total_loss, seen, metric_sums):
        """Sum the epoch's loss, sample count and metric sums over the ranks, average the float
        buffers (BatchNorm running statistics) and give every rank rank 0's parameters and buffers."""
        world = self.world
        try:
            totals = world.allreduce_sum(np.array([total_loss, seen, *metric_sums], dtype=np.float64),
                                         "the Allreduce of the epoch's loss and metrics")
            buffers = [b for _, b in self.model.named_buffers() if b.dtype.kind == "f"]
            if buffers and world.size > 1:
                flat = np.concatenate([b.ravel() for b in buffers])
                world.allreduce_sum(flat, "the Allreduce of the buffers")
                flat /= world.size
                offset = 0
                for b in buffers:
                    b[...] = flat[offset:offset + b.size].reshape(b.shape)
                    offset += b.size
            if world.size > 1:
                world.broadcast_model(self.model)  # removes any rounding drift between ranks
        except BaseException as error:
            world.abort(error)
            raise
        return float(totals[0]), int(totals[1]), [float(v) for v in totals[2:]]


class _RankSync(Callback):
    """``fit``'s callback on every rank: starts all ranks from rank 0's state, gives each rank its own
    Dropout and augmentation random stream per epoch, and makes ``stop_training`` agree."""

    def __init__(self, runner, augment):
        self.runner, self.augment = runner, augment

    def on_train_begin(self, run):
        self.run = run
        world = self.runner.world
        try:
            world.check_same("the number of epochs already trained (resume)", len(run.history))
            world.broadcast_model(run.model)
            world.broadcast_optimizer(run.optimizer)
        except BaseException as error:
            world.abort(error)
            raise
        finally:
            folder = self.runner._copied_checkpoint
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
                world.temporary_paths.remove(folder)
                self.runner._copied_checkpoint = None

    def on_epoch_begin(self, epoch):
        world = self.runner.world
        if world.size == 1:
            return
        # One stream per (seed, epoch, rank): independent masks on each rank, reproducible on resume.
        manual_seed([self.runner.seed, epoch, world.rank])
        if isinstance(getattr(self.augment, "rng", None), np.random.Generator):
            self.augment.rng = np.random.default_rng([self.runner.seed, epoch, world.rank, 1])

    def on_epoch_end(self, epoch, logs):
        world = self.runner.world
        if world.size > 1:
            try:
                stop = world._allreduce([float(self.run.stop_training)], world.MPI.MAX, "stop_training")
            except BaseException as error:
                world.abort(error)
                raise
            self.run.stop_training = bool(stop[0])
