"""EarlyStopping and ModelCheckpoint."""

import numpy as np

import ownnet as on


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def test_early_stopping_stops_and_restores_best_weights():
    x, y = _data()
    on.manual_seed(0)
    model = on.mlp([4, 8, 2])
    optimizer = on.SGD(model.parameters(), lr=0.1)
    snapshots = []
    stopper = on.EarlyStopping(monitor="val_loss", patience=2)
    # A scripted val_loss: best at epoch 2, then worse -> stop at epoch 4, restore epoch 2.
    scripted = iter([1.0, 0.5, 0.7, 0.8, 0.9, 1.0])

    class Script(on.Callback):
        def on_epoch_end(self, epoch, logs):
            logs["val_loss"] = next(scripted)
            snapshots.append([p.data.copy() for p in model.parameters()])

    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=6, batch_size=50,
                     callbacks=[Script(), stopper], verbose=False)
    assert len(history) == 4 and stopper.stopped_epoch == 4 and stopper.best_epoch == 2
    for p, best in zip(model.parameters(), snapshots[1]):
        np.testing.assert_array_equal(p.data, best)


def test_model_checkpoint_saves_loadable_models(tmp_path):
    x, y = _data()
    on.manual_seed(0)
    model = on.mlp([4, 8, 2])
    checkpoint = on.ModelCheckpoint(str(tmp_path / "model-{epoch:02d}"), monitor="loss", save_best_only=True)
    on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=3,
           callbacks=[checkpoint], verbose=False)
    assert checkpoint.saved, "nothing saved"
    loaded = on.load(checkpoint.saved[-1])
    np.testing.assert_array_equal(on.predict(loaded, x), on.predict(model, x))
