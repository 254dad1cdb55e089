"""``benchmarks/gpu.py --cpu-check``: the GPU benchmark's dry run, so that the script works before any GPU
time is spent on it (the GPU systems are skipped, the eager ones run on the CPU)."""

import json

import pytest


def test_cpu_check_runs_every_system_it_can_and_writes_the_report(mnist_dir, benchmark_script, tmp_path,
                                                                  capsys):
    pytest.importorskip("torch")
    report = benchmark_script("gpu").main(["--cpu-check", "--epochs", "2", "--out", str(tmp_path)])
    rows = [row for row in report["rows"] if "seconds_per_epoch" in row]
    ran = {(row["system"].split(" [")[0], row["batch"]) for row in rows}
    assert ran == {("ownnet-CuPy eager", 128), ("PyTorch eager", 128), ("ownnet-CuPy eager", 1024),
                   ("PyTorch eager", 1024), ("ownnet-NumPy (CPU)", 128)}
    skipped = [row["system"] for row in report["rows"] if "skipped" in row]
    assert skipped == ["ownnet-CuPy graph", "PyTorch graph"]
    for row in report["rows"]:
        if "seconds_per_epoch" in row:
            assert row["seconds_per_epoch"] > 0 and 0.1 < row["test_accuracy"] <= 1
    assert [r["ratio"] for r in report["ratios"]] == [
        "ownnet-CuPy eager / PyTorch eager, batch 128", "ownnet-CuPy eager / PyTorch eager, batch 1024"]
    assert json.loads((tmp_path / "gpu-cpu-check.json").read_text())["gpu"] == "none (--cpu-check)"
    assert "| ownnet-CuPy graph | 128 | skipped" in (tmp_path / "gpu-cpu-check.md").read_text()
    assert "s/epoch" in capsys.readouterr().out


def test_without_a_gpu_the_full_run_says_so(benchmark_script):
    module = benchmark_script("gpu")
    if __import__("ownnet").gpu_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit, match="no GPU"):
        module.main([])
