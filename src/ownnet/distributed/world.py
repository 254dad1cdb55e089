"""The MPI world: ``Distributed`` (rank, size, the collectives data-parallel training needs, failing
loudly instead of hanging) and ``init()``, the one of ``MPI.COMM_WORLD``.

``mpi4py`` is optional: ``pip install 'ownnet[mpi]'`` (mpi4py and the mpich wheel).
"""

import json
import os
import shutil
import socket
import sys
import threading
import time
import traceback

import numpy as np


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            "ownnet.distributed needs mpi4py and an MPI library: pip install 'ownnet[mpi]' "
            f"(the mpi4py and mpich wheels) ({error})"
        ) from error
    return MPI



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
