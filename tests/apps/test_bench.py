"""The benchmark harness (not its numbers): workers take turns and report sensible results."""

import pytest

from ownnet.apps import bench


def test_flops_per_epoch_counts_forward_and_backward():
    assert bench.flops_per_epoch([784, 512, 256, 10], 60000) == 6 * 60000 * (784 * 512 + 512 * 256 + 256 * 10)


@pytest.mark.usefixtures("mnist_dir")
def test_compare_runs_workers_in_turn(tmp_path):
    run = bench.compare("small", epochs=2, threads=1, systems=("ownnet", "numpy", "ceiling"), limit=3000,
                        log=lambda _: 0, peak_seconds=0.2, settle_seconds=0.0)
    assert set(run["systems"]) == {"ownnet", "numpy", "ceiling"}
    for result in run["systems"].values():
        assert len(result["all"]) == 2 and result["seconds_per_epoch"] > 0
        assert result["peak_rss_mib"] > 10
    for system in ("ownnet", "numpy"):
        assert 0.7 < run["systems"][system]["test_accuracy"] <= 1.0  # both learn the small net
    assert run["systems"]["ceiling"]["test_accuracy"] is None  # products and updates only: no model
    assert len(run["sgemm_peak_all"]) == 2 and all(p > 0.1 for p in run["sgemm_peak_all"])
    assert run["sgemm_peak_gflops"] == run["sgemm_peak_all"][1]  # the median of the rounds after the first
    assert "peak" not in run["blas"] and set(run["blas"]) == set(run["systems"])
    text = bench.markdown({"machine": "test", "date": "today", "threads": 1,
                           "runs": [{**run, "environment": "as set"}]})
    assert "| ownnet |" in text and "ownnet / numpy" in text and "ownnet / ceiling" in text
    assert "| ceiling |" in text and "in turns with the systems" in text


def test_unknown_system_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--systems", "ownnet,keras"])
    assert "unknown system or net keras" in capsys.readouterr().err
