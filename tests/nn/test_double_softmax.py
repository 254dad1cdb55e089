"""The lesson's Softmax before CrossEntropyLoss is caught (fit/evaluate warn, the loss warns on its first
batch), the lesson's two steps in their stable form (LogSoftmax + NLLLoss) equal the fused loss, and a
plain float64 parameter joins a float32 model in float32."""

import math
import warnings

import numpy as np
import pytest

import ownnet as on
from ownnet.nn.losses import DoubleSoftmaxWarning, LossInputWarning
from ownnet.nn.losses.double_softmax import final_layer


def _two_classes(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)


def _net(*tail, seed=0):
    on.manual_seed(seed)
    return on.Sequential(on.Linear(4, 8), on.Tanh(), on.Linear(8, 2), *tail)


# --- the double softmax -------------------------------------------------------------------------------
def test_fit_warns_once_naming_the_final_softmax():
    x, y = _two_classes()
    model = _net(on.Softmax())
    with pytest.warns(DoubleSoftmaxWarning) as caught:
        on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=2,
               verbose=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, LossInputWarning)]
    assert len(messages) == 1  # one mistake, one warning (the loss's own check stays quiet)
    assert messages[0].startswith("fit: the model ends in Softmax (layer 3 of the Sequential)")
    assert "LogSoftmax() and use NLLLoss()" in messages[0]
    assert caught[0].filename == __file__  # points at the call of fit


def test_evaluate_warns_and_the_warning_can_be_an_error():
    x, y = _two_classes()
    model = on.Sequential(_net(), on.Sequential(on.Identity(), on.Softmax()))  # nested: still found
    with pytest.warns(DoubleSoftmaxWarning, match="^evaluate: the model ends in Softmax"):
        on.evaluate(model, on.CrossEntropyLoss(), x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DoubleSoftmaxWarning)
        with pytest.raises(DoubleSoftmaxWarning):
            on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, verbose=False)


@pytest.mark.parametrize(("model", "loss"), [
    (_net(), on.CrossEntropyLoss()),  # logits: the right way
    (_net(on.LogSoftmax()), on.NLLLoss()),  # the lesson's two steps, stable
    (_net(on.Softmax()), on.MSELoss()),  # probabilities compared with one-hot rows: not a double softmax
    (on.Sequential(on.Linear(4, 2), on.Softmax(), on.Linear(2, 2)), on.CrossEntropyLoss()),  # not last
], ids=["logits", "logsoftmax-nll", "softmax-mse", "softmax-inside"])
def test_no_warning_without_a_double_softmax(model, loss):
    x, y = _two_classes()
    target = np.eye(2, dtype=np.float32)[y] if isinstance(loss, on.MSELoss) else y
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        on.fit(model, loss, on.SGD(model.parameters(), lr=0.1), x, target, epochs=1, verbose=False,
               metrics=())
        on.evaluate(model, loss, x, target, metrics=())


def test_final_layer_follows_nested_sequentials_only():
    softmax = on.Softmax()
    assert final_layer(on.Sequential(on.Linear(2, 2), on.Sequential(on.ReLU(), softmax))) is softmax
    residual = on.Residual(on.Sequential(on.Linear(2, 2), on.Softmax()))
    assert final_layer(residual) is residual  # x + softmax(...) is not a probability row
    assert final_layer(on.Sequential()) is not None


def test_cross_entropy_warns_on_probability_rows_on_its_first_batch_only():
    probabilities = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    labels = np.array([1, 0])
    loss = on.CrossEntropyLoss()
    with pytest.warns(DoubleSoftmaxWarning, match=r"CrossEntropyLoss: every row of pred lies in \[0, 1\]"):
        wrong = loss(probabilities, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(probabilities, labels)  # checked once: quiet from now on
        later = on.CrossEntropyLoss()
        later(np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3]]), labels)  # logits first ...
        later(probabilities, labels)  # ... then never looked at again
    # what the warning is about: softmax applied to probabilities flattens them
    lesson = -(math.log(0.5) + math.log(0.9)) / 2
    assert float(on.NLLLoss()(np.log(probabilities), labels)) == pytest.approx(lesson, rel=1e-6)
    twice = on.NLLLoss()(on.LogSoftmax().to("float64").forward(probabilities), labels)
    assert wrong == pytest.approx(twice, rel=1e-12)
    assert wrong - lesson > 0.3  # 0.779 against 0.399


def test_the_check_runs_on_one_batch_of_a_whole_training(monkeypatch):
    calls = []
    original = on.CrossEntropyLoss._input_problem

    def counting(self, logits):
        calls.append(logits.shape)
        return original(self, logits)

    monkeypatch.setattr(on.CrossEntropyLoss, "_input_problem", counting)
    x, y = _two_classes()
    model = _net()
    loss = on.CrossEntropyLoss()
    on.fit(model, loss, on.SGD(model.parameters(), lr=0.1), x, y, epochs=3, batch_size=16, verbose=False,
           validation_data=(x, y))
    assert calls == [(16, 2)]


def test_nll_loss_warns_unless_given_log_probabilities():
    probabilities = np.array([[0.2, 0.8], [0.6, 0.4]])
    with pytest.warns(LossInputWarning, match="NLLLoss: .* these are probabilities.*LogSoftmax"):
        on.NLLLoss()(probabilities, np.array([1, 0]))
    with pytest.warns(LossInputWarning, match="NLLLoss: the rows of pred are not log-probabilities"):
        on.NLLLoss()(np.array([[3.0, -1.0], [0.5, 2.0]]), np.array([1, 0]))


# --- the lesson's two steps, stable -------------------------------------------------------------------
def test_nll_by_hand():
    log_p = np.log([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    loss = on.NLLLoss()
    assert loss(log_p, np.array([1, 0])) == pytest.approx(-(math.log(0.5) + math.log(0.9)) / 2, abs=1e-15)
    np.testing.assert_array_equal(loss.backward(), [[0, -0.5, 0], [-0.5, 0, 0]])


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_log_softmax_then_nll_is_cross_entropy(scale):
    """Value and gradient equal the fused loss's, also where softmax rounds to 0 (logits of +-1e4)."""
    z = np.random.default_rng(3).normal(size=(6, 5)) * scale
    labels = np.array([0, 4, 2, 2, 1, 3])
    fused = on.CrossEntropyLoss()
    expected = fused(z, labels)
    log_softmax, nll = on.LogSoftmax().to("float64"), on.NLLLoss()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no log(0), no divide by zero
        value = nll(log_softmax.forward(z), labels)
        grad = log_softmax.backward(nll.backward())
    assert math.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, fused.backward(), atol=1e-15)  # (softmax - onehot) / N


def test_training_with_the_two_steps_matches_the_fused_loss():
    x, y = _two_classes()
    fused, two_steps = _net(seed=5), _net(on.LogSoftmax(), seed=5)
    for model, loss in ((fused, on.CrossEntropyLoss()), (two_steps, on.NLLLoss())):
        on.fit(model, loss, on.SGD(model.parameters(), lr=0.2), x, y, epochs=3, batch_size=20, seed=1,
               verbose=False)
    for (name, a), (_, b) in zip(fused.named_parameters(), two_steps.named_parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-4, atol=1e-5, err_msg=name)


# --- a plain NumPy parameter in a float32 model ------------------------------------------------------
class BeginnerScale(on.Module):
    """y = beta * x with a learnable beta given the way a beginner writes it: np.array([1.5]) (float64)."""

    def __init__(self, beta=1.5):
        super().__init__()
        self.beta_value = beta
        self.beta = self.add_parameter("beta", np.array([beta]))
        self.x = None

    def forward(self, x):
        self.x = x
        return x * self.beta.data

    def backward(self, grad_out):
        self.beta.grad += (grad_out * self.x).sum().reshape(1)
        return grad_out * self.beta.data

    def get_config(self):
        return {"beta": self.beta_value}


def test_a_float64_array_becomes_a_parameter_in_the_models_dtype(tmp_path):
    layer = BeginnerScale()
    assert layer.beta.dtype == np.float32 and layer.beta.grad.dtype == np.float32
    model = on.Sequential(on.Linear(4, 3), BeginnerScale(), on.Linear(3, 2))
    x, y = _two_classes()
    assert model(x).dtype == np.float32  # no upcast on the way
    on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=1, verbose=False)
    path = on.save(model, tmp_path / "scaled")
    loaded = on.load(path)
    assert {p.dtype for p in loaded.parameters()} == {np.dtype(np.float32)}
    np.testing.assert_array_equal(on.predict(loaded, x), on.predict(model, x))


def test_add_parameter_follows_the_default_dtype_and_an_explicit_one():
    on.set_default_dtype("float64")
    try:
        assert BeginnerScale().beta.dtype == np.float64
        assert on.Linear(2, 2).weight.dtype == np.float64
    finally:
        on.set_default_dtype("float32")
    explicit = on.Linear(2, 2, dtype="float64")  # asked for: kept
    assert explicit.weight.dtype == explicit.bias.dtype == np.float64
    assert on.BatchNorm1d(2, dtype="float64").weight.dtype == np.float64
    module = on.Module()
    assert module.add_parameter("w", [1, 2]).data.dtype == np.float32  # lists and integers: floats
    same = np.zeros(3, dtype=np.float32)
    assert module.add_parameter("v", same).data is same  # already right: not copied
