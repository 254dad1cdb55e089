"""Data-parallel training on MPI (ownnet.distributed).

The sharded loader is checked here, without MPI. The rest runs ``mpiexec -n 2`` on
tests/distributed/worker.py (skipped without mpi4py or mpiexec: ``pip install 'ownnet[mpi]'``):
2 ranks with 64 rows each must take the steps of one process with 128 rows; a rank that raises,
dies or hangs must end the job promptly, leaving a checkpoint that resumes.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ownnet as on
from ownnet import distributed
from ownnet.distributed import DistributedOptimizer, ShardedLoader, shard_bounds
from ownnet.train.checkpoint import load_checkpoint

WORKER_PATH = Path(__file__).parent / "worker.py"
_spec = importlib.util.spec_from_file_location("distributed_worker", WORKER_PATH)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)

# --- the sharded loader (no MPI needed) ------------------------------------------------------------


def test_shard_bounds_split_rows_into_disjoint_parts_that_differ_by_at_most_one():
    assert [shard_bounds(10, r, 4) for r in range(4)] == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert [shard_bounds(128, r, 2) for r in range(2)] == [(0, 64), (64, 128)]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_each_rank_gets_its_part_of_every_global_batch_of_a_dataloader(size):
    x = np.arange(54, dtype=np.float32).reshape(27, 2)  # a last batch of 3, 11 or 3 rows
    y = np.arange(27)
    reference = on.DataLoader(x, y, batch_size=4 * size, seed=7)
    loaders = [ShardedLoader(x, y, batch_size=4, rank=r, size=size, seed=7) for r in range(size)]
    for _epoch in range(2):  # a new permutation each epoch, the same on every rank
        shards, weights = [], []
        for loader in loaders:
            shards.append([(xb.copy(), yb.copy()) for xb, yb in loader])
            weights.append([loader.weight])  # the last batch's share
        global_batches = list(reference)
        assert all(len(s) == len(global_batches) == len(loaders[0]) for s in shards)
        for step, (x_global, y_global) in enumerate(global_batches):
            parts = [shards[r][step] for r in range(size)]
            np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), x_global)
            np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y_global)
        seen = np.concatenate([yb for s in shards for _, yb in s])
        np.testing.assert_array_equal(np.sort(seen), y)  # every sample once per epoch
        assert np.isclose(np.sum(weights), 1.0)


def test_the_last_batch_is_split_unevenly_and_weighted_by_its_rows():
    x, y = worker.make_data("float64")  # 1001 rows: 7 batches of 128, then 105 = 53 + 52
    loaders = [ShardedLoader(x, y, batch_size=64, rank=r, size=2, seed=0) for r in range(2)]
    last = []
    for loader in loaders:
        *_, (x_last, _) = loader
        last.append((len(x_last), loader.weight))
    assert last == [(53, 53 / 105), (52, 52 / 105)]
    assert [loader.samples_per_epoch() for loader in loaders] == [7 * 64 + 53, 7 * 64 + 52]


def test_a_last_batch_with_fewer_rows_than_ranks_is_skipped_on_every_rank():
    x = np.zeros((2 * 8 * 3 + 1, 1))
    loaders = [ShardedLoader(x, batch_size=8, rank=r, size=3, seed=0) for r in range(3)]
    assert [len(loader) for loader in loaders] == [2, 2, 2]
    assert [len(list(loader)) for loader in loaders] == [2, 2, 2]
    assert loaders[0].state_dict()["batches_done"] == 0  # the epoch ran to its end


def test_without_shuffle_the_shards_are_views_of_the_data():
    x = np.arange(20.0).reshape(10, 2)
    (x0,), (x1,) = (list(ShardedLoader(x, batch_size=5, rank=r, size=2, shuffle=False)) for r in range(2))
    assert np.shares_memory(x0, x) and np.shares_memory(x1, x)
    np.testing.assert_array_equal(np.concatenate([x0, x1]), x)


def test_the_state_is_the_global_loaders_so_a_checkpoint_resumes_on_one_process():
    x = np.arange(40.0).reshape(20, 2)
    sharded = ShardedLoader(x, batch_size=3, rank=1, size=2, seed=3)
    list(sharded)
    plain = on.DataLoader(x, batch_size=6, seed=3)
    plain.load_state_dict(sharded.state_dict())
    reference = on.DataLoader(x, batch_size=6, seed=3)
    list(reference)
    np.testing.assert_array_equal(np.concatenate(list(plain)), np.concatenate(list(reference)))


def test_bad_rank_or_size_is_refused():
    with pytest.raises(ValueError, match="rank"):
        ShardedLoader(np.zeros((4, 1)), rank=2, size=2)
    with pytest.raises(ValueError, match="size"):
        ShardedLoader(np.zeros((4, 1)), rank=0, size=0)


# --- the optimizer wrapper, with a stand-in for the MPI world ----------------------------------------


class _TwinRanks:
    """Stands in for ``Distributed`` with 2 ranks that computed the same gradient: the sum doubles."""

    size, rank, is_root = 2, 0, True

    def __init__(self):
        self.stats = {"allreduce_seconds": 0.0, "allreduce_calls": 0, "allreduce_bytes": 0}
        self.calls = []

    def allreduce_sum(self, array, what=""):
        self.calls.append(array.size)
        array *= 2
        return array


def _one_step(optimizer, model, x, y):
    loss = on.CrossEntropyLoss()
    loss.forward(model.forward(x), y)
    optimizer.zero_grad()
    model.backward(loss.backward())
    optimizer.step()


def test_the_optimizer_wrapper_sums_all_gradients_in_one_flat_buffer_with_one_call_per_step():
    x, y = worker.make_data("float64", samples=32)
    plain_model, *_ = worker.make_run("float64")
    model, *_ = worker.make_run("float64")
    plain = on.SGD(plain_model.parameters(), lr=0.1, momentum=0.9)
    world = _TwinRanks()
    wrapped = DistributedOptimizer(on.SGD(model.parameters(), lr=0.1, momentum=0.9), world)
    (buffer,) = wrapped._buffers
    assert buffer.size == model.num_parameters()
    assert all(np.shares_memory(p.grad, buffer) for p in model.parameters())
    for _ in range(3):
        _one_step(plain, plain_model, x, y)
        _one_step(wrapped, model, x, y)
    assert world.calls == [model.num_parameters()] * 3  # one Allreduce per step, of everything
    for (name, expected), (_, got) in zip(plain_model.named_parameters(), model.named_parameters()):
        np.testing.assert_allclose(got.data, expected.data, rtol=1e-14, err_msg=name)
    model.parameters()[0].grad = np.ones_like(model.parameters()[0].data)  # someone replaced it
    wrapped.zero_grad()
    assert np.shares_memory(model.parameters()[0].grad, buffer) and not buffer.any()


def test_fit_distributed_without_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setattr(distributed.world, "_world", None)
    model, loss, optimizer, _, _ = worker.make_run("float64")
    x, y = worker.make_data("float64", samples=20)
    with pytest.raises(ImportError, match=r"pip install 'ownnet\[mpi\]'"):
        on.fit(model, loss, optimizer, x, y, distributed=True, verbose=False)


# --- on MPI ranks ----------------------------------------------------------------------------------


def _mpiexec():
    pytest.importorskip("mpi4py", reason="needs mpi4py: pip install 'ownnet[mpi]'")
    beside_python = Path(sys.executable).parent / "mpiexec"  # the mpich wheel's, matching mpi4py
    found = str(beside_python) if beside_python.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec (pip install 'ownnet[mpi]' installs MPICH's)")
    return found


def run_ranks(mode, out, ranks=2, timeout=120, script=None):
    """``mpiexec -n ranks python worker.py mode out``: ``(exit code, output, seconds)``."""
    command = [_mpiexec(), "-n", str(ranks), sys.executable, str(script or WORKER_PATH), mode, str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"mpiexec {mode} hung: no exit within {timeout} s; output: {error.output}")
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.fixture(scope="module")
def reference():
    """The one-process runs: batch 128, same data, seed and optimizer: ``{name: (state, history)}``."""
    runs = {}
    for name, dtype, optimizer in (("sgd64", "float64", "sgd"), ("adam32", "float32", "adam")):
        model, loss, opt, schedule, options = worker.make_run(dtype, optimizer)
        x, y = worker.make_data(dtype)
        history = on.fit(model, loss, opt, x, y, epochs=worker.EPOCHS, batch_size=128, schedule=schedule,
                         seed=0, verbose=False, **options)
        runs[name] = (worker.state_of(model), history.to_dict())
    return runs


def _assert_close_to(state, expected, rtol):
    assert set(state) == set(expected)
    for name, array in expected.items():
        assert state[name].dtype == array.dtype, name
        scale = np.abs(array).max()
        error = np.abs(state[name] - array).max() / scale
        assert error <= rtol, f"{name}: relative difference {error:.3g} > {rtol:g}"


def _state(path):
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


def test_two_ranks_with_batch_64_take_the_steps_of_one_process_with_batch_128(tmp_path, reference):
    code, output, _ = run_ranks("equivalence", tmp_path)
    assert code == 0, output
    for name, rtol in (("sgd64", 1e-12), ("adam32", 1e-5)):
        rank0, rank1 = _state(tmp_path / f"{name}-rank0.npz"), _state(tmp_path / f"{name}-rank1.npz")
        expected_state, expected_history = reference[name]
        _assert_close_to(rank0, expected_state, rtol)
        for key in rank0:  # both ranks hold the same model
            np.testing.assert_array_equal(rank0[key], rank1[key])
        history = json.loads((tmp_path / f"{name}-history.json").read_text())
        np.testing.assert_allclose(history["loss"], expected_history["loss"], rtol=max(rtol, 1e-7))
        np.testing.assert_allclose(history["accuracy"], expected_history["accuracy"], rtol=1e-9)


def test_fit_distributed_on_one_process_is_plain_fit(tmp_path, reference):
    pytest.importorskip("mpi4py", reason="needs mpi4py: pip install 'ownnet[mpi]'")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(WORKER_PATH), "single", str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_close_to(_state(tmp_path / "single-rank0.npz"), reference["sgd64"][0], 1e-14)


def test_batchnorm_and_dropout_train_and_the_ranks_end_with_the_same_model(tmp_path):
    code, output, _ = run_ranks("batchnorm", tmp_path)
    assert code == 0, output
    rank0, rank1 = _state(tmp_path / "batchnorm-rank0.npz"), _state(tmp_path / "batchnorm-rank1.npz")
    assert "1.running_mean" in rank0 and not np.allclose(rank0["1.running_mean"], 0)
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key])
    loss = json.loads((tmp_path / "batchnorm-history.json").read_text())["loss"]
    assert loss[-1] < loss[0] < 2.0


def _checkpoint_epoch(folder, dtype="float64"):
    model, _, opt, schedule, _ = worker.make_run(dtype)
    return load_checkpoint(folder, model, opt, on.History(), schedule)


def test_a_rank_that_raises_stops_the_job_and_the_last_checkpoint_resumes(tmp_path, reference):
    code, output, seconds = run_ranks("raise", tmp_path)
    assert code != 0 and seconds < 60, output
    assert "rank 1 of 2" in output and "RuntimeError: injected failure" in output, output
    assert _checkpoint_epoch(tmp_path / "checkpoint") == 2  # the failure came in epoch 3
    code, output, _ = run_ranks("resume", tmp_path)
    assert code == 0, output
    _assert_close_to(_state(tmp_path / "resumed-rank0.npz"), reference["sgd64"][0], 1e-12)


def test_a_rank_that_dies_stops_the_job_promptly_and_one_process_can_resume(tmp_path, reference):
    code, output, seconds = run_ranks("kill", tmp_path)
    assert code != 0 and seconds < 60, output
    pids = dict(re.findall(r"(\d) \S+:(\d+)", output.split("ranks (rank host:pid", 1)[1].split(")")[0]))
    assert re.search(rf"PID {pids['1']}\b", output), output  # mpiexec names the dead process: rank 1
    checkpoint = tmp_path / "checkpoint"
    assert _checkpoint_epoch(checkpoint) == 2
    # the checkpoint holds the global loader (128 rows per step): one process resumes it
    model, loss, opt, schedule, options = worker.make_run("float64")
    x, y = worker.make_data("float64")
    on.fit(model, loss, opt, x, y, epochs=worker.EPOCHS, batch_size=128, schedule=schedule, seed=0,
           verbose=False, checkpoint_dir=checkpoint, resume=True, **options)
    _assert_close_to(worker.state_of(model), reference["sgd64"][0], 1e-12)


def test_a_rank_that_hangs_is_given_up_after_the_timeout(tmp_path):
    code, output, seconds = run_ranks("hang", tmp_path)  # timeout=2 s in the worker
    assert code != 0 and seconds < 60, output
    assert "rank 0 of 2" in output and "waited more than 2 s in the Allreduce of the gradients" in output


def test_ownnet_train_distributed_writes_outputs_once(tmp_path):
    from ownnet.apps import cli

    try:
        cli.build_parser().parse_args(["train", "--distributed"])
    except cli.UsageError:
        pytest.skip("ownnet train has no --distributed option yet")
    script = tmp_path / "run_cli.py"
    script.write_text("import sys\nfrom ownnet.apps.cli import main\n"
                      "sys.exit(main(['train', '--distributed', '--dataset', 'blobs', '--hidden', '16',\n"
                      "               '--epochs', '2', '--batch-size', '32', '--out', sys.argv[2]]))\n")
    code, output, _ = run_ranks("cli", tmp_path / "out", script=script)
    assert code == 0, output
    assert output.count("test_accuracy=") == 1, output  # only rank 0 reports
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 2
    assert sorted(os.listdir(tmp_path / "out" / "checkpoint")) == ["checkpoint.safetensors"]
