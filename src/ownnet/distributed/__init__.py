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
"""

import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback

import numpy as np

from ownnet.data import batch_buffer, gather
from ownnet.train.callbacks import Callback

__all__ = ["Distributed", "DistributedOptimizer", "ShardedLoader", "init", "shard_bounds",
           "train_from_config"]


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            "ownnet.distributed needs mpi4py and an MPI library: pip install 'ownnet[mpi]' "
            f"(the mpi4py and mpich wheels) ({error})"
        ) from error
    return MPI


# --- the MPI world -------------------------------------------------------------------------------


class Distributed:
    """The MPI world this process trains in, and the few collectives data-parallel training needs.

    ``rank`` (0 .. ``size`` - 1), ``size`` (the number of ranks), ``is_root`` (rank 0, the one that
    prints and writes files). ``comm``: an mpi4py communicator (default ``MPI.COMM_WORLD``).

    ``timeout``: seconds a rank may wait inside one collective (an ``Allreduce`` of the gradients,
    a broadcast) before it decides that another rank is stuck or dead and aborts the whole job with
    ``MPI_Abort``; ``None`` (default) waits forever — a rank that *dies* ends the job anyway
    (``mpiexec`` and ``srun --kill-on-bad-exit`` stop the others). ``abort_on_error``: an exception
    on one rank inside ``fit`` aborts every rank (the others would wait for it forever), after
    printing it with the rank's number; set False to let it propagate (only safe with one rank).

    ``stats``: ``allreduce_seconds`` (time inside the gradient ``Allreduce``: transfer plus waiting
    for slower ranks), ``allreduce_calls`` and ``allreduce_bytes``, summed since the start.
    """

    def __init__(self, comm=None, timeout=None, abort_on_error=True):
        MPI = _mpi()
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.abort_on_error = bool(abort_on_error)
        self.stats = {"allreduce_seconds": 0.0, "allreduce_calls": 0, "allreduce_bytes": 0}
        self._waiting = None  # (what, since) while this rank is inside a collective
        self._watchdog = None
        self._aborting = False
        self.temporary_paths = []  # removed before an abort ends the process
        self.timeout = None
        self.set_timeout(timeout)

    def set_timeout(self, timeout):
        """Seconds a rank may wait in one collective before it aborts the job (None: forever)."""
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not timeout > 0):
            raise ValueError(f"timeout: expected None or a positive number of seconds, got {timeout!r}")
        self.timeout = None if timeout is None else float(timeout)
        if self.timeout is not None and self.size > 1 and self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="ownnet-distributed-watchdog",
                                              daemon=True)
            self._watchdog.start()

    @property
    def is_root(self):
        return self.rank == 0

    def __repr__(self):
        return f"Distributed(rank={self.rank}, size={self.size}, timeout={self.timeout})"

    # --- failing loudly instead of hanging -------------------------------------------------
    def fail(self, message):
        """Print ``message`` naming this rank on stderr and abort every rank (``MPI_Abort``)."""
        print(f"ownnet.distributed: rank {self.rank} of {self.size} on {socket.gethostname()} "
              f"(pid {os.getpid()}): {message}; aborting all ranks (MPI_Abort)", file=sys.stderr, flush=True)
        sys.stdout.flush()
        for path in self.temporary_paths:
            shutil.rmtree(path, ignore_errors=True)
        time.sleep(0.2)  # let mpiexec forward the message before the processes are killed
        self.comm.Abort(1)
        time.sleep(2)  # MPICH's MPI_Abort may return before the process manager kills this process
        os._exit(1)

    def abort(self, error):
        """Called with an exception that escapes training on this rank: with more than one rank
        (and ``abort_on_error``), print it and abort the job; otherwise return (the caller re-raises)."""
        if self.size == 1 or not self.abort_on_error or self._aborting:
            return
        self._aborting = True
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        print(f"[rank {self.rank}] {text}", file=sys.stderr, end="", flush=True)
        self.fail(f"{type(error).__name__}: {error}")

    def _watch(self):
        while True:
            timeout, waiting = self.timeout, self._waiting
            time.sleep(0.25 if timeout is None else min(1.0, timeout / 4))
            if timeout is not None and waiting is not None and waiting is self._waiting \
                    and time.monotonic() - waiting[1] > timeout:
                self.fail(f"waited more than {timeout:g} s in {waiting[0]}: another rank is stuck "
                          "or has died")

    def _enter(self, what):
        self._waiting = (what, time.monotonic())

    def _leave(self):
        self._waiting = None

    # --- collectives -------------------------------------------------------------------------
    def allreduce_sum(self, array, what="Allreduce"):
        """Sum ``array`` over all ranks, in place (every rank gets the sum); returns ``array``."""
        self._enter(what)
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)
        self._leave()
        return array

    def _allreduce(self, values, op, what):
        array = np.array(values, dtype=np.float64)
        self._enter(what)
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=op)
        self._leave()
        return array

    def broadcast_bytes(self, data, what="broadcast"):
        """Rank 0's ``data`` (bytes) on every rank; other ranks pass anything (ignored)."""
        length = np.array([len(data) if self.is_root else 0], dtype=np.int64)
        self._enter(what)
        self.comm.Bcast(length, root=0)
        buffer = (np.frombuffer(data, dtype=np.uint8).copy() if self.is_root
                  else np.empty(int(length[0]), dtype=np.uint8))
        self.comm.Bcast(buffer, root=0)
        self._leave()
        return buffer.tobytes()

    def broadcast_json(self, value, what="broadcast"):
        """Rank 0's JSON-serialisable ``value`` on every rank (JSON over bytes; nothing is pickled)."""
        data = json.dumps(value).encode() if self.is_root else b""
        return json.loads(self.broadcast_bytes(data, what))

    def broadcast_arrays(self, arrays, what="broadcast"):
        """Rank 0's ``{name: array}`` on every rank, as new arrays, in one ``Bcast`` of their bytes."""
        if self.is_root:
            arrays = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
            layout = [[name, array.dtype.str, list(array.shape)] for name, array in arrays.items()]
        else:
            layout = None
        layout = self.broadcast_json(layout, what)
        data = b"".join(array.tobytes() for array in arrays.values()) if self.is_root else b""
        data = self.broadcast_bytes(data, what)
        out, offset = {}, 0
        for name, dtype, shape in layout:
            dtype = np.dtype(dtype)
            count = int(np.prod(shape, dtype=np.int64))
            out[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape).copy()
            offset += count * dtype.itemsize
        return out

    def broadcast_model(self, model):
        """Copy rank 0's parameters and buffers into ``model`` on every rank."""
        state = self.broadcast_arrays(model.state_dict() if self.is_root else {},
                                      "broadcast of the model from rank 0")
        if not self.is_root:
            model.load_state_dict(state)

    def broadcast_optimizer(self, optimizer):
        """Give every rank rank 0's optimizer state (step count, hyperparameters, moment buffers)."""
        optimizer = getattr(optimizer, "optimizer", optimizer)  # a DistributedOptimizer's inner one
        if not callable(getattr(optimizer, "load_state_dict", None)):
            return  # an optimizer without state to copy
        state = optimizer.state_dict() if self.is_root else {}
        arrays = self.broadcast_arrays(state.get("state", {}), "broadcast of the optimizer from rank 0")
        rest = self.broadcast_json({key: value for key, value in state.items() if key != "state"},
                                   "broadcast of the optimizer from rank 0")
        if not self.is_root:
            optimizer.load_state_dict({**rest, "state": arrays})

    def agree_seed(self, seed):
        """Rank 0's ``seed`` (drawn at random when it is None) on every rank."""
        if self.is_root and seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        return self.broadcast_json(seed if self.is_root else None, "broadcast of the seed")

    def check_same(self, name, value, hint=""):
        """Raise ``ValueError`` on every rank unless ``value`` (a number) is the same on all ranks."""
        low, high = self._allreduce([value, -value], self.MPI.MIN, f"check of {name}")
        if low != -high:
            raise ValueError(f"{name}: expected the same value on every rank, got values from {low:g} to "
                             f"{-high:g} (this rank, {self.rank}: {value:g}){hint}")

    def barrier(self):
        self._enter("Barrier")
        self.comm.Barrier()
        self._leave()

    def host_and_pids(self):
        """``["host:pid" of each rank]`` on rank 0 (None elsewhere): to match an ``mpiexec``
        message about a dead process id with a rank."""
        text = f"{socket.gethostname()}:{os.getpid()}".encode()[:120].ljust(120)
        mine = np.frombuffer(text, dtype=np.uint8).copy()
        every = np.empty((self.size, 120), dtype=np.uint8) if self.is_root else None
        self._enter("Gather")
        self.comm.Gather(mine, every, root=0)
        self._leave()
        return [row.tobytes().decode(errors="replace").strip() for row in every] if self.is_root else None


_world = None


def init(timeout=None, abort_on_error=True):
    """The ``Distributed`` context of ``MPI.COMM_WORLD``, created on the first call and returned by
    every later one (a later ``timeout`` that is not None replaces the earlier one). With more than
    one rank, an exception that nobody catches aborts every rank (``sys.excepthook``), so that a
    script never hangs."""
    global _world
    if _world is None:
        _world = Distributed(timeout=timeout, abort_on_error=abort_on_error)
        if _world.size > 1:
            previous = sys.excepthook

            def excepthook(kind, error, tb, world=_world, previous=previous):
                if not world.abort_on_error:
                    return previous(kind, error, tb)
                world.abort(error)

            sys.excepthook = excepthook
    elif timeout is not None:
        _world.set_timeout(timeout)
    return _world


# --- data: a shard of every global batch ---------------------------------------------------------


def shard_bounds(rows, rank, size):
    """``(start, stop)``: rank ``rank``'s contiguous part of ``rows`` rows split over ``size`` ranks
    (sizes differ by at most one, the first ranks take the extra rows)."""
    base, extra = divmod(rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class ShardedLoader:
    """Rank ``rank``'s shard of every global batch: a ``DataLoader`` for data-parallel training.

    Every rank builds it over the *same* ``(x, y)`` with the same ``seed``; the global batches are
    exactly those of ``DataLoader(x, y, batch_size * size, shuffle, seed)`` (same permutations), and
    rank ``r`` keeps rows ``shard_bounds(len(batch), r, size)`` of each: disjoint, covering the batch,
    deterministic. ``weight`` is this rank's share of the current global batch
    (``len(shard) / len(batch)``); ``DistributedOptimizer`` scales the gradient by it. A last global
    batch with fewer rows than ranks is skipped (a rank would get nothing).

    Shape: ``x`` ``(samples, ...)`` -> shards ``(batch_size, ...)`` (the last may be smaller).
    ``len(loader)`` is the number of steps per epoch; ``state_dict()`` is the global loader's, so a
    checkpoint resumes with any number of ranks that keeps ``batch_size * size``.
    """

    def __init__(self, x, y=None, batch_size=32, rank=0, size=1, shuffle=True, seed=None,
                 reuse_buffers=False):
        from ownnet.data import DataLoader, _as_samples, _check_same_length, _positive_int

        size = _positive_int(size, "size")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < size:
            raise ValueError(f"rank: expected an integer in [0, {size - 1}], got {rank!r}")
        self.x = _as_samples(x, "x")
        self.y = None if y is None else _as_samples(y, "y")
        if self.y is not None:
            _check_same_length(self.x, self.y)
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.rank, self.size = int(rank), size
        self.reuse_buffers = bool(reuse_buffers)
        self.indices = DataLoader(np.arange(len(self.x)), batch_size=self.batch_size * size,
                                  shuffle=shuffle, seed=seed)
        remainder = len(self.x) % (self.batch_size * size)
        self._skip_last = 0 < remainder < size
        self.weight = 1.0 / size
        self._buffers = None

    @property
    def num_samples(self):
        return len(self.x)

    @property
    def global_batch_size(self):
        return self.batch_size * self.size

    @property
    def shuffle(self):
        return self.indices.shuffle

    def __len__(self):
        return len(self.indices) - self._skip_last

    def __iter__(self):
        batches = iter(self.indices)  # draws the permutation now, as DataLoader does (for state_dict)
        return self._shards(batches)

    def _shards(self, batches):
        for rows in batches:
            n = len(rows)
            if n < self.size:
                continue  # keep consuming: the global loader must reach the end of its epoch
            start, stop = shard_bounds(n, self.rank, self.size)
            self.weight = (stop - start) / n
            if not self.indices.shuffle:  # contiguous rows: views, no copy
                first = int(rows[0]) + start
                part = slice(first, first + stop - start)
                yield self.x[part] if self.y is None else (self.x[part], self.y[part])
                continue
            mine = rows[start:stop]
            x_out, y_out = self._batch_buffers() if self.reuse_buffers and len(mine) == self.batch_size \
                else (None, None)
            x_batch = gather(self.x, mine, x_out)
            yield x_batch if self.y is None else (x_batch, gather(self.y, mine, y_out))

    def _batch_buffers(self):
        if self._buffers is None:
            self._buffers = (batch_buffer(self.x, self.batch_size), batch_buffer(self.y, self.batch_size))
        return self._buffers

    def samples_per_epoch(self):
        """Rows this rank sees per epoch."""
        n, global_batch = self.num_samples, self.global_batch_size
        full, remainder = divmod(n, global_batch)
        start, stop = shard_bounds(remainder, self.rank, self.size)
        return full * self.batch_size + (stop - start if remainder >= self.size else 0)

    def state_dict(self):
        return self.indices.state_dict()

    def load_state_dict(self, state):
        self.indices.load_state_dict(state)

    def __repr__(self):
        return (f"ShardedLoader(rank={self.rank}, size={self.size}, samples={self.num_samples}, "
                f"batch_size={self.batch_size} per rank, {self.global_batch_size} per step, "
                f"steps={len(self)})")


# --- gradients: one Allreduce per step -----------------------------------------------------------


class DistributedOptimizer:
    """Wraps any optimizer: ``step()`` first sums the ranks' gradients with one ``Allreduce``, then
    steps.

    The gradients of all parameters share one flat buffer (one per dtype; a model has one): each
    ``Parameter.grad`` is replaced by a view into it, so layers accumulate straight into the buffer
    and nothing is copied. Before the ``Allreduce`` the buffer is multiplied by this rank's share of
    the global batch — ``loader.weight`` (rows here / rows in the batch) for a ``"mean"`` loss,
    1 for ``reduction="sum"`` — so the sum is the gradient of the whole global batch. Without a
    loader the share is ``1 / size`` (equal shards). ``clip_grad_norm`` (a max norm) clips the
    summed gradient, as one process would clip the global batch's gradient.

    Everything else (``lr``, ``state_dict``, ``step_count``, ...) is the wrapped optimizer's.
    """

    def __init__(self, optimizer, distributed=None, loader=None, reduction="mean", clip_grad_norm=None):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction: expected 'mean' or 'sum' (the loss's), got {reduction!r}")
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm: expected a positive max norm or None, got {clip_grad_norm!r}")
        self.optimizer = optimizer
        self.distributed = distributed if distributed is not None else init()
        self.loader = loader
        self.reduction = reduction
        self.clip_grad_norm = clip_grad_norm
        if not isinstance(getattr(optimizer, "params", None), list):
            raise TypeError(f"optimizer: expected an optimizer with a list of Parameter in .params (e.g. "
                            f"SGD(model.parameters(), lr=0.05)), got {type(optimizer).__name__}")
        self.params = optimizer.params
        self._buffers, self._views = _flat_gradients(self.params)
        self._steps = 0

    @property
    def lr(self):
        return self.optimizer.lr

    @lr.setter
    def lr(self, value):
        self.optimizer.lr = value

    def __getattr__(self, name):  # only called for names this wrapper does not define
        optimizer = self.__dict__.get("optimizer")
        if optimizer is None:
            raise AttributeError(name)
        return getattr(optimizer, name)

    def _restore_views(self):
        for p, view in zip(self.params, self._views):
            if p.grad is not view:  # something replaced the array: take its values back into the buffer
                view[...] = p.grad
                p.grad = view

    def zero_grad(self):
        self._restore_views()
        for buffer in self._buffers:
            buffer.fill(0)

    def synchronize(self):
        """Sum the gradients over all ranks (weighted by each rank's share of the batch), in place."""
        self._restore_views()
        dist = self.distributed
        if self.reduction == "sum":
            weight = 1.0
        else:
            weight = self.loader.weight if self.loader is not None else 1.0 / dist.size
        for buffer in self._buffers:
            if weight != 1.0:
                buffer *= weight
            started = time.perf_counter()
            what = f"the Allreduce of the gradients (optimizer step {self._steps + 1})"
            dist.allreduce_sum(buffer, what)
            dist.stats["allreduce_seconds"] += time.perf_counter() - started
            dist.stats["allreduce_calls"] += 1
            dist.stats["allreduce_bytes"] += buffer.nbytes

    def step(self):
        self.synchronize()
        self._steps += 1
        if self.clip_grad_norm is not None:
            from ownnet.optim import clip_grad_norm

            clip_grad_norm(self.params, self.clip_grad_norm)
        self.optimizer.step()

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r}, size={self.distributed.size})"


def _flat_gradients(params):
    """One zeroed buffer per dtype holding every gradient; each ``p.grad`` becomes a view into it
    (keeping its current values)."""
    by_dtype = {}
    for p in params:
        by_dtype.setdefault(p.grad.dtype, []).append(p)
    buffers, view_of = [], {}
    for dtype, group in by_dtype.items():
        buffer = np.zeros(sum(p.grad.size for p in group), dtype=dtype)
        offset = 0
        for p in group:
            view = buffer[offset:offset + p.grad.size].reshape(p.grad.shape)
            view[...] = p.grad
            p.grad = view_of[id(p)] = view
            offset += p.grad.size
        buffers.append(buffer)
    return buffers, [view_of[id(p)] for p in params]


# --- fit(..., distributed=True) ------------------------------------------------------------------


def prepare_fit(distributed, model, loss, optimizer, x, y, *, batch_size, shuffle, seed, clip_grad_norm,
                verbose, checkpoint_dir, resume, callbacks, augment):
    """What ``fit`` uses instead of its own loader, optimizer and options on each rank: a
    ``FitSession`` (``distributed`` is True or a ``Distributed``)."""
    if distributed is not True and not isinstance(distributed, Distributed):
        raise TypeError(f"distributed: expected True, False or an ownnet.distributed.Distributed, "
                        f"got {distributed!r}")
    world = distributed if isinstance(distributed, Distributed) else init()
    session = FitSession(world, model)
    try:
        session.setup(loss, optimizer, x, y, batch_size, shuffle, seed, clip_grad_norm, verbose,
                      checkpoint_dir, resume, callbacks, augment)
    except BaseException as error:
        world.abort(error)
        raise
    return session


class FitSession:
    """One ``fit`` call on one rank: the sharded loader, the wrapped optimizer, the options that
    differ between ranks (``verbose``, ``checkpoint_dir``, ``resume``, ``callbacks``), and the
    per-epoch synchronisation (``end_epoch``)."""

    def __init__(self, world, model):
        self.world, self.model = world, model
        self.is_root = world.is_root
        self._copied_checkpoint = None

    def setup(self, loss, optimizer, x, y, batch_size, shuffle, seed, clip_grad_norm, verbose,
              checkpoint_dir, resume, callbacks, augment):
        from ownnet.train.callbacks import ModelCheckpoint

        world = self.world
        hint = " (every rank must pass the whole data set; ShardedLoader picks each rank's rows)"
        world.check_same("the number of samples", len(x), hint)
        world.check_same("batch_size", batch_size)
        self.seed = world.agree_seed(seed)
        self.loader = ShardedLoader(x, y, batch_size, world.rank, world.size, shuffle=shuffle,
                                    seed=self.seed, reuse_buffers=True)
        if isinstance(optimizer, DistributedOptimizer):
            optimizer.loader = optimizer.loader or self.loader
            if clip_grad_norm is not None:
                optimizer.clip_grad_norm = clip_grad_norm
            self.optimizer = optimizer
        else:
            self.optimizer = DistributedOptimizer(optimizer, world, self.loader,
                                                  getattr(loss, "reduction", "mean"), clip_grad_norm)
        self.verbose = bool(verbose) and world.is_root
        self.checkpoint_dir, self.resume = self._checkpoint_to_resume(checkpoint_dir, resume)
        own = [c for c in callbacks if world.is_root or not isinstance(c, ModelCheckpoint)]
        self.callbacks = [*own, _SyncCallback(self, augment)]
        if self.verbose and world.size > 1:
            where = world.host_and_pids()
            ranks = ", ".join(f"{rank} {name}" for rank, name in enumerate(where[:8]))
            more = ", ..." if world.size > 8 else ""
            print(f"distributed: {world.size} ranks (rank host:pid — {ranks}{more}); "
                  f"batch {batch_size} per rank, {batch_size * world.size} per step", flush=True)
        elif world.size > 1:
            world.host_and_pids()

    def _checkpoint_to_resume(self, checkpoint_dir, resume):
        """Rank 0 decides whether to resume; the others read its checkpoint from a private copy (so
        that ``--out`` need not be on a shared file system)."""
        from ownnet.train.checkpoint import checkpoint_path

        world = self.world
        found = bool(world.is_root and resume and checkpoint_dir is not None
                     and os.path.exists(checkpoint_path(checkpoint_dir)))
        found = world.broadcast_json(found, "broadcast of the checkpoint")
        if world.size == 1:
            return checkpoint_dir, resume
        if not found:
            return (checkpoint_dir if world.is_root else None), False
        data = b""
        if world.is_root:
            with open(checkpoint_path(checkpoint_dir), "rb") as f:
                data = f.read()
        data = world.broadcast_bytes(data, "broadcast of the checkpoint")
        if world.is_root:
            return checkpoint_dir, True
        folder = tempfile.mkdtemp(prefix=f"ownnet-rank{world.rank}-")
        with open(checkpoint_path(folder), "wb") as f:
            f.write(data)
        self._copied_checkpoint = folder
        world.temporary_paths.append(folder)
        return folder, True

    def end_epoch(self, total_loss, seen, metric_sums):
        """Sum the epoch's loss, sample count and metric sums over the ranks, average the float
        buffers (BatchNorm running statistics) and give every rank rank 0's parameters and buffers.
        Returns ``(total_loss, seen, metric_sums)`` over all ranks."""
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

    def abort(self, error):
        self.world.abort(error)


class _SyncCallback(Callback):
    """``fit``'s last callback on every rank: starts all ranks from rank 0's state, gives each rank
    its own Dropout and augmentation random stream per epoch, and makes ``stop_training`` agree."""

    def __init__(self, session, augment):
        self.session, self.augment = session, augment

    def on_train_begin(self, run):
        self.run = run
        world = self.session.world
        try:
            world.check_same("the number of epochs already trained (resume)", len(run.history))
            world.broadcast_model(run.model)
            world.broadcast_optimizer(run.optimizer)
        except BaseException as error:
            world.abort(error)
            raise
        finally:
            folder = self.session._copied_checkpoint
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
                world.temporary_paths.remove(folder)
                self.session._copied_checkpoint = None

    def on_epoch_begin(self, epoch):
        world = self.session.world
        if world.size == 1:
            return
        from ownnet.nn.init import manual_seed

        # One stream per (seed, epoch, rank): independent masks on each rank, reproducible on resume.
        manual_seed([self.session.seed, epoch, world.rank])
        if isinstance(getattr(self.augment, "rng", None), np.random.Generator):
            self.augment.rng = np.random.default_rng([self.session.seed, epoch, world.rank, 1])

    def on_epoch_end(self, epoch, logs):
        world = self.session.world
        if world.size > 1:
            try:
                stop = world._allreduce([float(self.run.stop_training)], world.MPI.MAX, "stop_training")
            except BaseException as error:
                world.abort(error)
                raise
            self.run.stop_training = bool(stop[0])


# --- ownnet train --distributed ------------------------------------------------------------------


def train_from_config(config, out=None, resume=False, verbose=True, timeout=None):
    """``ownnet train --distributed``: ``recipes.train_from_config`` on every rank with
    ``distributed=`` this world; only rank 0 prints and writes ``out``. Returns
    ``(model, history, result)`` on rank 0 and ``(model, history, None)`` on the others."""
    from ownnet.apps import recipes

    world = init(timeout=timeout)
    try:
        model, history, result = recipes.train_from_config(
            config, out=out if world.is_root else None, resume=resume,
            verbose=verbose and world.is_root, distributed=world)
    except BaseException as error:
        world.abort(error)
        raise
    return model, history, (result if world.is_root else None)
