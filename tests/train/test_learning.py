"""The lesson's "not linearly separable" case: a 2-layer net and a hand-written loop of plain
gradient descent separate XOR and two spirals."""

import numpy as np

import ownnet as on


def _train_by_hand(model, loss, x, y, lr, steps):
    """The lesson's loop: forward, loss, backward, update — no optimizer object, no fit."""
    for _ in range(steps):
        model.zero_grad()
        loss.forward(model.forward(x), y)
        model.backward(loss.backward())
        for p in model.parameters():
            p.data -= lr * p.grad
    return model


def test_two_layer_net_separates_xor():
    on.manual_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = on.Sequential(on.Linear(2, 8), on.Tanh(), on.Linear(8, 2))
    _train_by_hand(model, on.CrossEntropyLoss(), x, y, lr=0.5, steps=500)
    assert (model(x).argmax(axis=1) == y).all()


def _two_spirals(n_per_class=100, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.05, 1, n_per_class)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]).astype(np.float32)
    return x, np.repeat([0, 1], n_per_class)


def test_two_layer_net_separates_two_spirals():
    on.manual_seed(0)
    x, y = _two_spirals()
    # A linear model cannot: least squares on the raw coordinates stays near chance.
    design = np.c_[x, np.ones(len(x))]
    w = np.linalg.lstsq(design, 2.0 * y - 1, rcond=None)[0]
    assert ((design @ w > 0) == y).mean() < 0.75
    model = on.Sequential(on.Linear(2, 128), on.ReLU(), on.Linear(128, 2))
    _train_by_hand(model, on.CrossEntropyLoss(), x, y, lr=0.5, steps=4000)
    assert (model(x).argmax(axis=1) == y).mean() == 1.0
