"""ownnet lab: the conclusions are generated from the numbers (each changes when the numbers behind it
change), and `ownnet lab --quick --seeds 2` writes a report with spreads, figures and results.json."""

import json
from dataclasses import replace

import pytest

from ownnet.apps.cli import main
from ownnet.apps.lab.conclusions import (
    activation_matters,
    compare,
    depth_pays,
    depth_problems,
    weights_behave,
)
from ownnet.apps.lab.stats import Stat


def S(mean, spread=0.001, n=3):
    return Stat(mean, spread, n)


def _net(name, activation, layers, val=0.97, first_val=0.90, grad_ratio=1.0, saturation=(0.01, 0.05),
         growth=2.0, gap=0.01, overconfidence=-0.01):
    saturating = activation in ("tanh", "sigmoid")
    return {"name": name, "activation": activation, "layers": layers, "val": S(val),
            "first_val": S(first_val), "train": S(val + gap), "test": S(val), "gap": S(gap),
            "best_epoch": S(20, 1), "seconds": S(10, 1),
            "max_w": [S(1.0)] * layers, "weight_growth": S(growth, 0.1), "first_grads": [S(0.1)] * layers,
            "grad_ratio": S(grad_ratio, 0.01), "confidence": S(val + overconfidence),
            "overconfidence": S(overconfidence, 0.002),
            "saturation_first": S(saturation[0], 0.001) if saturating else None,
            "saturation_last": S(saturation[1], 0.001) if saturating else None}


def summaries(**changes):
    """Seven nets with plausible numbers; ``changes``: {name: {field: value}} to alter some."""
    nets = {"1-layer": _net("1-layer", None, 1, val=0.92)}
    for depth in (2, 3):
        for activation in ("tanh", "sigmoid", "relu"):
            name = f"{depth}-layer {activation}"
            nets[name] = _net(name, activation, depth)
    for name, fields in changes.items():
        nets[name].update(fields)
    return nets


def text(lines):
    return "\n".join(lines)


def answer(question, name=None, **fields):
    """The text of ``question``'s answer with ``fields`` of net ``name`` changed."""
    return text(question(summaries(**({name: fields} if name else {}))))


def test_compare_needs_the_difference_to_exceed_both_spreads():
    assert compare(S(0.98, 0.001), S(0.97, 0.001)) == "higher"
    assert compare(S(0.97, 0.001), S(0.98, 0.001)) == "lower"
    assert compare(S(0.98, 0.006), S(0.97, 0.006)) == "within the spread"
    assert compare(S(0.98, 0, 1), S(0.97, 0, 1)) == "one seed"


def test_q1_best_worst_and_their_verdict_follow_the_numbers():
    base = text(activation_matters(summaries(**{"2-layer relu": {"val": S(0.98)},
                                                 "2-layer sigmoid": {"val": S(0.96)}})))
    assert "best first: 2-layer relu" in base
    assert "2-layer relu (0.9800 ± 0.0010) is ahead of 2-layer sigmoid" in base
    swapped = text(activation_matters(summaries(**{"2-layer relu": {"val": S(0.96)},
                                                    "2-layer sigmoid": {"val": S(0.98)}})))
    assert "best first: 2-layer sigmoid" in swapped
    assert "2-layer sigmoid (0.9800 ± 0.0010) is ahead of" in swapped
    noisy = text(activation_matters(summaries(**{"2-layer relu": {"val": S(0.975, 0.01)},
                                                  "2-layer sigmoid": {"val": S(0.97, 0.01)}})))
    assert "within their spreads: no measurable difference" in noisy
    one_seed = {name: dict(net, val=S(net["val"].mean, 0, 1)) for name, net in summaries().items()}
    assert "one seed cannot tell from noise" in text(activation_matters(one_seed))
    grew = answer(activation_matters, "2-layer sigmoid", weight_growth=S(3.0))
    assert "grew most in 2-layer sigmoid" in grew
    assert "grew most in 2-layer tanh" in answer(activation_matters, "2-layer tanh", weight_growth=S(3.0))


def test_q2_a_third_layer_pays_costs_or_changes_nothing():
    gains = answer(depth_pays, "3-layer relu", val=S(0.99))
    assert "pays off, measurably, with relu" in gains and "For no activation" not in gains
    assert "costs accuracy, measurably, with sigmoid" in answer(depth_pays, "3-layer sigmoid", val=S(0.90))
    assert "For no activation does a third layer change" in answer(depth_pays)


def test_q3_vanishing_gradient_saturation_and_overfitting_follow_the_numbers():
    vanishing = text(depth_problems(summaries(**{"3-layer sigmoid": {"grad_ratio": S(0.25, 0.01)},
                                                 "2-layer sigmoid": {"grad_ratio": S(0.9, 0.01)}})))
    assert "sigmoid: after one epoch" in vanishing and "a vanishing gradient" in vanishing
    relative = text(depth_problems(summaries(**{"3-layer sigmoid": {"grad_ratio": S(1.5, 0.01)},
                                                "2-layer sigmoid": {"grad_ratio": S(2.0, 0.01)}})))
    assert "a vanishing gradient" not in relative and "relatively less with the extra layer" in relative
    assert "does not shrink the gradient" in answer(depth_problems, "3-layer sigmoid", grad_ratio=S(2.0))
    slow = text(depth_problems(summaries(**{"3-layer sigmoid": {"first_val": S(0.3)}})))
    assert "the 3-layer net (0.3000 ± 0.0010) is behind the 2-layer net" in slow
    saturated = text(depth_problems(summaries(**{"3-layer tanh": {"saturation_first": S(0.4)}})))
    assert "40.0% ± 0.1 of the 3-layer net's tanh units are saturated" in saturated
    assert "widest for 3-layer relu" in text(depth_problems(summaries(**{"3-layer relu": {"gap": S(0.05)}})))
    assert "widest for 2-layer tanh" in text(depth_problems(summaries(**{"2-layer tanh": {"gap": S(0.05)}})))


def test_q4_growth_saturation_and_confidence_follow_the_numbers():
    assert "It grew in 7 of 7 nets" in text(weights_behave(summaries()))
    assert "It grew in 6 of 7 nets" in answer(weights_behave, "1-layer", weight_growth=S(0.9))
    rose = text(weights_behave(summaries()))
    assert "2-layer sigmoid: the fraction of saturated units rose, from 1.0%" in rose
    fell = text(weights_behave(summaries(**{"2-layer sigmoid": {"saturation_last": S(0.001)}})))
    assert "2-layer sigmoid: the fraction of saturated units fell" in fell
    assert "No net is over-confident beyond the spread" in rose
    over = text(weights_behave(summaries(**{"3-layer relu": {"overconfidence": S(0.02, 0.002)}})))
    assert "Over-confident beyond the spread: 3-layer relu." in over


def test_every_sentence_depends_on_the_numbers():
    """Change every number a little: every sentence of every answer changes with it."""
    def shift(value):
        if isinstance(value, Stat):
            return replace(value, mean=value.mean * 1.37 + 0.0011)
        return [shift(v) for v in value] if isinstance(value, list) else value

    base = summaries()
    shifted = {name: {key: shift(value) for key, value in net.items()} for name, net in base.items()}
    for answer in (activation_matters, depth_pays, depth_problems, weights_behave):
        before, after = answer(base), answer(shifted)
        assert len(before) == len(after)
        unchanged = [line for line, other in zip(before, after) if line == other]
        allowed = [line for line in unchanged if line.startswith(("For no activation", "No net is",
                                                                   "A third layer"))]
        assert unchanged == allowed, unchanged  # verdict-only sentences may stay if the verdict holds


def test_ownnet_lab_quick_with_two_seeds_reports_spreads(tmp_path, mnist_dir, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "lab"
    assert main(["lab", "--quick", "--seeds", "2", "--epochs", "2", "--hidden", "16",
                 "--activations", "tanh,relu", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    for heading in ("activation", "2 or 3 layers", "depth grows", "weights behave"):
        assert heading in report
    names = ["1-layer", "2-layer tanh", "2-layer relu", "3-layer tanh", "3-layer relu"]
    for name in names:
        row = next(line for line in report.splitlines() if line.startswith(f"| {name} |"))
        assert row.count(" ± ") >= 5, row  # every column has its spread
    assert "2 seed(s) from 0 (`ownnet lab --quick --seeds 2`)" in report
    results = json.loads((out / "results.json").read_text())
    assert [run["name"] for run in results["runs"]] == names
    for run in results["runs"]:
        assert [seed["seed"] for seed in run["seeds"]] == [0, 1]
        grad_norm = run["seeds"][0]["grad_norm"]
        assert len(grad_norm) == 2 and len(grad_norm[0]) == run["layers"]
        saturation = run["seeds"][0]["saturation"]
        assert (saturation[0] is None) == (run["activation"] != "tanh")
    for figure in ("accuracy.png", "weights.png", "gradients.png", "saturation.png"):
        assert (out / figure).stat().st_size > 1000
    assert "report written to" in capsys.readouterr().out


def test_lab_refuses_an_unknown_activation(capsys):
    assert main(["lab", "--activations", "tanh,swish"]) == 2
    assert "expected names from tanh,sigmoid,relu" in capsys.readouterr().err


def test_q2_training_time_is_a_ratio_only_when_the_seeds_tell_the_times_apart():
    timed = answer(depth_pays, "3-layer relu", seconds=S(20.0, 1.0))
    assert "relu: 3 layers" in timed and "it trains 2.0x as long" in timed
    noisy = answer(depth_pays, "3-layer relu", seconds=S(12.0, 5.0))
    assert "training times (12.0 ± 5.0 s against 10.0 ± 1.0 s) do not tell the two apart" in noisy
