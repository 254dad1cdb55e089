"""Checkpoints: resume after epoch k gives bit-identical weights; a failed write keeps the last one."""

import re

import numpy as np
import pytest

import ownnet as on
from ownnet.files import atomic_write
from ownnet.train import checkpoint


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 1)
    return x, y


def _run(tmp_dir, epochs, resume=False, optimizer_name="adam", augment=False):
    on.manual_seed(3)
    model = on.mlp([6, 16, 16, 3], dropout=0.1)
    params = model.parameters()
    if optimizer_name == "adam":
        optimizer = on.Adam(params, lr=0.01)
    else:
        optimizer = on.SGD(params, lr=0.05, momentum=0.9)
    schedule = on.CosineAnnealingLR(optimizer, T_max=6)
    x, y = _data()
    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=epochs, batch_size=32, seed=11,
                     schedule=schedule, checkpoint_dir=tmp_dir, resume=resume, verbose=False,
                     augment=on.RandomShift(1, image_shape=(2, 3), seed=5) if augment else None)
    return model, history


@pytest.mark.parametrize("optimizer_name, augment", [("adam", False), ("sgd", False), ("sgd", True)])
def test_resume_is_bit_identical(tmp_path, optimizer_name, augment):
    full, full_history = _run(tmp_path / "full", 6, optimizer_name=optimizer_name, augment=augment)
    _run(tmp_path / "part", 3, optimizer_name=optimizer_name, augment=augment)  # "stopped" after epoch 3
    resumed, resumed_history = _run(tmp_path / "part", 6, resume=True, optimizer_name=optimizer_name,
                                    augment=augment)
    for a, b in zip(full.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert resumed_history["loss"] == full_history["loss"]
    assert resumed_history.epochs == [1, 2, 3, 4, 5, 6]


def test_interrupted_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    _run(tmp_path, 2)
    path = tmp_path / "checkpoint.safetensors"
    before = path.read_bytes()

    def failing_write(target, tensors, metadata):
        with atomic_write(target) as f:
            f.write(b"partial")
            raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(checkpoint, "write_tensors", failing_write)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, 4, resume=True)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors"]  # no temp left
    model, history = _run(tmp_path, 3, resume=True)  # still resumable from epoch 2
    assert history.epochs == [1, 2, 3]


def test_divergence_keeps_last_good_checkpoint(tmp_path):
    x, y = _data()
    on.manual_seed(0)
    model = on.mlp([6, 8, 3])
    optimizer = on.SGD(model.parameters(), lr=0.01)

    class Explode(on.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                optimizer.lr = 1e12

    with pytest.raises(on.DivergenceError):
        on.fit(model, on.CrossEntropyLoss(), optimizer, x * 100, y, epochs=5, callbacks=[Explode()],
               checkpoint_dir=tmp_path, verbose=False)
    from ownnet.io import read_tensors

    tensors, metadata = read_tensors(tmp_path / "checkpoint.safetensors")
    assert metadata["epoch"] == "2"
    assert all(np.isfinite(t).all() for t in tensors.values())


class _HalveLearningRate(on.Callback):
    """At every epoch's end: what a user's callback may change, that the checkpoint must keep."""

    def on_train_begin(self, run):
        super().on_train_begin(run)
        self.epochs_at_start = len(run.history)

    def on_epoch_end(self, epoch, logs):
        self.run.optimizer.lr *= 0.5


def _run_halving(folder, epochs, resume=False):
    on.manual_seed(3)
    model = on.mlp([6, 16, 3])
    optimizer = on.SGD(model.parameters(), lr=0.2, momentum=0.9)
    x, y = _data()
    callback = _HalveLearningRate()
    on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=epochs, batch_size=32, seed=1,
           callbacks=[callback], checkpoint_dir=folder, resume=resume, verbose=False)
    return model, callback


def test_the_checkpoint_is_written_after_the_callbacks_and_read_before_them(tmp_path):
    full, _ = _run_halving(tmp_path / "full", 4)
    _, first = _run_halving(tmp_path / "part", 2)
    resumed, callback = _run_halving(tmp_path / "part", 4, resume=True)
    assert first.epochs_at_start == 0 and callback.epochs_at_start == 2  # restored before on_train_begin
    for a, b in zip(full.parameters(), resumed.parameters()):  # the halved rate was in the checkpoint
        np.testing.assert_array_equal(a.data, b.data)


def test_resume_prints_where_it_continues(tmp_path, capsys):
    from ownnet.train.checkpoint import ResumeFromCheckpoint

    model, _ = _run_halving(tmp_path, 1)
    resume = ResumeFromCheckpoint(tmp_path, loader=None, verbose=True)
    run = on.train.loop.Run(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.2, momentum=0.9),
                            on.History())
    resume.on_train_begin(run)
    assert run.epoch == 1 and len(run.history) == 1
    assert f"resumed from {tmp_path / 'checkpoint.safetensors'} after epoch 1" in capsys.readouterr().out
    ResumeFromCheckpoint(tmp_path / "none", loader=None).on_train_begin(run)  # no file: nothing happens


# --- a resume refuses the checkpoint of another run (issue 17) ------------------------------------------
def _small_run(folder, epochs, resume=False, activation="relu", lr=0.1, optimizer="sgd", schedule="cosine",
               t_max=4, hidden=8):
    on.manual_seed(0)
    model = on.mlp([6, hidden, 3], activation=activation)
    opt = on.SGD(model.parameters(), lr=lr, momentum=0.9) if optimizer == "sgd" else \
        on.Adam(model.parameters(), lr=lr)
    sched = on.CosineAnnealingLR(opt, T_max=t_max) if schedule == "cosine" else None
    x, y = _data(64)
    return on.fit(model, on.CrossEntropyLoss(), opt, x, y, epochs=epochs, batch_size=16, seed=1,
                  schedule=sched, checkpoint_dir=folder, resume=resume, verbose=False)


@pytest.mark.parametrize("change, message", [
    ({"lr": 0.05}, "optimizer lr: checkpoint 0.1, this run 0.05"),
    ({"activation": "tanh"}, "module 2 is ReLU({}) in the checkpoint, Tanh({}) in this run"),
    ({"optimizer": "adam"}, "optimizer: checkpoint SGD, this run Adam"),
    ({"schedule": None}, "schedule: checkpoint CosineAnnealingLR("),
    ({"t_max": 10}, "'T_max': 10"),
    ({"hidden": 16}, "module 1 is Linear("),
])
def test_resume_refuses_the_checkpoint_of_another_run(tmp_path, change, message):
    _small_run(tmp_path, 2)
    before = (tmp_path / "checkpoint.safetensors").read_bytes()
    with pytest.raises(checkpoint.CheckpointMismatchError, match=re.escape(message)) as caught:
        _small_run(tmp_path, 4, resume=True, **change)
    assert isinstance(caught.value, ValueError) and "another folder" in str(caught.value)
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before


def test_resume_refuses_a_checkpoint_further_than_the_epochs_asked_for(tmp_path):
    _small_run(tmp_path, 3)
    with pytest.raises(checkpoint.CheckpointMismatchError, match="after epoch 3, this run asks for epochs=2"):
        _small_run(tmp_path, 2, resume=True)


def test_more_epochs_resume_where_the_schedule_does_not_depend_on_them(tmp_path):
    _small_run(tmp_path, 2, schedule=None)
    history = _small_run(tmp_path, 4, resume=True, schedule=None)
    assert history.epochs == [1, 2, 3, 4]
    _small_run(tmp_path / "full", 4, schedule=None)
    assert checkpoint.read_checkpoint(tmp_path).run["epochs"] == 4


def test_resume_in_the_same_process_with_the_same_objects(tmp_path):
    """The optimizer's rate was lowered by the schedule: it equals the checkpoint's last state."""
    on.manual_seed(0)
    model = on.mlp([6, 8, 3])
    opt = on.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = on.CosineAnnealingLR(opt, T_max=4)
    x, y = _data(64)
    kwargs = dict(batch_size=16, seed=1, schedule=sched, checkpoint_dir=tmp_path, verbose=False)
    on.fit(model, on.CrossEntropyLoss(), opt, x, y, epochs=2, **kwargs)
    assert opt.lr < 0.1
    history = on.fit(model, on.CrossEntropyLoss(), opt, x, y, epochs=4, resume=True, **kwargs)
    assert history.epochs == [1, 2, 3, 4]
    # the checkpoint still records the rate the run started with: a fresh process resumes it
    assert checkpoint.read_checkpoint(tmp_path).run["optimizer"]["hyperparameters"]["lr"] == 0.1
    assert _small_run(tmp_path, 4, resume=True).epochs == [1, 2, 3, 4]


def test_the_checkpoint_records_the_run_config(tmp_path):
    on.manual_seed(0)
    model = on.mlp([6, 8, 3])
    x, y = _data(64)
    on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=1,
           checkpoint_dir=tmp_path, verbose=False, run_config={"dataset": "mine", "hidden": (8,)})
    run = checkpoint.read_checkpoint(tmp_path).run
    assert run["config"] == {"dataset": "mine", "hidden": [8]} and run["epochs"] == 1
    assert run["model"][1] == ["Linear", model.modules().__next__().children()[0].get_config()]
