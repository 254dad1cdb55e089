"""The benchmark harness (not its numbers): workers take turns and report sensible results."""

import pytest

from ownnet import bench


def test_flops_per_epoch_counts_forward_and_backward():
    assert bench.flops_per_epoch([784, 512, 256, 10], 60000) == 6 * 60000 * (784 * 512 + 512 * 256 + 256 * 10)


@pytest.mark.usefixtures("mnist_dir")
def test_compare_runs_workers_in_turn(tmp_path):
    run = bench.compare("small", epochs=2, threads=1, systems=("ownnet", "numpy"), limit=3000,
                        log=lambda _: 0)
    assert set(run["systems"]) == {"ownnet", "numpy"}
    for result in run["systems"].values():
        assert len(result["all"]) == 2 and result["seconds_per_epoch"] > 0
        assert 0.7 < result["test_accuracy"] <= 1.0  # both learn the small net on 3000 samples
        assert result["peak_rss_mib"] > 10
    report = {"machine": "test", "date": "today", "threads": 1,
              "runs": [{**run, "environment": "as set", "sgemm_peak_gflops": 100.0}]}
    text = bench.markdown(report)
    assert "| ownnet |" in text and "ownnet / numpy" in text
