"""The GPU backend on a real GPU: cuBLAS calls, fused kernels, gradient checks in float64, moving and
saving models, fit with and without the captured CUDA graph. Skipped (with the reason) where CuPy or
a GPU is missing, as on CI; ``benchmarks/gpu.py`` measures the speed."""

import numpy as np
import pytest

import ownnet as on
from ownnet import backend

pytestmark = pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and an NVIDIA GPU")

if backend.gpu_available():
    import cupy as cp


def close(gpu, cpu, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(backend.to_numpy(gpu), cpu, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("accumulate", [False, True])
def test_cublas_matches_numpy_in_every_layout(dtype, accumulate):
    from ownnet.backend.cuda.cublas import gemm

    rng = np.random.default_rng(0)
    for m, k, n in [(128, 784, 512), (7, 5, 3), (1, 4, 2), (5, 1, 3)]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        c = rng.standard_normal((m, n)).astype(dtype)
        for a_gpu, a_cpu in ((cp.asarray(a), a), (cp.asarray(a.T.copy()).T, a)):
            for b_gpu, b_cpu in ((cp.asarray(b), b), (cp.asarray(b.T.copy()).T, b)):
                out = cp.asarray(c)
                gemm(a_gpu, b_gpu, out, accumulate)
                close(out, a_cpu @ b_cpu + (c if accumulate else 0), rtol=1e-4, atol=1e-3)


def test_fused_activation_backward_kernels_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 33)).astype(np.float32)
    g = rng.standard_normal((64, 33)).astype(np.float32)
    for layer in (on.ReLU(), on.Tanh(), on.Sigmoid()):  # no parameters: they follow the input
        out_cpu = layer.forward(x)
        grad_cpu = layer.backward(g)
        out_gpu = layer.forward(cp.asarray(x))
        close(out_gpu, out_cpu)
        close(layer.backward(cp.asarray(g)), grad_cpu)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_cross_entropy_matches_the_numpy_loss(smoothing, dtype):
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((200, 10)) * 5).astype(dtype)
    logits[0, 3] = 1e4  # stable for large logits
    labels = rng.integers(0, 10, 200)
    loss = on.CrossEntropyLoss(label_smoothing=smoothing)
    expected, expected_grad = loss(logits, labels), loss.backward()
    value = loss(cp.asarray(logits), cp.asarray(labels))
    assert value == pytest.approx(expected, rel=1e-5)
    close(loss.backward(), expected_grad, atol=1e-7)


def test_count_correct_is_the_accuracy():
    from ownnet.backend.cuda.kernels import count_correct

    rng = np.random.default_rng(3)
    logits, labels = rng.standard_normal((300, 10)).astype(np.float32), rng.integers(0, 10, 300)
    hits = count_correct(cp.asarray(logits), cp.asarray(labels))
    assert float(hits) == 300 * on.accuracy(labels, logits)


@pytest.mark.parametrize("make", [
    lambda p: on.SGD(p, lr=0.1),
    lambda p: on.SGD(p, lr=0.1, momentum=0.9),
    lambda p: on.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: on.SGD(p, lr=0.1, momentum=0.5, dampening=0.3),
    lambda p: on.Adam(p, lr=1e-2, weight_decay=1e-3),
    lambda p: on.AdamW(p, lr=1e-2),
    lambda p: on.Adam(p, lr=1e-2, amsgrad=True),  # no fused kernel: the generic code on CuPy
    lambda p: on.RMSProp(p, lr=1e-2, momentum=0.9, centered=True),
])
def test_optimizers_follow_the_cpu_trajectory(make):
    rng = np.random.default_rng(4)
    cpu = on.Linear(6, 4, dtype="float64").to("cpu")
    gpu = on.Linear(6, 4, dtype="float64").to("cpu")
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("gpu")
    opt_cpu, opt_gpu = make(cpu.parameters()), make(gpu.parameters())
    for _ in range(20):
        grads = [rng.standard_normal(p.shape) for p in cpu.parameters()]
        for p, q, grad in zip(cpu.parameters(), gpu.parameters(), grads):
            p.grad = grad.copy()
            q.grad = cp.asarray(grad)
        opt_cpu.step()
        opt_gpu.step()
    for p, q in zip(cpu.parameters(), gpu.parameters()):
        close(q.data, p.data, rtol=1e-10, atol=1e-12)


def gradcheck_cases():
    from test_gradcheck import CASES, DEFAULT_SHAPE, library_modules

    for name, cls in library_modules().items():
        for builder, shape in CASES.get(name, [(cls, DEFAULT_SHAPE)]):
            yield pytest.param(builder, shape, id=name)


@pytest.mark.parametrize("builder,shape", list(gradcheck_cases()) if backend.gpu_available() else [])
@pytest.mark.parametrize("training", [True, False])
def test_every_layer_passes_gradcheck_on_the_gpu_in_float64(builder, shape, training):
    on.manual_seed(0)
    module = builder().to("float64").train(training).to("gpu")
    x = cp.asarray(np.random.default_rng(5).standard_normal(shape))
    result = on.gradcheck(module, x)
    assert result, result


@pytest.mark.parametrize("loss,target", [
    (on.MSELoss(), lambda rng: rng.standard_normal((4, 3))),
    (on.L1Loss(), lambda rng: rng.standard_normal((4, 3))),
    (on.HuberLoss(delta=0.5), lambda rng: rng.standard_normal((4, 3))),
    (on.CrossEntropyLoss(), lambda rng: rng.integers(0, 3, 4)),
    (on.CrossEntropyLoss(label_smoothing=0.2), lambda rng: rng.integers(0, 3, 4)),
    (on.CrossEntropyLoss(), lambda rng: rng.dirichlet(np.ones(3), 4)),
    (on.BCEWithLogitsLoss(), lambda rng: rng.random((4, 3))),
    (on.BCELoss(), lambda rng: rng.random((4, 3))),
], ids=lambda v: type(v).__name__ if isinstance(v, on.Loss) else "")
def test_every_loss_passes_gradcheck_on_the_gpu_in_float64(loss, target):
    rng = np.random.default_rng(6)
    pred = cp.asarray(rng.random((4, 3)) * 0.8 + 0.1)  # probabilities for BCELoss, fine as logits
    result = on.gradcheck(loss, pred, cp.asarray(target(rng)))
    assert result, result


def test_moving_a_model_and_its_optimizer_and_saving_across_devices(tmp_path):
    model = on.mlp([8, 16, 3]).to("cpu")
    x = np.random.default_rng(7).standard_normal((5, 8)).astype(np.float32)
    expected = model(x)
    model.to("gpu")
    assert model.device == "gpu" and all(backend.is_gpu_array(p.data) for p in model.parameters())
    out = model(x)  # host data is uploaded by the validated entry point
    assert backend.is_gpu_array(out)
    close(out, expected, rtol=1e-5, atol=1e-5)
    on.save(model, tmp_path / "m")
    on_cpu = on.load(tmp_path / "m.safetensors", device="cpu")
    np.testing.assert_allclose(on_cpu(x), expected, rtol=1e-5, atol=1e-5)
    close(on.load(tmp_path / "m.safetensors", device="gpu")(x), expected, rtol=1e-5, atol=1e-5)
    optimizer = on.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.to("cpu")
    model.zero_grad()
    model(x)
    model.backward(np.ones((5, 3), np.float32))
    optimizer.step()  # follows the model to the CPU by itself
    assert all(isinstance(a, np.ndarray) for s in optimizer.state for a in s.values())


def test_mixing_numpy_into_a_gpu_forward_is_a_clear_error():
    layer = on.Linear(4, 2).to("gpu")
    with pytest.raises(TypeError, match="lives on the GPU"):
        layer.forward(np.zeros((3, 4), np.float32))
    cpu_layer = on.Linear(4, 2).to("cpu")
    with pytest.raises(TypeError, match="lives on the CPU"):
        cpu_layer(cp.zeros((3, 4), cp.float32))


def small_problem():
    x, y = on.datasets.make_spirals(n_samples=1200, noise=0.1, seed=0)
    return np.asarray(x, np.float32), np.asarray(y)


def train(device, cuda_graph, epochs=30, optimizer=None, seed=0):
    x, y = small_problem()
    on.manual_seed(seed)
    model = on.mlp([2, 64, 64, 2]).to(device)
    opt = (optimizer or (lambda p: on.SGD(p, lr=0.1, momentum=0.9)))(model.parameters())
    history = on.fit(model, on.CrossEntropyLoss(), opt, x, y, epochs=epochs, batch_size=64, seed=seed,
                     verbose=False, cuda_graph=cuda_graph)
    return model, history


def test_fit_on_the_gpu_learns_as_on_the_cpu_and_the_graph_changes_nothing():
    from ownnet.backend.cuda.graph import STATS

    cpu_model, cpu_history = train("cpu", None)
    eager_model, eager_history = train("gpu", False)
    replays = STATS["replays"]
    graph_model, graph_history = train("gpu", True)
    # every full batch but the 2 warm-up steps and the captured one is a replay
    assert STATS["replays"] - replays == 30 * (1200 // 64) - 3

    assert abs(eager_history.history["accuracy"][-1] - cpu_history.history["accuracy"][-1]) < 0.02
    assert graph_history.history["accuracy"] == pytest.approx(eager_history.history["accuracy"], abs=1e-9)
    for p, q in zip(eager_model.parameters(), graph_model.parameters()):
        np.testing.assert_allclose(backend.to_numpy(q.data), backend.to_numpy(p.data), rtol=1e-5, atol=1e-6)
    assert graph_model.parameters()[0].data.dtype == cp.float32


def test_fit_on_the_gpu_with_adam_dropout_and_a_schedule_runs_eagerly():
    x, y = small_problem()
    model = on.Sequential(on.Linear(2, 32), on.ReLU(), on.Dropout(0.1), on.Linear(32, 2)).to("gpu")
    opt = on.Adam(model.parameters(), lr=1e-2)
    with pytest.raises(ValueError, match="cannot be captured"):
        on.fit(model, on.CrossEntropyLoss(), opt, x, y, epochs=1, verbose=False, cuda_graph=True)
    history = on.fit(model, on.CrossEntropyLoss(), opt, x, y, epochs=3, batch_size=32, verbose=False,
                     validation_split=0.2, schedule=on.StepLR(opt, step_size=1, gamma=0.5))
    assert history.history["val_accuracy"][-1] > 0.5
    proba = on.predict_proba(model, x[:10])
    assert isinstance(proba, np.ndarray) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)


def test_a_diverging_run_on_the_gpu_stops_at_the_end_of_its_epoch():
    x, y = small_problem()
    model = on.mlp([2, 16, 2]).to("gpu")
    with pytest.raises(on.DivergenceError, match="epoch 1"):
        on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=1e30), x * 1e10, y,
               epochs=3, verbose=False)


def test_mnist_subset_reaches_the_cpu_accuracy(mnist_dir):
    (x_train, y_train), (x_test, y_test) = on.datasets.load_mnist(normalize=True)
    results = {}
    for device in ("cpu", "gpu"):
        on.manual_seed(0)
        model = on.mlp([784, 256, 10]).to(device)
        on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.05, momentum=0.9),
               x_train[:20000], y_train[:20000], epochs=2, batch_size=128, seed=0, verbose=False)
        results[device] = on.evaluate(model, None, x_test, y_test)["accuracy"]
    assert abs(results["gpu"] - results["cpu"]) < 0.005, results


def test_random_shift_moves_gpu_images_as_cpu_ones():
    x = np.random.default_rng(8).random((16, 784)).astype(np.float32)
    close(on.RandomShift(2, seed=3)(cp.asarray(x)), on.RandomShift(2, seed=3)(x), rtol=0, atol=0)


def test_ownnet_train_on_the_gpu_matches_the_cpu(mnist_dir, tmp_path, capsys):
    from ownnet.apps.cli import main

    accuracies = {}
    for device in ("cpu", "gpu"):
        args = ["train", "--device", device, "--limit", "5000", "--epochs", "2", "--quiet",
                "--out", str(tmp_path / device)]
        assert main(args) == 0
        accuracies[device] = float(capsys.readouterr().out.strip().splitlines()[-1].split("=")[1])
    assert abs(accuracies["gpu"] - accuracies["cpu"]) < 0.005, accuracies
    assert on.load(tmp_path / "gpu" / "model.safetensors", device="cpu").device == "cpu"


def test_fit_on_the_gpu_checks_float_labels_once_and_trains_on_them():
    x, y = small_problem()
    model = on.mlp([2, 16, 2]).to("gpu")
    with pytest.raises(ValueError, match="class labels must be integers, got 0.5"):
        on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, np.full(len(x), 0.5),
               epochs=1, verbose=False)
    history = on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x,
                     y.astype(np.float32), epochs=2, verbose=False)
    assert len(history) == 2
