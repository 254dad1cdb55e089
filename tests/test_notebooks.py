"""The lesson notebook (notebooks/lesson.ipynb) runs top to bottom in a Jupyter kernel, in quick mode
(``OWNNET_QUICK=1``), draws its figures inline and shows fit's progress bar.

The runner (nbclient, nbformat, ipykernel) comes with the ``test`` extra, so this runs in CI; MNIST is
found as ``load_mnist()`` finds it (the ``mnist_dir`` fixture fails rather than skips without it).
"""

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "lesson.ipynb"


def _outputs(notebook, cell_type="code"):
    for cell in notebook.cells:
        if cell.cell_type == cell_type:
            yield from cell.get("outputs", [])


def test_the_notebook_is_stored_without_outputs():
    notebook = json.loads(NOTEBOOK.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, "no code cells"
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


def test_the_lesson_runs_top_to_bottom_in_quick_mode(tmp_path, monkeypatch, mnist_dir):
    nbformat = pytest.importorskip("nbformat", reason="the test extra brings nbformat")
    nbclient = pytest.importorskip("nbclient", reason="the test extra brings nbclient")
    monkeypatch.setenv("OWNNET_QUICK", "1")
    monkeypatch.setenv("OWNNET_DATA", str(mnist_dir))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell that failed

    outputs = list(_outputs(notebook))
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 6, f"expected the figures inline, got {len(images)} images"
    stderr = "".join(output.get("text", "") for output in outputs if output.get("name") == "stderr")
    assert "batch/s]" in stderr, "fit's progress bar did not show in the kernel"
    assert "epoch 2/2  loss" in stderr  # the epoch lines under the bar
    stdout = "".join(output.get("text", "") for output in outputs if output.get("name") == "stdout")
    assert "forward equal: True | dL/dx equal: True | dL/dW equal: True | dL/db equal: True" in stdout
    assert "DoubleSoftmaxWarning" in stdout
    assert "3-layer relu" in stdout
