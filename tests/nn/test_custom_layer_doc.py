"""docs/custom-layer.md runs as written: its three scripts (the layer, train-and-save, load in a new
process) are taken from the page and run one after the other, each in a fresh Python."""

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "custom-layer.md"


def _scripts():
    """``{file name: code}`` of the page's Python blocks, named by their first line (``# swish.py``)."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    return {block.splitlines()[0].removeprefix("# ").strip(): block for block in blocks}


def _run(script, folder):
    done = subprocess.run([sys.executable, script], cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_page_has_the_three_scripts():
    assert list(_scripts()) == ["swish.py", "train_and_save.py", "load_elsewhere.py"]


def test_the_custom_layer_checks_trains_saves_and_loads_in_a_new_process(tmp_path):
    for name, code in _scripts().items():
        (tmp_path / name).write_text(code)
    trained = _run("train_and_save.py", tmp_path)
    assert trained.startswith("gradcheck passed") and "beta (beta of Swish): max relative error" in trained
    beta = re.search(r"beta after training: \[([-0-9.e]+)\] float32", trained)
    assert beta and float(beta.group(1)) != 1.0, trained  # beta was learned, and stayed float32
    accuracy = float(re.search(r"accuracy: ([0-9.]+)", trained).group(1))
    assert accuracy > 0.85
    loaded = _run("load_elsewhere.py", tmp_path)
    assert "same predictions: True" in loaded

    (tmp_path / "no_import.py").write_text("import ownnet as on\non.load('swish-model.safetensors')\n")
    done = subprocess.run([sys.executable, "no_import.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "ModelFormatError" in done.stderr and "Swish" in done.stderr
