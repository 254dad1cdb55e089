"""The runner registry: fit picks a runner by name; the GPU and MPI runners load on first use."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ownnet as on
from ownnet.train import runners
from ownnet.train.runners import CpuRunner, get_runner, register_runner

TRAIN = Path(runners.__file__).parent


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def test_the_cpu_runner_is_registered_and_the_others_are_module_paths():
    assert get_runner("cpu") is CpuRunner
    paths = {"gpu": "ownnet.gpu.runner.GpuRunner", "mpi": "ownnet.distributed.runner.MpiRunner"}
    for name, path in paths.items():
        runner = get_runner(name)
        assert f"{runner.__module__}.{runner.__qualname__}" == path
        assert issubclass(runner, CpuRunner)


def test_an_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown name 'tpu'; expected one of \['cpu', 'gpu', 'mpi'"):
        get_runner("tpu")
    with pytest.raises(TypeError, match="runner name"):
        register_runner("", CpuRunner)


def test_a_lazy_entry_is_imported_on_first_use_and_kept(monkeypatch):
    monkeypatch.setitem(runners._RUNNERS, "lazy", "ownnet.train.runners:CpuRunner")
    assert get_runner("lazy") is CpuRunner
    assert runners._RUNNERS["lazy"] is CpuRunner  # imported once


def test_importing_ownnet_and_training_on_the_cpu_loads_neither_the_gpu_nor_the_mpi_runner():
    code = ("import sys, numpy as np, ownnet as on\n"
            "x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32); y = (x[:, 0] > 0) * 1\n"
            "model = on.mlp([3, 4, 2])\n"
            "on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, verbose=False)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('ownnet.gpu', 'ownnet.distributed.runner',"
            " 'mpi4py', 'cupy'))))\n"
            "from ownnet.train.runners import get_runner\n"
            "get_runner('gpu'); get_runner('mpi')\n"
            "runners = ('ownnet.gpu.runner', 'ownnet.distributed.runner')\n"
            "print(sorted(m for m in sys.modules if m in runners))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.strip().splitlines()
    assert before == "[]"
    assert after == "['ownnet.distributed.runner', 'ownnet.gpu.runner']"


def test_train_imports_neither_distributed_nor_the_gpu_code_anywhere():
    for path in TRAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(("ownnet.distributed", "ownnet.gpu", "ownnet.backend.cuda",
                                            "mpi4py", "cupy")), f"{path.name} imports {name}"


def test_fit_runs_the_registered_runner(monkeypatch):
    epochs_run = []

    class Counting(CpuRunner):
        def run_epoch(self, run, step_callbacks):
            epochs_run.append(run.epoch)
            return super().run_epoch(run, step_callbacks)

    monkeypatch.setitem(runners._RUNNERS, "cpu", Counting)
    x, y = _data()
    on.manual_seed(0)
    model = on.mlp([4, 8, 2])
    history = on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=3,
                     verbose=False)
    assert epochs_run == [1, 2, 3] and history.epochs == [1, 2, 3]


def test_the_cpu_runner_keeps_the_totals_of_its_steps():
    x, y = _data(80)
    losses = []
    on.manual_seed(0)
    model = on.mlp([4, 8, 2])
    recorder = on.LambdaCallback(on_batch_end=lambda step, logs: losses.append((logs["loss"],
                                                                                 logs["batch_size"])))
    history = on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=1,
                     batch_size=32, callbacks=[recorder], verbose=False, shuffle=False)
    assert [n for _, n in losses] == [32, 32, 16]
    assert history["loss"][0] == sum(value * n for value, n in losses) / 80
