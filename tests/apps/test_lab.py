"""ownnet lab --quick writes a report that answers the four questions with measured numbers."""

import json

import pytest

from ownnet.apps.lab import run_lab


@pytest.mark.usefixtures("mnist_dir")
def test_quick_lab_writes_report(tmp_path):
    report = run_lab(str(tmp_path), quick=True)
    text = open(report).read()
    for heading in ("activation", "2 or 3 layers", "depth grows", "weights behave"):
        assert heading in text
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["name"] for r in results] == ["1-layer", "2-layer tanh", "2-layer sigmoid", "2-layer relu",
                                           "3-layer tanh", "3-layer sigmoid", "3-layer relu"]
    for r in results:
        assert len(r["max_abs_weight"]) == results[0]["history"]["epoch"][-1]
        assert len(r["max_abs_weight"][0]) == r["layers"]
        assert f"| {r['name']} |" in text
    assert (tmp_path / "accuracy.png").exists() and (tmp_path / "weights.png").exists()
    assert max(r["test_accuracy"] for r in results) > 0.85
