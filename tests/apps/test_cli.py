"""The ownnet command on a small subset of MNIST (seconds), and its error handling."""

import json
import subprocess
import sys

import numpy as np
import pytest

from ownnet.apps.cli import main

pytestmark = pytest.mark.usefixtures("mnist_dir")


def test_train_small_subset_writes_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--limit", "3000", "--epochs", "2", "--hidden", "32", "--out", str(out),
                 "--seed", "1"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test_accuracy=0.")
    accuracy = float(lines[-1].split("=")[1])
    assert accuracy > 0.85
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["result"]["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert metrics["config"]["hidden"] == [32] and len(metrics["history"]["loss"]) == 2
    assert (out / "model.safetensors").exists() and (out / "curves.png").exists()
    # evaluate the saved model
    assert main(["evaluate", str(out / "model.safetensors"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"accuracy {accuracy:.4f}" in text and "confusion matrix" in text
    assert (out / "confusion.png").exists() and (out / "misclassified.png").exists()


def test_resume_continues_from_checkpoint(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["train", "--limit", "1000", "--hidden", "16", "--out", out, "--quiet", "--schedule", "none"]
    assert main(args + ["--epochs", "1"]) == 0
    assert main(args + ["--epochs", "2", "--resume"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["history"]["epoch"] == [1, 2]


@pytest.mark.parametrize("argv, message", [
    (["train", "--activation", "swishy"], "activation"),
    (["train", "--hidden", "abc"], "--hidden"),
    (["train", "--epochs", "-3"], "--epochs"),
    (["train", "--lr", "0"], "--lr"),
    (["train", "--dropout", "1"], "--dropout"),
    (["train", "--resume"], "--resume needs --out"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_options_give_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_model_file_that_is_not_one(tmp_path, capsys):
    bogus = tmp_path / "model.safetensors"
    bogus.write_bytes(b"this is not a model")
    assert main(["evaluate", str(bogus)]) == 2
    assert "not an ownnet model file" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.safetensors")]) == 2


def test_predict_on_generated_image(tmp_path, capsys):
    from PIL import Image

    import ownnet as on

    (x_train, y_train), _ = on.datasets.load_mnist()
    on.manual_seed(0)
    model = on.mlp([784, 64, 10])
    on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1, momentum=0.9),
           x_train[:10000], y_train[:10000], epochs=2, batch_size=64, seed=0, verbose=False)
    path = on.save(model, str(tmp_path / "model"))
    # A test digit, enlarged to 112x112 and inverted (dark ink on white paper) as a photo would be.
    # A zero the model recognises confidently as it is, so that the test checks the image route.
    candidates = np.arange(10000, 12000)[y_train[10000:12000] == 0]
    confident = on.predict_proba(model, x_train[candidates])[:, 0] > 0.99
    index = int(candidates[confident][0])
    digit = (255 - x_train[index].reshape(28, 28) * 255).astype(np.uint8)
    image_path = tmp_path / "digit.png"
    Image.fromarray(digit).resize((112, 112)).save(image_path)
    assert main(["predict", path, str(image_path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{image_path}: 0 ")


def test_python_dash_m_help():
    done = subprocess.run([sys.executable, "-m", "ownnet", "train", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--hidden" in done.stdout


def test_train_on_a_gpu_that_is_not_there_is_a_one_line_error(capsys):
    from ownnet import backend

    if backend.gpu_available():
        pytest.skip("this machine has a GPU (tests/test_gpu.py trains there)")
    assert main(["train", "--device", "gpu", "--limit", "500", "--epochs", "1"]) == 2
    assert "CuPy" in capsys.readouterr().err
