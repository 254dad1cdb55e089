"""Learning-rate schedules: sequences against torch.optim.lr_scheduler, the warm-up by hand, state, errors."""

import json
import math

import numpy as np
import pytest

from ownnet.nn.module import Parameter
from ownnet.optim import SGD
from ownnet.optim.schedules import CosineAnnealingLR, ExponentialLR, ReduceLROnPlateau, StepLR

EPOCHS = 30

# A scripted validation loss: improvement, plateaus, a tiny (sub-threshold) improvement, a rise.
LOSSES = [5.0, 4.0, 3.0, 3.0, 3.0, 3.0, 2.99999, 3.0, 3.2, 3.0, 2.0, 2.0, 1.96, 2.0, 2.0,
          2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.99, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]

SCHEDULES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}, None),
    ("StepLR", {"step_size": 3}, None),
    ("ExponentialLR", {"gamma": 0.9}, None),
    ("CosineAnnealingLR", {"T_max": 10}, None),  # 30 epochs: past T_max the cosine rises again
    ("CosineAnnealingLR", {"T_max": 30, "eta_min": 0.001}, None),
    ("ReduceLROnPlateau", {"patience": 2}, LOSSES),
    ("ReduceLROnPlateau", {"patience": 1, "cooldown": 2, "factor": 0.5}, LOSSES),
    ("ReduceLROnPlateau", {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"}, LOSSES),
    ("ReduceLROnPlateau", {"patience": 1, "threshold": 0.0}, LOSSES),
    ("ReduceLROnPlateau", {"mode": "max", "patience": 2, "factor": 0.5}, [-x for x in LOSSES]),
    ("ReduceLROnPlateau", {"mode": "max", "patience": 0, "threshold_mode": "abs"}, [-x for x in LOSSES]),
    ("ReduceLROnPlateau", {"patience": 0, "min_lr": 0.02}, LOSSES),
    ("ReduceLROnPlateau", {"patience": 0, "factor": 0.5, "min_lr": 0.1 - 5e-9}, LOSSES),  # within eps
    ("ReduceLROnPlateau", {}, [1.0] * EPOCHS),
]
IDS = [f"{name}-{kwargs}" for name, kwargs, _ in SCHEDULES]
CLASSES = {"StepLR": StepLR, "ExponentialLR": ExponentialLR, "CosineAnnealingLR": CosineAnnealingLR,
           "ReduceLROnPlateau": ReduceLROnPlateau}


def make_optimizer(lr=0.1):
    return SGD([Parameter(np.zeros(3))], lr=lr)


def ownnet_rates(schedule, metrics=None, epochs=EPOCHS, start=0):
    """The learning rate used in each epoch, stepping the schedule after each one."""
    rates = []
    for epoch in range(start, start + epochs):
        rates.append(schedule.optimizer.lr)
        schedule.step() if metrics is None else schedule.step(metrics[epoch])
        assert schedule.last_lr == schedule.optimizer.lr
    return rates


def torch_rates(torch, name, kwargs, metrics):
    parameter = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    schedule = getattr(torch.optim.lr_scheduler, name)(optimizer, **kwargs)
    rates = []
    for epoch in range(EPOCHS):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step() if metrics is None else schedule.step(metrics[epoch])
    return rates


@pytest.mark.parametrize("name, kwargs, metrics", SCHEDULES, ids=IDS)
def test_rates_match_torch(name, kwargs, metrics):
    torch = pytest.importorskip("torch")
    ours = ownnet_rates(CLASSES[name](make_optimizer(), **kwargs), metrics)
    theirs = torch_rates(torch, name, kwargs, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    unchanged = kwargs.get("min_lr", 0) > 0.09  # the eps case: a reduction by <= eps is skipped
    assert (len(set(ours)) == 1) == unchanged  # the other schedules did change the rate


def test_step_and_exponential_by_hand():
    assert ownnet_rates(StepLR(make_optimizer(), step_size=2, gamma=0.5), epochs=5) == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025])
    assert ownnet_rates(ExponentialLR(make_optimizer(), gamma=0.5), epochs=4) == pytest.approx(
        [0.1, 0.05, 0.025, 0.0125])


def test_cosine_warmup_by_hand():
    # base 0.1, 4 warm-up epochs: 0.1 * 1/5, 2/5, 3/5, 4/5; then 0.1 at epoch 4 and a cosine over the
    # 6 remaining epochs: epoch 4 + k has 0.05 * (1 + cos(pi * k / 6)); k = 3 is half way (0.05), k = 6 is 0
    schedule = CosineAnnealingLR(make_optimizer(0.1), T_max=10, warmup_epochs=4)
    rates = ownnet_rates(schedule, epochs=11)
    cosine = [0.05 * (1 + math.cos(math.pi * k / 6)) for k in range(7)]
    assert rates == pytest.approx([0.02, 0.04, 0.06, 0.08] + cosine, abs=1e-15)
    assert rates[4] == pytest.approx(0.1) and rates[7] == pytest.approx(0.05)
    assert rates[10] == pytest.approx(0)
    assert rates[5] == pytest.approx(0.0933013, abs=1e-7)


def test_cosine_warmup_with_eta_min():
    # with eta_min 0.01 the cosine goes from 0.1 to 0.01: half way it is 0.055
    schedule = CosineAnnealingLR(make_optimizer(0.1), T_max=5, eta_min=0.01, warmup_epochs=1)
    assert ownnet_rates(schedule, epochs=6) == pytest.approx(
        [0.05, 0.1, 0.01 + 0.09 * (1 + math.cos(math.pi / 4)) / 2, 0.055,
         0.01 + 0.09 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.01])


def test_plateau_by_hand():
    # patience 1: the second epoch in a row without improvement reduces the rate (0.1 -> 0.01)
    schedule = ReduceLROnPlateau(make_optimizer(0.1), patience=1)
    rates = ownnet_rates(schedule, metrics=[1.0, 1.0, 1.0, 0.5, 0.6, 0.6], epochs=6)
    # epoch: 0 best=1   1 bad(1)   2 bad(2) -> reduce   3 best=0.5   4 bad(1)   5 bad(2) -> reduce
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.01])
    assert schedule.last_lr == pytest.approx(0.001) and schedule.best == 0.5
    schedule.step(float("nan"))  # never an improvement
    assert schedule.num_bad_epochs == 1


def test_the_optimizer_uses_the_scheduled_rate():
    w = Parameter(np.array([0.0]))
    optimizer = SGD([w], lr=1.0)
    schedule = StepLR(optimizer, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad[...] = -1.0
        optimizer.step()
        schedule.step()
    assert w.data[0] == pytest.approx(1.0 + 0.5 + 0.25)


def test_interval_and_needs_metric():
    for cls in (StepLR, ExponentialLR, CosineAnnealingLR):
        assert cls.interval == "epoch" and cls.needs_metric is False
    assert ReduceLROnPlateau.interval == "epoch" and ReduceLROnPlateau.needs_metric is True


# --- state --------------------------------------------------------------------------------------------

ROUND_TRIPS = [
    ("StepLR", {"step_size": 4, "gamma": 0.5}, None),
    ("ExponentialLR", {"gamma": 0.9}, None),
    ("CosineAnnealingLR", {"T_max": 20, "eta_min": 0.001, "warmup_epochs": 3}, None),
    ("ReduceLROnPlateau", {"patience": 1, "cooldown": 2, "factor": 0.5, "min_lr": 0.001}, LOSSES),
]


@pytest.mark.parametrize("name, kwargs, metrics", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_state_dict_round_trip(name, kwargs, metrics):
    uninterrupted = ownnet_rates(CLASSES[name](make_optimizer(), **kwargs), metrics, epochs=EPOCHS)

    schedule = CLASSES[name](make_optimizer(), **kwargs)
    first = ownnet_rates(schedule, metrics, epochs=12)
    saved = json.loads(json.dumps(schedule.state_dict()))  # JSON-serialisable, and survives the trip
    assert saved["type"] == name and saved["last_epoch"] == 12

    fresh_args = {"StepLR": {"step_size": 1}, "ExponentialLR": {"gamma": 0.5},
                  "CosineAnnealingLR": {"T_max": 2}, "ReduceLROnPlateau": {}}[name]
    resumed = CLASSES[name](make_optimizer(lr=0.7), **fresh_args)
    resumed.load_state_dict(saved)
    assert resumed.get_config() == schedule.get_config()
    assert resumed.optimizer.lr == schedule.optimizer.lr  # the optimizer gets the saved rate
    rest = ownnet_rates(resumed, metrics, epochs=EPOCHS - 12, start=12)
    assert first + rest == uninterrupted


def test_plateau_state_before_any_metric():
    state = ReduceLROnPlateau(make_optimizer()).state_dict()
    assert state["best"] is None and json.loads(json.dumps(state)) == state


@pytest.mark.parametrize("change, match", [
    (lambda s: s.update(type="StepLR"), r"expected the state of a CosineAnnealingLR, got one of a 'StepLR'"),
    (lambda s: s.pop("base_lr"), r"expected keys"),
    (lambda s: s["config"].pop("eta_min"), r"expected config keys"),
    (lambda s: s["config"].update(T_max=0), r"T_max must be an integer >= 1, got 0"),
    (lambda s: s["config"].update(warmup_epochs=10), r"warmup_epochs must be < T_max \(10\), got 10"),
    (lambda s: s.update(last_epoch=-1), r"last_epoch must be an integer >= 0, got -1"),
    (lambda s: s.update(base_lr=0.0), r"base_lr must be > 0, got 0.0"),
    (lambda s: s.update(last_lr="fast"), r"last_lr must be a real number"),
])
def test_load_state_dict_rejects_mismatches(change, match):
    state = CosineAnnealingLR(make_optimizer(), T_max=10, warmup_epochs=2).state_dict()
    change(state)
    schedule = CosineAnnealingLR(make_optimizer(0.5), T_max=5)
    with pytest.raises((ValueError, TypeError), match=match):
        schedule.load_state_dict(state)
    assert schedule.T_max == 5 and schedule.warmup_epochs == 0 and schedule.last_epoch == 0  # untouched
    assert schedule.optimizer.lr == 0.5


# --- argument validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls, kwargs, match", [
    (StepLR, {"step_size": 0}, r"StepLR: step_size must be an integer >= 1, got 0"),
    (StepLR, {"step_size": 2.5}, r"step_size must be an integer >= 1, got 2.5"),
    (StepLR, {"step_size": 2, "gamma": 0}, r"gamma must be > 0, got 0.0"),
    (ExponentialLR, {"gamma": -0.5}, r"ExponentialLR: gamma must be > 0, got -0.5"),
    (CosineAnnealingLR, {"T_max": 0}, r"T_max must be an integer >= 1, got 0"),
    (CosineAnnealingLR, {"T_max": 10, "eta_min": -1}, r"eta_min must be >= 0, got -1.0"),
    (CosineAnnealingLR, {"T_max": 10, "warmup_epochs": -1}, r"warmup_epochs must be an integer >= 0"),
    (CosineAnnealingLR, {"T_max": 10, "warmup_epochs": 10}, r"warmup_epochs must be < T_max \(10\), got 10"),
    (ReduceLROnPlateau, {"mode": "avg"}, r"mode must be one of \('min', 'max'\), got 'avg'"),
    (ReduceLROnPlateau, {"factor": 1.0}, r"factor must be in \(0, 1\), got 1.0"),
    (ReduceLROnPlateau, {"factor": 0}, r"factor must be in \(0, 1\), got 0.0"),
    (ReduceLROnPlateau, {"patience": -1}, r"patience must be an integer >= 0, got -1"),
    (ReduceLROnPlateau, {"threshold": -0.1}, r"threshold must be >= 0, got -0.1"),
    (ReduceLROnPlateau, {"threshold_mode": "pct"}, r"threshold_mode must be one of \('rel', 'abs'\)"),
    (ReduceLROnPlateau, {"cooldown": -2}, r"cooldown must be an integer >= 0, got -2"),
    (ReduceLROnPlateau, {"min_lr": -1e-3}, r"min_lr must be >= 0, got -0.001"),
    (ReduceLROnPlateau, {"eps": -1.0}, r"eps must be >= 0, got -1.0"),
])
def test_invalid_arguments(cls, kwargs, match):
    optimizer = make_optimizer()
    with pytest.raises(ValueError, match=match):
        cls(optimizer, **kwargs)
    assert optimizer.lr == 0.1  # a failed construction leaves the optimizer alone


def test_optimizer_and_metric_types():
    with pytest.raises(TypeError, match=r"optimizer must be an ownnet Optimizer .*got dict"):
        StepLR({"lr": 0.1}, step_size=1)
    with pytest.raises(TypeError, match=r"metric must be a number, got 'low'"):
        ReduceLROnPlateau(make_optimizer()).step("low")
    schedule = ReduceLROnPlateau(make_optimizer())
    schedule.step(np.float32(0.5))
    schedule.step(np.array(0.25))
    assert schedule.best == 0.25 and isinstance(schedule.best, float)


def test_repr():
    assert repr(StepLR(make_optimizer(), 3)) == "StepLR(step_size=3, gamma=0.1)"
