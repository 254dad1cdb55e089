"""The divergence stop: a NaN or inf loss stops fit at its step, before the update; NaN weights at the
end of an epoch, before validation and the schedule."""

import numpy as np
import pytest

import ownnet as on


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


class NanAt:
    """A cross-entropy whose value is NaN at one call of ``forward`` (counted from 1). Not a subclass:
    a subclass of a loss would join the losses every gradient check must cover."""

    def __init__(self, call):
        self.loss = on.CrossEntropyLoss()
        self.call, self.calls = call, 0

    def forward(self, pred, target):
        self.calls += 1
        value = self.loss.forward(pred, target)
        return float("nan") if self.calls == self.call else value

    def backward(self):
        return self.loss.backward()


def _model():
    on.manual_seed(0)
    model = on.mlp([4, 8, 2])
    return model, on.SGD(model.parameters(), lr=0.1, momentum=0.9)


def test_a_nan_loss_stops_at_its_step_and_the_weights_are_those_of_the_step_before():
    x, y = _data()
    model, optimizer = _model()
    snapshots = {}

    class Snapshot(on.Callback):
        def on_batch_end(self, step, logs):
            snapshots[(self.run.epoch, step)] = [p.data.copy() for p in model.parameters()]

    # 3 steps per epoch: call 5 is epoch 2, step 2
    message = r"the loss became nan at epoch 2, step 2 \(learning rate 0.1\)"
    with pytest.raises(on.DivergenceError, match=message):
        on.fit(model, NanAt(5), optimizer, x, y, epochs=3, batch_size=32, callbacks=[Snapshot()],
               verbose=False, shuffle=False)
    assert max(snapshots) == (2, 1)  # no callback saw the diverged step
    for p, before in zip(model.parameters(), snapshots[(2, 1)]):
        np.testing.assert_array_equal(p.data, before)
    assert optimizer.step_count == 4


def test_nan_weights_stop_at_the_end_of_the_epoch_with_that_epochs_learning_rate():
    x, y = _data()
    model, optimizer = _model()
    schedule = on.StepLR(optimizer, step_size=1, gamma=0.5)
    validated = []

    class Poison(on.Callback):
        def on_batch_end(self, step, logs):
            if self.run.epoch == 2 and step == 3:
                model.parameters()[0].data[0, 0] = np.nan

        def on_epoch_end(self, epoch, logs):
            validated.append(epoch)

    with pytest.raises(on.DivergenceError, match=r"holds NaN or inf after epoch 2 \(learning rate 0.05\)"):
        on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=3, batch_size=32, schedule=schedule,
               validation_split=0.25, callbacks=[Poison()], verbose=False)
    assert validated == [1]  # the callbacks never saw epoch 2
    assert optimizer.lr == 0.05  # the schedule did not step after the diverged epoch


def test_the_step_check_names_where_it_happened():
    from ownnet.train.divergence import DivergenceStop
    from ownnet.train.loop import Run

    model, optimizer = _model()
    run = Run(model, on.CrossEntropyLoss(), optimizer, on.History(), epoch=4, step=7)
    stop = DivergenceStop(run)
    stop.check_step(1.5)  # finite: nothing happens
    with pytest.raises(on.DivergenceError, match="the loss became inf at epoch 4, step 7"):
        stop.check_step(float("inf"))
    with pytest.raises(on.DivergenceError, match="the loss became nan during epoch 4"):
        stop.check_epoch(float("nan"), 10)
