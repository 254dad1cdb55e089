"""``benchmarks/sklearn_compare.py``: the per-seed pairing, the paired time ratios and the targets."""

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")
pytest.importorskip("threadpoolctl")


def test_summary_takes_the_median_of_per_seed_ratios_and_checks_the_targets(benchmark_script):
    script = benchmark_script("sklearn_compare")

    def run(own_score, own_seconds, sk_seconds):
        return {"ownnet": {"score": own_score, "seconds": own_seconds, "n_iter": 10},
                "sklearn": {"score": 0.95, "seconds": sk_seconds, "n_iter": 12}}

    # the machine slows down 4x in the middle: the per-seed ratios stay 0.5
    runs = [run(0.95, 1.0, 2.0), run(0.947, 4.0, 8.0), run(0.948, 1.0, 2.0)]
    summary = script.summarise(runs, classification=True)
    assert summary["time_ratio_median"] == 0.5 and summary["time_ratio_max"] == 0.5
    assert summary["sklearn"]["seconds_median"] == 2.0
    assert summary["score_difference"] == pytest.approx(np.mean([0.95, 0.947, 0.948]) - 0.95)
    assert summary["accuracy_target_met"] and summary["time_target_met"]
    worse = script.summarise([run(0.94, 1.0, 2.0), run(0.94, 3.0, 2.0), run(0.94, 3.0, 2.0)], True)
    assert not worse["accuracy_target_met"] and not worse["time_target_met"]
    assert script.summarise([run(0.94, 1.0, 2.0)], classification=False)["accuracy_target_met"]  # R2: 0.02


def test_both_estimators_fit_the_same_split_in_alternating_order(benchmark_script):
    script = benchmark_script("sklearn_compare")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    y = (x[:, 0] > 0).astype(int)
    runs = script.run_dataset(x, y, True, {"hidden_layer_sizes": (4,), "max_iter": 3}, seeds=2)
    assert [run["seed"] for run in runs] == [0, 1]
    assert list(runs[0]) == ["seed", "sklearn", "ownnet"] and list(runs[1]) == ["seed", "ownnet", "sklearn"]
    assert all(run[name]["n_iter"] == 3 and 0 <= run[name]["score"] <= 1 for run in runs
               for name in ("ownnet", "sklearn"))
