"""fit / evaluate / predict: the training loop, its validation, divergence stop and determinism."""

import json

import numpy as np
import pytest

import ownnet as on


def _blobs(n=400, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, n)
    x = (centers[y] + rng.normal(0, 0.6, (n, 2))).astype(dtype)
    return x, y


def _setup(seed=0, dropout=0.0, lr=0.1, dtype="float32"):
    on.manual_seed(seed)
    model = on.mlp([2, 16, 3], activation="relu", dropout=dropout, dtype=dtype)
    return model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=lr, momentum=0.9)


def test_fit_learns_and_returns_history():
    x, y = _blobs()
    model, loss, optimizer = _setup()
    history = on.fit(model, loss, optimizer, x, y, epochs=5, batch_size=32, validation_split=0.2,
                     verbose=False, seed=0)
    assert history.epochs == [1, 2, 3, 4, 5]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds", "lr", "samples_per_second"):
        assert len(history[key]) == 5, key
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    json.dumps(history.to_dict())  # JSON-serialisable
    results = on.evaluate(model, loss, x, y)
    assert results["accuracy"] > 0.9 and results["loss"] < 0.5


def test_manual_loop_equals_fit_without_shuffle():
    x, y = _blobs(n=96)
    model_a, loss_a, opt_a = _setup()
    on.fit(model_a, loss_a, opt_a, x, y, epochs=2, batch_size=32, shuffle=False, verbose=False)
    model_b, loss_b, opt_b = _setup()
    for _ in range(2):
        for start in range(0, 96, 32):
            out = model_b(x[start:start + 32])
            loss_b.forward(out, y[start:start + 32])
            opt_b.zero_grad()
            model_b.backward(loss_b.backward())
            opt_b.step()
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_same_seed_gives_bit_identical_weights():
    x, y = _blobs()
    runs = []
    for _ in range(2):
        model, loss, optimizer = _setup(dropout=0.2)
        history = on.fit(model, loss, optimizer, x, y, epochs=3, batch_size=16, seed=7, verbose=False)
        runs.append((model, history))
    for pa, pb in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert runs[0][1]["loss"] == runs[1][1]["loss"]


def test_float32_training_keeps_float32_everywhere():
    x, y = _blobs(dtype=np.float64)  # float64 data into a float32 model: computed in float32
    model, loss, optimizer = _setup()
    on.fit(model, loss, optimizer, x, y, epochs=1, batch_size=32, verbose=False)
    for p in model.parameters():
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
    assert on.predict(model, x).dtype == np.float32


def test_float64_model_on_request():
    x, y = _blobs()
    model, loss, optimizer = _setup(dtype="float64")
    on.fit(model, loss, optimizer, x, y, epochs=1, verbose=False)
    assert all(p.data.dtype == np.float64 for p in model.parameters())
    assert on.predict(model, x).dtype == np.float64


def test_divergence_stops_with_epoch_and_step():
    x, y = _blobs()
    x = x * 1e3
    model, loss, optimizer = _setup(lr=1e6)
    with pytest.raises(on.DivergenceError, match=r"epoch 1, step \d+.*learning rate"):
        on.fit(model, loss, optimizer, x, y, epochs=3, verbose=False)


@pytest.mark.parametrize("bad, message", [
    (dict(epochs=0), "epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(validation_split=1.5), "validation_split"),
    (dict(metrics=("nonsense",)), "unknown metric"),
])
def test_fit_rejects_bad_arguments(bad, message):
    x, y = _blobs(n=40)
    model, loss, optimizer = _setup()
    with pytest.raises(ValueError, match=message):
        on.fit(model, loss, optimizer, x, y, verbose=False, **bad)


def test_fit_rejects_mismatched_or_bad_data():
    x, y = _blobs(n=40)
    model, loss, optimizer = _setup()
    with pytest.raises(ValueError, match="y: expected 40 targets"):
        on.fit(model, loss, optimizer, x, y[:30], verbose=False)
    x_nan = x.copy()
    x_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        on.fit(model, loss, optimizer, x_nan, y, verbose=False)
    with pytest.raises(ValueError):
        on.fit(model, loss, optimizer, x, np.where(y == 2, 7, y), verbose=False)  # label >= n_classes


def test_predict_batches_and_restores_mode():
    x, _ = _blobs(n=2500)
    model, _, _ = _setup(dropout=0.5)
    model.train()
    out = on.predict(model, x, batch_size=1000)
    assert out.shape == (2500, 3)
    assert model.training  # restored
    np.testing.assert_allclose(out, on.predict(model, x, batch_size=7), rtol=1e-5, atol=1e-6)
    proba = on.predict_proba(model, x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(on.predict_classes(model, x), out.argmax(axis=1))


def test_step_schedule_and_epoch_schedule_change_lr():
    x, y = _blobs(n=64)
    model, loss, optimizer = _setup(lr=0.1)
    schedule = on.StepLR(optimizer, step_size=1, gamma=0.5)
    history = on.fit(model, loss, optimizer, x, y, epochs=3, batch_size=32, schedule=schedule,
                     verbose=False)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])


def test_regression_fit_with_mse():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, 1)).astype(np.float32)
    y = (3 * x - 0.5).astype(np.float32)
    on.manual_seed(0)
    model = on.Sequential(on.Linear(1, 1))
    history = on.fit(model, on.MSELoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=30,
                     batch_size=32, metrics=("mae", "r2"), verbose=False)
    assert history["r2"][-1] > 0.999
    np.testing.assert_allclose(model[0].weight.data, [[3.0]], atol=1e-2)


def test_progress_output_when_verbose(capsys):
    x, y = _blobs(n=64)
    model, loss, optimizer = _setup()
    on.fit(model, loss, optimizer, x, y, epochs=2, batch_size=32, verbose=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "samples/s" in err


def test_custom_callback_hooks_are_called():
    x, y = _blobs(n=64)
    model, loss, optimizer = _setup()
    calls = []

    class Recorder(on.Callback):
        def on_epoch_begin(self, epoch):
            calls.append(("begin", epoch))

        def on_batch_end(self, step, logs):
            calls.append(("batch", step))

        def on_epoch_end(self, epoch, logs):
            calls.append(("end", epoch, round(logs["loss"], 6) == round(self.run.history["loss"][-1], 6)))

    on.fit(model, loss, optimizer, x, y, epochs=2, batch_size=32, callbacks=[Recorder()], verbose=False)
    assert calls == [("begin", 1), ("batch", 1), ("batch", 2), ("end", 1, True),
                     ("begin", 2), ("batch", 1), ("batch", 2), ("end", 2, True)]
