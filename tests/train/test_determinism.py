"""Determinism on the CPU: the same seed gives bit-identical weights and metrics -- with ``fit``, with
the command line (in this process and in another one), and across save -> load -> continue.

Where it cannot hold (another BLAS thread count or library, a GPU) is described in docs/determinism.md.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import ownnet as on
from ownnet.apps.cli import main

TIMING_KEYS = {"seconds", "samples_per_second", "wall_seconds"}


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.int64) + (x[:, 3] > 1)
    return x, y


def _train(seed, epochs=3, model=None, optimizer=None):
    """A run that uses every source of randomness: init, shuffling, Dropout masks, BatchNorm."""
    if model is None:
        on.manual_seed(seed)
        model = on.mlp([8, 32, 16, 3], dropout=0.2, batch_norm=True)
        optimizer = on.Adam(model.parameters(), lr=0.01)
    x, y = _data()
    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=epochs, batch_size=32, seed=seed,
                     validation_split=0.2, verbose=False)
    return model, optimizer, history


def _without_timings(value):
    if isinstance(value, dict):
        return {key: _without_timings(item) for key, item in value.items() if key not in TIMING_KEYS}
    return value


def _assert_same_state(a, b):
    state_a, state_b = a.state_dict(), b.state_dict()
    assert sorted(state_a) == sorted(state_b)
    for name in state_a:
        assert state_a[name].dtype == state_b[name].dtype
        np.testing.assert_array_equal(state_a[name], state_b[name], err_msg=name)


def test_fit_same_seed_bit_identical_weights_and_metrics():
    first, _, first_history = _train(seed=5)
    second, _, second_history = _train(seed=5)
    _assert_same_state(first, second)
    assert _without_timings(first_history.to_dict()) == _without_timings(second_history.to_dict())
    x, _ = _data()
    assert on.predict(first, x).tobytes() == on.predict(second, x).tobytes()


def test_fit_other_seed_differs():
    """The comparison above can fail: another seed gives other weights and other losses."""
    first, _, first_history = _train(seed=5)
    other, _, other_history = _train(seed=6)
    assert not np.array_equal(first[0].weight.data, other[0].weight.data)
    assert first_history["loss"] != other_history["loss"]


def test_save_load_continue_matches_continuing_in_memory(tmp_path):
    model, optimizer, _ = _train(seed=1, epochs=2)
    path = on.save(model, tmp_path / "model")
    optimizer_state = optimizer.state_dict()

    on.manual_seed(123)  # loading must not change what a seeded script draws next
    expected_draw = on.nn.init.rng().random(3)
    on.manual_seed(123)
    loaded = on.load(path)
    assert np.array_equal(on.nn.init.rng().random(3), expected_draw)
    _assert_same_state(model, loaded)

    loaded_optimizer = on.Adam(loaded.parameters(), lr=0.01)
    loaded_optimizer.load_state_dict(optimizer_state)
    _, _, continued = _train(seed=9, epochs=2, model=loaded, optimizer=loaded_optimizer)
    _, _, in_memory = _train(seed=9, epochs=2, model=model, optimizer=optimizer)
    _assert_same_state(model, loaded)
    assert _without_timings(continued.to_dict()) == _without_timings(in_memory.to_dict())


def test_checkpoint_resume_matches_an_uninterrupted_run(tmp_path):
    def run(epochs, folder, resume=False):
        on.manual_seed(4)
        model = on.mlp([8, 16, 3], dropout=0.1, batch_norm=True)
        optimizer = on.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        x, y = _data()
        history = on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=epochs, batch_size=16,
                         seed=2, verbose=False, checkpoint_dir=folder, resume=resume,
                         schedule=on.StepLR(optimizer, step_size=1, gamma=0.5))
        return model, history

    full, full_history = run(4, tmp_path / "full")
    run(2, tmp_path / "part")
    resumed, resumed_history = run(4, tmp_path / "part", resume=True)
    _assert_same_state(full, resumed)
    assert _without_timings(full_history.to_dict()) == _without_timings(resumed_history.to_dict())


# --- the command line --------------------------------------------------------------------------------------
CLI_ARGS = ["train", "--limit", "1000", "--hidden", "16", "--dropout", "0.1", "--seed", "3", "--quiet",
            "--schedule", "none"]


def _outputs(folder):
    metrics = json.loads((folder / "metrics.json").read_text())
    return _without_timings(metrics), (folder / "model.safetensors").read_bytes()


@pytest.mark.slow
@pytest.mark.usefixtures("mnist_dir")
def test_cli_train_twice_gives_identical_files(tmp_path, capsys):
    assert main(CLI_ARGS + ["--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-m", "ownnet", *CLI_ARGS, "--epochs", "1", "--out",
                           str(tmp_path / "b")], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    metrics_a, model_a = _outputs(tmp_path / "a")
    metrics_b, model_b = _outputs(tmp_path / "b")
    assert metrics_a == metrics_b
    assert model_a == model_b
    assert done.stdout.strip().splitlines()[-1] == capsys.readouterr().out.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.usefixtures("mnist_dir")
def test_cli_resume_matches_a_run_without_interruption(tmp_path, capsys):
    assert main(CLI_ARGS + ["--epochs", "2", "--out", str(tmp_path / "full")]) == 0
    assert main(CLI_ARGS + ["--epochs", "1", "--out", str(tmp_path / "part")]) == 0
    assert main(CLI_ARGS + ["--epochs", "2", "--out", str(tmp_path / "part"), "--resume"]) == 0
    metrics_full, model_full = _outputs(tmp_path / "full")
    metrics_part, model_part = _outputs(tmp_path / "part")
    assert model_full == model_part
    assert metrics_full["history"] == metrics_part["history"]
    assert metrics_full["result"] == metrics_part["result"]
