"""train_step: the lesson's loop body, the one step every way of running fit uses."""

import numpy as np
import pytest

import ownnet as on
from ownnet.train.step import ClipGradNorm, train_step


def _blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])[y] + rng.normal(0, 0.6, (n, 2))).astype(np.float32)
    return x, y


def _run(optimizer_class=on.SGD, **options):
    on.manual_seed(0)
    model = on.mlp([2, 16, 3], activation="tanh")
    return model, on.CrossEntropyLoss(), optimizer_class(model.parameters(), lr=0.1, **options)


@pytest.mark.parametrize("optimizer_class,options", [(on.SGD, {"momentum": 0.9}), (on.Adam, {})])
def test_train_step_is_the_lessons_manual_loop_bit_for_bit(optimizer_class, options):
    x, y = _blobs()
    model_a, loss_a, opt_a = _run(optimizer_class, **options)
    model_b, loss_b, opt_b = _run(optimizer_class, **options)
    for start in range(0, 64, 16):
        xb, yb = x[start:start + 16], y[start:start + 16]
        value, out = train_step(model_a, loss_a, opt_a, xb, yb)
        expected_out = model_b.forward(xb)  # the lesson's loop, written out
        expected = loss_b.forward(expected_out, yb)
        opt_b.zero_grad()
        model_b.backward(loss_b.backward())
        opt_b.step()
        assert value == expected and isinstance(value, float)
        np.testing.assert_array_equal(out, expected_out)
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        np.testing.assert_array_equal(p.grad, q.grad)


def test_hooks_run_in_order_between_backward_and_the_update():
    x, y = _blobs(16)
    model, loss, optimizer = _run()
    before = [p.data.copy() for p in model.parameters()]
    seen = []

    def first(value):
        assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))  # not updated yet
        assert any(p.grad.any() for p in model.parameters())  # but the gradient is there
        seen.append(("first", value))

    def second(value):
        seen.append(("second", value))

    value, _ = train_step(model, loss, optimizer, x, y, hooks=[first, second])
    assert seen == [("first", value), ("second", value)]
    assert not all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))  # updated after


def test_a_hook_that_raises_leaves_the_weights_unchanged():
    x, y = _blobs(16)
    model, loss, optimizer = _run()
    before = [p.data.copy() for p in model.parameters()]

    def refuse(value):
        raise FloatingPointError("stop")

    with pytest.raises(FloatingPointError):
        train_step(model, loss, optimizer, x, y, hooks=[refuse])
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_the_clip_hook_is_clip_grad_norm_before_the_update():
    x, y = _blobs(16)
    model_a, loss_a, opt_a = _run()
    model_b, loss_b, opt_b = _run()
    train_step(model_a, loss_a, opt_a, x * 50, y, hooks=[ClipGradNorm(opt_a.params, 0.01)])
    loss_b.forward(model_b.forward(x * 50), y)
    opt_b.zero_grad()
    model_b.backward(loss_b.backward())
    norm = on.clip_grad_norm(opt_b.params, 0.01)
    opt_b.step()
    assert norm > 0.01  # the clipping did something
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
