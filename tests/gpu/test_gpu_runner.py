"""The GPU runner's epoch logic, run on the CPU with NumPy stand-ins (no GPU needed).

CuPy is replaced by a module whose stream does nothing and whose arrays are NumPy's; the CUDA graph
by ``ReplayingGraph``, which replays the step's arithmetic without its Python bookkeeping, as a real
replay does. With the GPU runner registered as the "cpu" runner, ``fit`` then runs the GPU runner's
loop (device totals, warm-up, capture and replay, the step count of replays, callbacks) on NumPy
arrays (the accuracy counted by the CPU's ops), and must train as the CPU runner does.
tests/backend/test_gpu.py runs it on a real GPU.
"""

import sys
import types

import numpy as np
import pytest

import ownnet as on
from ownnet.gpu import runner as gpu_runner
from ownnet.gpu.runner import GpuRunner
from ownnet.train import loop, runners


class _Stream:
    def __init__(self, non_blocking=False):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *error):
        return False


class _DeviceArray(np.ndarray):
    def get(self):
        return np.array(self)


def _fake_cupy():
    cupy = types.ModuleType("cupy")
    cupy.float64 = np.float64
    cupy.zeros = lambda shape, dtype: np.zeros(shape, dtype).view(_DeviceArray)
    cupy.cuda = types.SimpleNamespace(Stream=_Stream)
    return cupy


class ReplayingGraph:
    """Stands in for ``StepGraph``: ``warmup`` eager steps, a capture (the step runs once), then
    replays that redo the arithmetic but not the Python bookkeeping (the optimizer's step count)."""

    instances = []

    def __init__(self, step, stream, warmup=2):
        self.step, self.warmup_left = step, warmup
        self.captured, self.key, self.pools = False, None, []
        self.captures = self.replays = 0
        ReplayingGraph.instances.append(self)

    def run(self, key=None):
        if self.captured and key != self.key:
            self.captured = False  # a new learning rate: capture again
        if not self.captured:
            if self.warmup_left > 0:
                self.warmup_left -= 1
                return self.step()
            self.captured, self.key = True, key
            self.captures += 1
            return self.step()
        self.replays += 1
        optimizer = ReplayingGraph.optimizer
        count = optimizer.step_count
        value = self.step()
        optimizer.step_count = count  # a replay runs no Python
        return value


@pytest.fixture
def gpu_runner_on_numpy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    monkeypatch.setattr(gpu_runner, "StepGraph", ReplayingGraph)
    ReplayingGraph.instances = []
    monkeypatch.setitem(runners._RUNNERS, "cpu", GpuRunner)
    monkeypatch.setattr(loop, "check_cuda_graph", lambda cuda_graph, model: None)  # the model is on the CPU
    return ReplayingGraph


def _data(n=200):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = (np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])[y] + rng.normal(0, 0.6, (n, 2))).astype(np.float32)
    return x, y


def mean_top_score(y_true, y_pred):
    """A metric computed on the host."""
    return float(y_pred.max(axis=1).mean())


def _train(optimizer_class=on.SGD, epochs=3, **options):
    x, y = _data()
    on.manual_seed(0)
    model = on.mlp([2, 16, 3])
    extra = {"momentum": 0.9} if optimizer_class is on.SGD else {}
    optimizer = optimizer_class(model.parameters(), lr=0.1, **extra)
    ReplayingGraph.optimizer = optimizer
    loss = on.CrossEntropyLoss()
    history = on.fit(model, loss, optimizer, x, y, epochs=epochs, batch_size=32, seed=0, verbose=False,
                     **options)
    assert loss.deferred is False  # restored
    return model, optimizer, history


def _assert_same_training(a, b):
    (model_a, opt_a, history_a), (model_b, opt_b, history_b) = a, b
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert opt_a.step_count == opt_b.step_count
    np.testing.assert_allclose(history_a["loss"], history_b["loss"], rtol=1e-6)
    assert history_a["accuracy"] == pytest.approx(history_b["accuracy"], abs=1e-12)


@pytest.mark.parametrize("cuda_graph", [False, None, True])
def test_the_gpu_runner_trains_as_the_cpu_runner(cuda_graph):
    cpu = _train(cuda_graph=None)
    ReplayingGraph.instances = graphs = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "cupy", _fake_cupy())
        patch.setattr(gpu_runner, "StepGraph", ReplayingGraph)
        patch.setitem(runners._RUNNERS, "cpu", GpuRunner)
        patch.setattr(loop, "check_cuda_graph", lambda cuda_graph, model: None)
        gpu = _train(cuda_graph=cuda_graph)
    _assert_same_training(gpu, cpu)
    if cuda_graph is False:
        assert graphs == []
    else:
        (graph,) = graphs
        steps = 3 * 7  # 200 rows in batches of 32: 6 full batches and one of 8 (not captured)
        assert graph.captures == 1 and graph.replays == steps - 3 - 2 - 1  # 3 last batches, 2 warm-up


def test_a_new_learning_rate_is_captured_again(gpu_runner_on_numpy):
    model, optimizer, history = _train(schedule=None, epochs=2)
    (graph,) = gpu_runner_on_numpy.instances
    assert graph.captures == 1
    gpu_runner_on_numpy.instances = []
    x, y = _data()
    on.manual_seed(0)
    model = on.mlp([2, 16, 3])
    optimizer = on.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gpu_runner_on_numpy.optimizer = optimizer
    on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=2, batch_size=32, verbose=False,
           schedule=on.StepLR(optimizer, step_size=1, gamma=0.5))
    (graph,) = gpu_runner_on_numpy.instances
    assert graph.captures == 2


@pytest.mark.parametrize("options, reason", [
    ({"optimizer_class": on.Adam}, "the optimizer is Adam; only SGD's step is captured"),
    ({"clip_grad_norm": 1.0}, "clip_grad_norm reads the gradient norm on the host"),
    ({"metrics": ("accuracy", mean_top_score)}, "the metrics [None] are computed on the host"),
])
def test_cuda_graph_true_says_why_the_step_cannot_be_captured(gpu_runner_on_numpy, options, reason):
    with pytest.raises(ValueError, match="cuda_graph=True: the training step cannot be captured: "
                                         + reason.replace("[", r"\[").replace("]", r"\]")):
        _train(cuda_graph=True, **options)


def test_where_it_cannot_capture_it_trains_eagerly_with_the_same_step(gpu_runner_on_numpy):
    gpu = _train(clip_grad_norm=0.5, metrics=("accuracy", mean_top_score))
    assert gpu_runner_on_numpy.instances == []
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(runners._RUNNERS, "cpu", runners.CpuRunner)
        cpu = _train(clip_grad_norm=0.5, metrics=("accuracy", mean_top_score))
    _assert_same_training(gpu, cpu)
    np.testing.assert_allclose(gpu[2]["mean_top_score"], cpu[2]["mean_top_score"], rtol=1e-6)


def test_step_callbacks_get_the_loss_and_the_bar_does_not_make_it_wait(gpu_runner_on_numpy):
    from ownnet.train.progress import ProgressBar

    class Bar(ProgressBar):
        def on_epoch_begin(self, epoch):
            self.seen_losses = []

        def on_batch_end(self, step, logs):
            self.seen_losses.append(logs["loss"])

        def on_epoch_end(self, epoch, logs):
            pass

    bar = Bar(1, 7)
    _train(epochs=1, callbacks=[bar])
    assert bar.seen_losses == [None] * 7  # alone, the bar never reads the loss from the device
    losses = []
    recorder = on.LambdaCallback(on_batch_end=lambda step, logs: losses.append(logs["loss"]))
    _train(epochs=1, callbacks=[bar, recorder])
    assert len(losses) == 7 and all(isinstance(value, float) for value in losses)
    assert bar.seen_losses == losses


def test_a_nan_loss_on_the_gpu_stops_at_the_end_of_its_epoch(gpu_runner_on_numpy):
    x, y = _data()
    on.manual_seed(0)
    model = on.mlp([2, 16, 3])
    optimizer = on.SGD(model.parameters(), lr=1e6)
    gpu_runner_on_numpy.optimizer = optimizer
    with pytest.raises(on.DivergenceError, match="during epoch 1"):
        on.fit(model, on.CrossEntropyLoss(), optimizer, x * 1e3, y, epochs=3, verbose=False)
