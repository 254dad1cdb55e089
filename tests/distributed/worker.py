"""What tests/test_distributed.py runs on every rank with ``mpiexec -n 2 python worker.py MODE OUT``.

It also defines the data and the training runs, so that the test builds the one-process reference
from exactly the same pieces. Each rank writes ``OUT/<name>-rank<r>.npz`` (its parameters and
buffers after training) and, on rank 0, ``OUT/<name>-history.json``: a test helper may, the
library does not (there only rank 0 writes).
"""

import json
import os
import signal
import sys
import time

import numpy as np

import ownnet as on
from ownnet import distributed

SAMPLES = 1001  # with 128 rows per step: 7 full steps and one of 105 rows, split 53/52 over 2 ranks
EPOCHS = 4


def make_data(dtype, samples=SAMPLES):
    """Three classes in 8 dimensions, separable up to noise."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, 8))
    w = rng.normal(size=(8, 3))
    y = (x @ w + 0.5 * rng.normal(size=(samples, 3))).argmax(axis=1)
    return x.astype(dtype), y


def make_run(dtype, optimizer="sgd", batch_norm=False, dropout=0.0, seed=0):
    """``(model, loss, optimizer, schedule, fit options)`` of one test run."""
    on.manual_seed(seed)
    if batch_norm:
        model = on.Sequential(on.Linear(8, 16, dtype=dtype), on.BatchNorm1d(16, dtype=dtype), on.ReLU(),
                              on.Dropout(dropout), on.Linear(16, 3, dtype=dtype))
    else:
        model = on.mlp([8, 16, 16, 3], activation="tanh", dtype=dtype)
    if optimizer == "sgd":
        opt = on.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
        schedule = on.CosineAnnealingLR(opt, T_max=EPOCHS)
        options = {"clip_grad_norm": 1.0}
    else:
        opt = on.Adam(model.parameters(), lr=0.01)
        schedule, options = None, {}
    return model, on.CrossEntropyLoss(), opt, schedule, options


def state_of(model):
    return {name: np.array(array) for name, array in model.state_dict().items()}


class Fault(on.Callback):
    """On rank ``rank``, at step 3 of epoch ``epoch``: raise, die (SIGKILL) or hang."""

    def __init__(self, how, rank, epoch=3):
        self.how, self.rank, self.epoch = how, rank, epoch

    def on_batch_end(self, step, logs):
        if self.run.epoch != self.epoch or step != 3 or distributed.init().rank != self.rank:
            return
        if self.how == "raise":
            raise RuntimeError("injected failure")
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.how == "hang":
            time.sleep(120)


def train(name, out, dtype, world, **kwargs):
    optimizer = kwargs.pop("optimizer", "sgd")
    batch_norm, dropout = kwargs.pop("batch_norm", False), kwargs.pop("dropout", 0.0)
    # other ranks start from other weights: fit must broadcast rank 0's
    model, loss, opt, schedule, options = make_run(dtype, optimizer, batch_norm, dropout, seed=world.rank)
    options.update(kwargs)
    x, y = make_data(dtype)
    options.setdefault("verbose", False)
    options.setdefault("batch_size", 128 // world.size)
    history = on.fit(model, loss, opt, x, y, epochs=EPOCHS, schedule=schedule, seed=0, distributed=world,
                     **options)
    np.savez(os.path.join(out, f"{name}-rank{world.rank}.npz"), **state_of(model))
    if world.is_root:
        with open(os.path.join(out, f"{name}-history.json"), "w") as f:
            json.dump(history.to_dict(), f)


def main(mode, out):
    world = distributed.init(timeout=2.0 if mode == "hang" else None)
    if mode == "single":  # python worker.py single OUT, without mpiexec: one rank
        train("single", out, "float64", world)
        return
    if world.size != 2:
        sys.exit(f"worker: expected 2 ranks, got {world.size} (is mpiexec the one of the mpi4py's MPI?)")
    checkpoint = os.path.join(out, "checkpoint")
    if mode == "equivalence":
        train("sgd64", out, "float64", world)
        train("adam32", out, "float32", world, optimizer="adam")
    elif mode == "batchnorm":
        train("batchnorm", out, "float32", world, batch_norm=True, dropout=0.2)
    elif mode in ("raise", "kill", "hang"):
        train("fault", out, "float64", world, checkpoint_dir=checkpoint, callbacks=[Fault(mode, rank=1)],
              verbose=True)  # rank 0 prints which process id each rank has
    elif mode == "resume":
        train("resumed", out, "float64", world, checkpoint_dir=checkpoint, resume=True)
    else:
        sys.exit(f"worker: unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
