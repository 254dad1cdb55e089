"""``benchmarks/step_profile.py``: a step taken apart; its parts add up to the step."""

import pytest


@pytest.mark.usefixtures("mnist_dir")
def test_the_parts_of_a_step_add_up_to_the_step(benchmark_script, capsys):
    script = benchmark_script("step_profile")
    parts = script.profile("small", epochs=2, limit=1280)
    assert {"batch gather", "Linear 0 forward", "Tanh 1 backward", "Linear 0 backward", "optimizer step",
            "loss forward+backward", "accuracy", "total"} <= set(parts)
    assert "Linear 0 backward" in parts and "Tanh 1 forward" in parts
    measured = sum(seconds for part, seconds in parts.items() if part != "total")
    assert 0 < measured <= parts["total"]
    assert measured > 0.5 * parts["total"]  # only the timer calls themselves are left out
    assert script.main(["--net", "small", "--epochs", "2", "--limit", "1280"]) == 0
    assert "us per step" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        script.main(["--epochs", "1"])
