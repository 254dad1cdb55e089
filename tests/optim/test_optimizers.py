"""Optimizers: trajectories against torch.optim, hand-worked steps, dtypes, allocation, state, errors."""

import copy
import inspect
import json
import math
import tracemalloc

import numpy as np
import pytest

import ownnet as on
from ownnet.nn.module import Parameter
from ownnet.optim import SGD, Adam, AdamW, RMSProp, RMSprop, clip_grad_norm

OPTIMIZERS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSProp": RMSProp}
TORCH_NAMES = {"SGD": "SGD", "Adam": "Adam", "AdamW": "AdamW", "RMSProp": "RMSprop"}

# Every meaningful option combination; {} runs PyTorch's defaults.
CASES = [
    ("SGD", {}),
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.0}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True, "betas": (0.8, 0.99)}),
    ("RMSProp", {}),
    ("RMSProp", {"lr": 0.003, "alpha": 0.9}),
    ("RMSProp", {"lr": 0.003, "momentum": 0.9}),
    ("RMSProp", {"lr": 0.003, "centered": True}),
    ("RMSProp", {"lr": 0.003, "centered": True, "momentum": 0.5}),
    ("RMSProp", {"lr": 0.003, "weight_decay": 0.1, "eps": 1e-4}),
    ("RMSProp", {"lr": 0.003, "weight_decay": 0.1, "momentum": 0.9, "centered": True, "alpha": 0.95}),
]
CASE_IDS = [f"{name}-{kwargs}" for name, kwargs in CASES]


# --- two small problems, gradients computed by hand ----------------------------------------------


def least_squares():
    """f(w) = 0.5 * ||A w - b||^2; grad = A^T (A w - b)."""
    rng = np.random.default_rng(0)
    A, b = rng.normal(size=(8, 3)), rng.normal(size=8)
    return [rng.normal(size=3)], lambda w: [A.T @ (A @ w[0] - b)]


def tiny_mlp():
    """f = 0.5 * mean over the batch of ||tanh(X W1 + b1) W2 + b2 - Y||^2; backpropagation by hand."""
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    start = [rng.normal(size=(3, 4)), rng.normal(size=4) * 0.1, rng.normal(size=(4, 2)), np.zeros(2)]

    def gradients(params):
        W1, b1, W2, b2 = params
        h = np.tanh(X @ W1 + b1)
        error = (h @ W2 + b2 - Y) / len(X)
        dz = (error @ W2.T) * (1 - h**2)
        return [X.T @ dz, dz.sum(axis=0), h.T @ error, error.sum(axis=0)]

    return start, gradients


PROBLEMS = {"least_squares": least_squares, "tiny_mlp": tiny_mlp}


def run_ownnet(name, kwargs, problem, steps, dtype=np.float64):
    start, gradients = PROBLEMS[problem]()
    params = [Parameter(a.astype(dtype)) for a in start]
    optimizer = OPTIMIZERS[name](params, **kwargs)
    trajectory = []
    for _ in range(steps):
        for p, g in zip(params, gradients([p.data for p in params]), strict=True):
            p.grad[...] = g
        optimizer.step()
        trajectory.append(np.concatenate([p.data.ravel() for p in params]))
    return np.array(trajectory)


def run_torch(torch, name, kwargs, problem, steps):
    start, gradients = PROBLEMS[problem]()
    params = [torch.nn.Parameter(torch.tensor(a, dtype=torch.float64)) for a in start]
    optimizer = getattr(torch.optim, TORCH_NAMES[name])(params, **kwargs)
    trajectory = []
    for _ in range(steps):
        for p, g in zip(params, gradients([p.detach().numpy() for p in params]), strict=True):
            p.grad = torch.tensor(g)
        optimizer.step()
        trajectory.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    return np.array(trajectory)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_trajectory_matches_torch(name, kwargs, problem):
    torch = pytest.importorskip("torch")
    ours = run_ownnet(name, kwargs, problem, steps=50)
    theirs = run_torch(torch, name, kwargs, problem, steps=50)
    assert not np.allclose(ours[-1], ours[0])  # the parameters did move
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_defaults_are_pytorchs(name):
    torch = pytest.importorskip("torch")
    ours = inspect.signature(OPTIMIZERS[name]).parameters
    theirs = inspect.signature(getattr(torch.optim, TORCH_NAMES[name])).parameters
    for argument, parameter in ours.items():
        if argument != "params":
            assert parameter.default == theirs[argument].default, argument


# --- by hand (no torch) ------------------------------------------------------------------------------


def minimise_square(optimizer_class, steps, w0=1.0, **kwargs):
    """Minimise f(w) = w^2 (grad 2w) from w0; return w after each step."""
    w = Parameter(np.array([w0]))
    optimizer = optimizer_class([w], **kwargs)
    history = []
    for _ in range(steps):
        w.grad[...] = 2 * w.data
        optimizer.step()
        history.append(float(w.data[0]))
    return history


def test_sgd_momentum_by_hand():
    # step 1: g = 2,    b = 2 (first step: b = g),       w = 1    - 0.1 * 2    = 0.8
    # step 2: g = 1.6,  b = 0.9 * 2 + 1.6 = 3.4,          w = 0.8  - 0.1 * 3.4  = 0.46
    # step 3: g = 0.92, b = 0.9 * 3.4 + 0.92 = 3.98,      w = 0.46 - 0.1 * 3.98 = 0.062
    assert minimise_square(SGD, 3, lr=0.1, momentum=0.9) == pytest.approx([0.8, 0.46, 0.062], abs=1e-12)


def test_sgd_nesterov_and_weight_decay_by_hand():
    # weight_decay 0.5 adds 0.5 w to the gradient: g = 2w + 0.5w = 2.5w
    # step 1: g = 2.5, b = 2.5, direction = g + 0.5 b = 3.75, w = 1 - 0.1 * 3.75 = 0.625
    # step 2: g = 1.5625, b = 0.5 * 2.5 + 1.5625 = 2.8125, direction = 1.5625 + 1.40625 = 2.96875,
    #         w = 0.625 - 0.296875 = 0.328125
    history = minimise_square(SGD, 2, lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.5)
    assert history == pytest.approx([0.625, 0.328125], abs=1e-12)


def test_adam_by_hand():
    # step 1: g = 2: m = 0.1 * 2 = 0.2, v = 0.001 * 4 = 0.004,
    #         m_hat = 0.2 / 0.1 = 2, v_hat = 0.004 / 0.001 = 4
    #         w = 1 - 0.1 * 2 / (sqrt(4) + 1e-8) = 0.9 (Adam's first step is lr * sign(g))
    # step 2: g = 1.8: m = 0.9 * 0.2 + 0.1 * 1.8 = 0.36, v = 0.999 * 0.004 + 0.001 * 3.24 = 0.007236
    #         m_hat = 0.36 / (1 - 0.9^2) = 0.36 / 0.19, v_hat = 0.007236 / (1 - 0.999^2) = 0.007236 / 0.001999
    m_hat, v_hat = 0.36 / 0.19, 0.007236 / 0.001999
    w2 = 0.9 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)  # = 0.80041...
    # (eps makes step 1 land at 0.9 + 5e-10, so step 2 is compared to 1e-8)
    assert minimise_square(Adam, 2, lr=0.1) == pytest.approx([1 - 0.2 / (2 + 1e-8), w2], abs=1e-8)
    assert w2 == pytest.approx(0.800412, abs=1e-6)


def test_adamw_by_hand():
    # AdamW shrinks w first: w = 1 * (1 - 0.1 * 0.5) = 0.95, then the Adam step of lr * sign(g): 0.95 - 0.1
    assert minimise_square(AdamW, 1, lr=0.1, weight_decay=0.5) == pytest.approx([0.85], abs=1e-8)
    # Adam folds the decay into the gradient instead: g = 2 + 0.5 = 2.5, first step still lr * sign(g)
    assert minimise_square(Adam, 1, lr=0.1, weight_decay=0.5) == pytest.approx([0.9], abs=1e-8)


def test_rmsprop_by_hand():
    # step 1: g = 2: s = 0.01 * 4 = 0.04, w = 1 - 0.01 * 2 / (sqrt(0.04) + 1e-8) = 1 - 0.1 = 0.9
    # step 2: g = 1.8: s = 0.99 * 0.04 + 0.01 * 3.24 = 0.072, w = 0.9 - 0.01 * 1.8 / sqrt(0.072)
    expected = [1 - 0.02 / (0.2 + 1e-8), 0.9 - 0.018 / (math.sqrt(0.072) + 1e-8)]
    # (eps makes step 1 land at 0.9 + 5e-9, so step 2 is compared to 1e-8)
    assert minimise_square(RMSProp, 2, lr=0.01) == pytest.approx(expected, abs=1e-8)
    assert expected[1] == pytest.approx(0.832918, abs=1e-6)


def test_rmsprop_centered_momentum_by_hand():
    # alpha = 0.5, constant gradient g = 2 (f = 2w): s = 0.5 * 4 = 2, a = 0.5 * 2 = 1,
    # denominator = sqrt(2 - 1) = 1, b = 0 * 0.5 + 2 / 1 = 2, w = 1 - 0.1 * 2 = 0.8
    w = Parameter(np.array([1.0]))
    optimizer = RMSProp([w], lr=0.1, alpha=0.5, momentum=0.5, centered=True, eps=1e-12)
    w.grad[...] = 2.0
    optimizer.step()
    assert w.data[0] == pytest.approx(0.8, abs=1e-10)
    # step 2: s = 0.5 * 2 + 0.5 * 4 = 3, a = 0.5 * 1 + 0.5 * 2 = 1.5,
    #         denominator = sqrt(3 - 2.25) = sqrt(0.75)
    #         b = 0.5 * 2 + 2 / sqrt(0.75), w = 0.8 - 0.1 * b
    optimizer.step()
    assert w.data[0] == pytest.approx(0.8 - 0.1 * (1 + 2 / math.sqrt(0.75)), abs=1e-10)


def test_rmsprop_alias():
    assert RMSprop is RMSProp
    assert RMSprop([Parameter(np.zeros(2))]).state_dict()["type"] == "RMSProp"


# --- dtype, in place, no allocation ----------------------------------------------------------------

FULL_OPTIONS = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.2}),
    ("SGD", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("RMSProp", {"lr": 0.003, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("RMSProp", {"lr": 0.003}),
]
FULL_IDS = [f"{name}-{kwargs}" for name, kwargs in FULL_OPTIONS]


@pytest.mark.parametrize("name, kwargs", FULL_OPTIONS, ids=FULL_IDS)
def test_float32_stays_float32_in_place(name, kwargs):
    start, gradients = tiny_mlp()
    params = [Parameter(a.astype(np.float32)) for a in start]
    arrays = [p.data for p in params]
    optimizer = OPTIMIZERS[name](params, **kwargs)
    for _ in range(5):
        for p, g in zip(params, gradients([p.data.astype(np.float64) for p in params]), strict=True):
            p.grad[...] = g
        grads = [p.grad.copy() for p in params]
        optimizer.step()
        assert all(np.array_equal(p.grad, g) for p, g in zip(params, grads, strict=True))  # grad only read
    for p, array in zip(params, arrays, strict=True):
        assert p.data is array and p.data.dtype == np.float32 and p.grad.dtype == np.float32
    for key, buffer in optimizer.state_dict()["state"].items():
        assert buffer.dtype == np.float32, key
    # float32 follows the float64 trajectory closely
    ours = np.concatenate([p.data.ravel() for p in params])
    reference = run_ownnet(name, kwargs, "tiny_mlp", steps=5)[-1]
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, kwargs", FULL_OPTIONS, ids=FULL_IDS)
def test_step_allocates_nothing_after_the_first(name, kwargs):
    rng = np.random.default_rng(0)
    params = [Parameter(rng.normal(size=shape).astype(np.float32)) for shape in [(200, 300), (300,)]]
    optimizer = OPTIMIZERS[name](params, **kwargs)
    for p in params:
        p.grad[...] = rng.normal(size=p.shape)
    optimizer.step()
    buffers = {key: id(array) for key, array in _live_state(optimizer).items()}
    tracemalloc.start()
    try:
        optimizer.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000, f"step() allocated {peak} bytes; one parameter is {params[0].data.nbytes}"
    assert {key: id(array) for key, array in _live_state(optimizer).items()} == buffers


def _live_state(optimizer):
    return {f"{i}.{name}": array for i, state in enumerate(optimizer.state) for name, array in state.items()}


def test_zero_grad():
    params = [Parameter(np.ones(3)), Parameter(np.ones((2, 2)))]
    for p in params:
        p.grad[...] = 5.0
    SGD(params).zero_grad()
    assert all(not p.grad.any() for p in params)


def test_lr_can_be_changed_between_steps():
    w = Parameter(np.array([1.0]))
    optimizer = SGD([w], lr=0.1)
    w.grad[...] = 1.0
    optimizer.step()
    optimizer.lr = 0.5
    optimizer.step()
    assert w.data[0] == pytest.approx(1 - 0.1 - 0.5)
    optimizer.lr = 0  # a schedule may reach 0
    with pytest.raises(ValueError, match=r"lr must be >= 0, got -0.1"):
        optimizer.lr = -0.1


# --- state_dict --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_state_dict_round_trip_continues_identically(name, kwargs):
    start, gradients = tiny_mlp()

    def train(optimizer, params, steps):
        for _ in range(steps):
            for p, g in zip(params, gradients([p.data for p in params]), strict=True):
                p.grad[...] = g
            optimizer.step()

    params = [Parameter(a.copy()) for a in start]
    optimizer = OPTIMIZERS[name](params, **kwargs)
    train(optimizer, params, 7)
    saved = optimizer.state_dict()
    saved_copy = copy.deepcopy(saved)
    snapshot = [p.data.copy() for p in params]
    json.dumps({key: value for key, value in saved.items() if key != "state"})  # JSON-serialisable
    assert set(saved) == {"type", "hyperparameters", "step_count", "state"}
    assert saved["type"] == name and saved["step_count"] == 7
    assert all(isinstance(array, np.ndarray) for array in saved["state"].values())
    train(optimizer, params, 8)  # uninterrupted

    resumed_params = [Parameter(a) for a in snapshot]
    resumed = OPTIMIZERS[name](resumed_params)  # default hyperparameters: the state brings its own
    resumed.load_state_dict(saved)
    assert resumed.hyperparameters == optimizer.hyperparameters
    train(resumed, resumed_params, 8)
    for p, q in zip(params, resumed_params, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    for key, array in saved["state"].items():  # the saved arrays were copies, untouched by training
        np.testing.assert_array_equal(array, saved_copy["state"][key])


def test_state_dict_keys_and_names():
    params = [Parameter(np.zeros((2, 3))), Parameter(np.zeros(3))]
    optimizer = Adam(params, amsgrad=True)
    assert optimizer.state_dict()["state"] == {}  # state is created on the first step
    optimizer.step()
    state = optimizer.state_dict()
    assert sorted(state["state"]) == [
        "0.exp_avg", "0.exp_avg_sq", "0.max_exp_avg_sq", "1.exp_avg", "1.exp_avg_sq", "1.max_exp_avg_sq"]
    assert state["hyperparameters"] == {
        "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": True}
    assert repr(optimizer) == "Adam(lr=0.001, betas=[0.9, 0.999], eps=1e-08, weight_decay=0.0, amsgrad=True)"


def _adam_state(shapes=((2, 3), (3,)), dtype=np.float64):
    optimizer = Adam([Parameter(np.zeros(shape, dtype)) for shape in shapes])
    optimizer.step()
    return optimizer.state_dict()


def test_load_state_dict_accepts_lr_zero_left_by_a_schedule():
    state = _adam_state()
    state["hyperparameters"]["lr"] = 0.0
    optimizer = Adam([Parameter(np.zeros((2, 3))), Parameter(np.zeros(3))], lr=0.5)
    optimizer.load_state_dict(state)
    assert optimizer.lr == 0.0


@pytest.mark.parametrize("change, match", [
    (lambda s: s.update(type="SGD"), r"expected the state of a Adam, got one of a 'SGD'"),
    (lambda s: s.pop("step_count"), r"lacks \['step_count'\]"),
    (lambda s: s["hyperparameters"].update(lr=-1.0), r"lr must be >= 0, got -1.0"),
    (lambda s: s["hyperparameters"].update(betas=[0.9, 1.0]), r"betas\[1\] must be in \[0, 1\), got 1.0"),
    (lambda s: s["hyperparameters"].update(momentum=0.9), r"expected hyperparameters"),
    (lambda s: s["hyperparameters"].pop("eps"), r"expected hyperparameters"),
    (lambda s: s.update(step_count=-1), r"step_count must be an integer >= 0, got -1"),
    (lambda s: s["state"].pop("1.exp_avg"), r"missing \['1.exp_avg'\]"),
    (lambda s: s["state"].update({"0.velocity": np.zeros((2, 3))}), r"unexpected \['0.velocity'\]"),
    (lambda s: s["state"].update({"2.exp_avg": np.zeros(3)}), r"parameter 2, but this optimizer has 2"),
    (lambda s: s["state"].update({"exp_avg": np.zeros(3)}), r"'<parameter index>.<buffer name>'"),
    (lambda s: s["state"].update({"1.exp_avg": np.zeros(4)}), r"'1.exp_avg' expected shape \(3,\)"),
    (lambda s: s["state"].update({"1.exp_avg": np.zeros(3, np.float32)}), r"dtype float64.*float32"),
    (lambda s: s["state"].clear(), r"missing"),
])
def test_load_state_dict_rejects_mismatches(change, match):
    state = _adam_state()
    change(state)
    optimizer = Adam([Parameter(np.zeros((2, 3))), Parameter(np.zeros(3))], lr=0.5)
    with pytest.raises(ValueError, match=match):
        optimizer.load_state_dict(state)
    assert optimizer.lr == 0.5 and optimizer.step_count == 0 and optimizer.state == [{}, {}]  # untouched


def test_load_state_dict_checks_parameter_count_and_dtype():
    with pytest.raises(ValueError, match=r"parameter 2, but this optimizer has 2 parameters"):
        Adam([Parameter(np.zeros((2, 3))), Parameter(np.zeros(3))]).load_state_dict(
            _adam_state(((2, 3), (3,), (4,))))
    with pytest.raises(ValueError, match=r"missing \['1.exp_avg', '1.exp_avg_sq'\]"):
        Adam([Parameter(np.zeros((2, 3))), Parameter(np.zeros(3))]).load_state_dict(_adam_state(((2, 3),)))
    with pytest.raises(ValueError, match=r"dtype float32 \(those of parameter 0\), got \(2, 3\) and float64"):
        Adam([Parameter(np.zeros((2, 3), np.float32)), Parameter(np.zeros(3, np.float32))]).load_state_dict(
            _adam_state())


# --- argument validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, kwargs, match", [
    (SGD, {"lr": 0}, r"SGD: lr must be > 0, got 0.0"),
    (SGD, {"lr": -0.1}, r"lr must be > 0, got -0.1"),
    (SGD, {"lr": float("nan")}, r"lr must be > 0, got nan"),
    (SGD, {"lr": float("inf")}, r"lr must be > 0, got inf"),
    (SGD, {"momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
    (SGD, {"momentum": -0.1}, r"momentum must be in \[0, 1\), got -0.1"),
    (SGD, {"dampening": 1.5}, r"dampening must be in \[0, 1\], got 1.5"),
    (SGD, {"weight_decay": -1e-4}, r"weight_decay must be >= 0, got -0.0001"),
    (SGD, {"nesterov": True}, r"nesterov=True requires momentum > 0 and dampening = 0, got momentum=0.0"),
    (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, r"requires .* got momentum=0.9 and dampen"),
    (Adam, {"betas": (1.0, 0.999)}, r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (Adam, {"betas": (0.9, -0.5)}, r"betas\[1\] must be in \[0, 1\), got -0.5"),
    (Adam, {"betas": 0.9}, r"betas must be a pair \(beta1, beta2\), got 0.9"),
    (Adam, {"betas": (0.9, 0.99, 0.999)}, r"betas must be a pair"),
    (Adam, {"eps": 0}, r"eps must be > 0, got 0.0"),
    (Adam, {"weight_decay": -1}, r"weight_decay must be >= 0, got -1.0"),
    (AdamW, {"weight_decay": -0.01}, r"AdamW: weight_decay must be >= 0, got -0.01"),
    (AdamW, {"lr": 0.0}, r"AdamW: lr must be > 0"),
    (RMSProp, {"alpha": 1.0}, r"RMSProp: alpha must be in \[0, 1\), got 1.0"),
    (RMSProp, {"momentum": 1.5}, r"momentum must be in \[0, 1\), got 1.5"),
    (RMSProp, {"eps": -1e-8}, r"eps must be > 0, got -1e-08"),
])
def test_invalid_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([Parameter(np.zeros(3))], **kwargs)


@pytest.mark.parametrize("cls, kwargs, match", [
    (SGD, {"lr": "0.1"}, r"lr must be a real number > 0, got '0.1'"),
    (SGD, {"momentum": None}, r"momentum must be a real number"),
    (SGD, {"nesterov": 1, "momentum": 0.9}, r"nesterov must be True or False, got 1"),
    (Adam, {"amsgrad": "yes"}, r"amsgrad must be True or False"),
    (RMSProp, {"centered": None}, r"centered must be True or False"),
])
def test_hyperparameter_types(cls, kwargs, match):
    with pytest.raises(TypeError, match=match):
        cls([Parameter(np.zeros(3))], **kwargs)


def test_invalid_params():
    p = Parameter(np.zeros(3))
    with pytest.raises(TypeError, match=r"params must be a list of Parameter .*got Parameter"):
        SGD(p)
    with pytest.raises(ValueError, match=r"non-empty list of Parameter, got an empty list"):
        SGD([])
    with pytest.raises(ValueError, match=r"params\[1\] .* appears more than once"):
        SGD([p, p])
    with pytest.raises(TypeError, match=r"params\[0\] must be a Parameter, got ndarray"):
        SGD([np.zeros(3)])
    with pytest.raises(TypeError, match=r"floating-point data, got int64"):
        SGD([Parameter(np.zeros(3, np.int64))])
    assert len(SGD(q for q in [p]).params) == 1  # any iterable


# --- clip_grad_norm ------------------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=shape) for shape in [(3, 4), (5,), (2, 2, 2)]]
    params = [Parameter(np.zeros(g.shape)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = torch.tensor(g)
    total = clip_grad_norm(params, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(tensors, max_norm, float(norm_type))
    assert isinstance(total, float)
    assert total == pytest.approx(float(expected), rel=1e-12)
    for p, t in zip(params, tensors, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)
    if max_norm == 0.5:
        assert not np.allclose(params[0].grad, grads[0])  # it did clip


def test_clip_grad_norm_by_hand():
    # grads (3, 4) and (0,): norm 5; clipped to 1: multiplied by 1 / (5 + 1e-6)
    a, b = Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(1, np.float32))
    a.grad[...] = [3.0, 4.0]
    assert clip_grad_norm([a, b], max_norm=1.0) == pytest.approx(5.0)
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad, [0.6, 0.8], rtol=1e-5)
    assert clip_grad_norm(a, max_norm=10.0, norm_type="inf") == pytest.approx(0.8, rel=1e-5)  # no clipping
    np.testing.assert_allclose(a.grad, [0.6, 0.8], rtol=1e-5)


def test_clip_grad_norm_errors():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match=r"max_norm must be >= 0, got -1.0"):
        clip_grad_norm([p], -1.0)
    with pytest.raises(ValueError, match=r"norm_type must be > 0, got 0.0"):
        clip_grad_norm([p], 1.0, norm_type=0)
    with pytest.raises(TypeError, match=r"parameters\[0\] must be a Parameter"):
        clip_grad_norm([np.zeros(2)], 1.0)
    p.grad[0] = np.nan
    with pytest.raises(ValueError, match=r"not finite"):
        clip_grad_norm([p], 1.0, error_if_nonfinite=True)
    assert math.isnan(clip_grad_norm([p], 1.0, norm_type="inf"))
    assert clip_grad_norm([], 1.0) == 0.0


# --- FlatParameters: the flat arrays the GPU step updates in one kernel (mechanics checked here) ------


def test_flat_parameters_are_views_that_keep_values_and_state():
    from ownnet.optim import FlatParameters

    model = on.Sequential(on.Linear(3, 4), on.ReLU(), on.Linear(4, 2)).to("cpu")
    params = model.parameters()
    before = [p.data.copy() for p in params]
    states = [{"momentum_buffer": np.full(p.shape, float(i), np.float32)} for i, p in enumerate(params)]
    for p in params:
        p.zero_grad()  # lazily zeroed: the flat gradient must hold zeros
    flat = FlatParameters(params, states)
    assert flat.data.shape == (sum(p.size for p in params),) and flat.intact(states)
    for p, old in zip(params, before):
        np.testing.assert_array_equal(p.data, old)
        assert np.shares_memory(p.data, flat.data) and np.shares_memory(p.grad, flat.grad)
    assert not flat.grad.any()
    flat.data += 1  # one update of the flat array is an update of every parameter
    np.testing.assert_array_equal(params[2].data, before[2] + 1)
    np.testing.assert_array_equal(flat.state["momentum_buffer"][-2:], [3.0, 3.0])  # the last bias's state
    flat.publish("extra", np.arange(flat.size, dtype=np.float32))
    assert states[1]["extra"][0] == params[0].size


@pytest.mark.parametrize("break_it", ["new grad", "model to float64", "state replaced", "other list"])
def test_flat_parameters_notice_a_broken_view(break_it):
    from ownnet.optim import FlatParameters

    model = on.Sequential(on.Linear(3, 4), on.Linear(4, 2)).to("cpu")
    params = model.parameters()
    states = [{"momentum_buffer": np.zeros(p.shape, np.float32)} for p in params]
    flat = FlatParameters(params, states)
    if break_it == "new grad":
        params[1].grad = np.ones(params[1].shape, np.float32)
    elif break_it == "model to float64":
        model.to("float64")
    elif break_it == "state replaced":
        states[3]["momentum_buffer"] = np.zeros(params[3].shape, np.float32)
    else:
        states = [dict(state) for state in states]
    assert not flat.intact(states)
