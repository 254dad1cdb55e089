"""Checkpoints: resume after epoch k gives bit-identical weights; a failed write keeps the last one."""

import numpy as np
import pytest

import ownnet as on


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

    import ownnet.io as io

    real = io.write_tensors

    def failing_write(target, tensors, metadata):
        with io.atomic_write(target) as f:
            f.write(b"partial")
            raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(io, "write_tensors", failing_write)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, 4, resume=True)
    monkeypatch.setattr(io, "write_tensors", real)
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
