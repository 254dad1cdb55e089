"""docs/layer-contract.md shows what ownnet computes: the 2-2-2 network's table is the one
docs/figures/worked_example.py prints, and the figure it shows is the one its script draws."""

import importlib.util
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _script(name):
    spec = importlib.util.spec_from_file_location(name, DOCS / "figures" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_worked_example_in_the_page_is_what_ownnet_computes():
    example = _script("worked_example")
    assert example.table() in (DOCS / "layer-contract.md").read_text()


def test_the_worked_example_agrees_with_the_hand_formulas():
    example = _script("worked_example")
    values = {name: np.asarray(value) for name, _, value in example.rows()}
    x, h, p = np.array(example.X), values["h"], values["p"]
    onehot = np.eye(2)[[example.LABEL]]
    np.testing.assert_allclose(values["dL/dz2"], p - onehot)  # (softmax - onehot) / N, N = 1
    np.testing.assert_allclose(values["dL/dz1"], values["dL/dh"] * (1 - h * h))  # tanh' = 1 - y^2
    np.testing.assert_allclose(values["dL/dW1"], x.T @ values["dL/dz1"])
    np.testing.assert_allclose(values["L"][0], -np.log(p[0, example.LABEL]), rtol=1e-12)


def test_the_computational_graph_figure_is_drawn_by_its_script(tmp_path):
    drawn = _script("computational_graph").draw(tmp_path / "graph.png")
    assert drawn.stat().st_size > 10_000
    assert (DOCS / "figures" / "computational-graph.png").stat().st_size > 10_000
    assert "figures/computational-graph.png" in (DOCS / "layer-contract.md").read_text()
