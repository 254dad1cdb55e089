"""The backend logic that the CPU can test: names, devices, conversions, the errors, the deferred loss
and the capture bookkeeping of ``StepGraph`` (with a stand-in for the CUDA graph)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import ownnet as on
from ownnet import backend
from ownnet.backend.cuda.graph import StepGraph


def test_devices_have_aliases_and_a_clear_error():
    assert [backend.resolve_device(d) for d in ("cpu", "numpy", "gpu", "cuda", "cupy")] == \
        ["cpu", "cpu", "gpu", "gpu", "gpu"]
    with pytest.raises(ValueError, match="expected 'cpu' or 'gpu'"):
        backend.resolve_device("tpu")
    with pytest.raises(ValueError, match="expected one of"):
        backend.use_backend("torch")


def test_numpy_arrays_stay_where_they_are():
    x = np.arange(6.0).reshape(2, 3)
    assert backend.to_device(x, "cpu") is x
    assert backend.to_numpy([1, 2]).tolist() == [1, 2]
    assert backend.xp_of(x) is np and backend.device_of(x) == "cpu" and not backend.is_gpu_array(x)
    assert backend.as_device_array([[1.0, 2.0]], device="cpu").shape == (1, 2)


def test_check_device_names_both_ways_out():
    with pytest.raises(TypeError, match=r"lives on the GPU.*to_device\(x, 'gpu'\).*model.to\('cpu'\)"):
        backend.check_device(np.zeros(3), "gpu", "input to Linear")


@pytest.mark.skipif(backend.gpu_available(), reason="checks the message given where no GPU can be used")
def test_asking_for_the_gpu_without_one_says_what_is_missing():
    with pytest.raises((ImportError, RuntimeError), match="CuPy|GPU"):
        backend.use_backend("cupy")
    assert backend.get_backend() == "numpy"
    with pytest.raises((ImportError, RuntimeError), match="CuPy|GPU"):
        on.Linear(3, 2).to("gpu")
    assert not on.gpu_available()


def test_an_unknown_backend_in_the_environment_is_refused_at_import():
    env = {**os.environ, "OWNNET_BACKEND": "tensorflow"}
    result = subprocess.run([sys.executable, "-c", "import ownnet"], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "OWNNET_BACKEND" in result.stderr


def test_module_device_and_to_cpu():
    model = on.Sequential(on.Linear(3, 4), on.ReLU(), on.Linear(4, 2)).to("cpu")
    assert model.device == "cpu"
    assert model.to("cpu") is model and model.dtype == np.float32
    assert model.to("float64").dtype == np.float64
    assert on.Sequential(on.ReLU()).device == backend.default_device()  # no parameters: the default


def test_cuda_graph_argument_is_checked():
    model = on.Sequential(on.Linear(2, 2)).to("cpu")
    args = (model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="model is on the CPU"):
        on.fit(*args, verbose=False, cuda_graph=True)
    with pytest.raises(TypeError, match="cuda_graph"):
        on.fit(*args, verbose=False, cuda_graph="yes")


def test_a_deferred_loss_returns_the_array_and_the_same_value():
    logits = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 1, 0])
    loss = on.CrossEntropyLoss(label_smoothing=0.1)
    expected = loss(logits, labels)
    expected_grad = loss.backward()
    loss.deferred = True
    value = loss(logits, labels)
    assert not isinstance(value, float) and np.ndim(value) == 0  # an array (a NumPy scalar on the CPU)
    assert float(value) == pytest.approx(expected)
    np.testing.assert_array_equal(loss.backward(), expected_grad)


def test_bias_gradient_is_written_or_added():
    layer = on.Linear(3, 2).to("cpu")
    g = np.arange(8, dtype=np.float32).reshape(4, 2)
    layer.bias.zero_grad()
    layer.bias.accumulate_column_sum(g)
    np.testing.assert_array_equal(layer.bias.grad, g.sum(axis=0))
    layer.bias.accumulate_column_sum(g)
    np.testing.assert_array_equal(layer.bias.grad, 2 * g.sum(axis=0))


class FakeGraph:
    def __init__(self):
        self.launches = 0

    def launch(self, stream):
        self.launches += 1


def test_step_graph_warms_up_captures_once_replays_and_recaptures_on_a_new_key(monkeypatch):
    calls = []
    graph = StepGraph(lambda: calls.append("step") or "outputs", stream=None, warmup=2)

    def fake_capture():
        graph.outputs = graph.step()  # capture runs the Python step once, recording it
        graph.graph = FakeGraph()
        graph.captures += 1

    monkeypatch.setattr(graph, "_capture", fake_capture)
    assert graph.run(key=0.1) == "outputs" and graph.run(key=0.1) == "outputs"  # two eager warm-ups
    assert graph.graph is None and len(calls) == 2
    graph.run(key=0.1)  # capture + launch
    first = graph.graph
    graph.run(key=0.1)
    graph.run(key=0.1)  # replays: no Python step
    assert len(calls) == 3 and first.launches == 3 and graph.captures == 1
    graph.run(key=0.05)  # a new learning rate: recorded again
    assert graph.captures == 2 and len(calls) == 4 and graph.graph is not first
