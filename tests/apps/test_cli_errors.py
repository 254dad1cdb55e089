"""Every sub-command against a table of bad inputs: one line on stderr, exit code 2, never a traceback.

The files are hostile or merely wrong: models of another shape, files that are not models, image
bombs, blank images, broken checkpoints, absurd sizes, a learning rate that diverges.
"""

import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

import ownnet as on
from ownnet.apps.cli import main
from ownnet.io import read_tensors, write_tensors


def _png_header_only(path, width, height):
    """A PNG that declares ``width x height`` pixels and holds almost nothing: a decompression bomb's
    header (readers that trust it allocate ``width * height`` bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("bad-inputs")
    on.manual_seed(0)
    paths = {
        "moons": on.save(on.Sequential(on.Linear(2, 16), on.ReLU(), on.Linear(16, 2)),
                         str(folder / "moons.safetensors")),
        "five": on.save(on.Sequential(on.Linear(784, 5)), str(folder / "five.safetensors")),
        "ten": on.save(on.Sequential(on.Linear(784, 10)), str(folder / "ten.safetensors")),
    }
    tensors, metadata = read_tensors(paths["ten"])
    with open(paths["ten"], "rb") as f:
        data = f.read()
    (folder / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (folder / "text.safetensors").write_text("not a model")
    (folder / "folder.safetensors").mkdir()
    blank = Image.new("L", (28, 28), color=255)
    blank.save(folder / "blank.png")
    _png_header_only(folder / "bomb.png", 20000, 20000)
    (folder / "not-an-image.png").write_text("hello")
    (folder / "a-file").write_text("")
    (folder / "layers_that_fail.py").write_text("raise RuntimeError('broken on purpose')\n")
    paths.update({key: str(folder / name) for key, name in {
        "truncated": "truncated.safetensors", "text": "text.safetensors", "folder": "folder.safetensors",
        "blank": "blank.png", "bomb": "bomb.png", "notimage": "not-an-image.png", "afile": "a-file",
        "failing": "layers_that_fail.py"}.items()})
    paths["dir"] = str(folder)
    return paths


CASES = [
    # evaluate / predict / export: models and files that do not fit
    (["evaluate", "{moons}"], "takes 2 inputs"),
    (["evaluate", "{five}"], "gives 5 outputs"),
    (["evaluate", "{dir}/missing.safetensors"], "no such model file"),
    (["evaluate", "{truncated}"], "not an ownnet model file"),
    (["evaluate", "{text}"], "not an ownnet model file"),
    (["evaluate", "{folder}"], "not an ownnet model file"),
    (["predict", "{moons}", "{blank}"], "takes 2 inputs"),
    (["predict", "{five}", "{blank}"], "gives 5 outputs"),
    (["predict", "{ten}", "{dir}/missing.png"], "missing.png"),
    (["predict", "{ten}", "{notimage}"], "cannot read this image"),
    (["predict", "{ten}", "{bomb}"], "pixels"),
    (["predict", "{ten}", "{blank}"], "empty"),
    (["predict", "{ten}", "{blank}", "--import", "no_such_module_here"], "No module named"),
    (["predict", "{ten}", "{blank}", "--import", "{failing}"], "broken on purpose"),
    (["predict", "{ten}", "{blank}", "--import", "{dir}/missing.py"], "no such file"),
    (["export", "{moons}", "--onnx", "{dir}/m.onnx", "--input-shape", "3"], "expects input of shape"),
    (["export", "{ten}", "--onnx", "{dir}/no/such/folder/m.onnx"], "does not exist"),
    (["export", "{ten}", "--onnx", "{dir}"], "folder"),
    (["export", "{ten}", "--onnx", "{dir}/m.onnx", "--input-shape", "x"], "input"),
    (["serve", "{moons}", "--port", "0"], "784"),
    # train: sizes, learning rates and folders that cannot work
    (["train", "--dataset", "xor", "--lr", "1e30", "--epochs", "2", "--quiet"], "loss became"),
    (["train", "--dataset", "moons", "--hidden", "99999999999", "--quiet"], "memory"),
    (["train", "--dataset", "moons", "--out", "{afile}"], "is a file"),
    (["train", "--dataset", "nope"], "invalid choice"),
    (["train", "--dataset", "xor", "--dashboard", "--port", "0", "--allow-host", "http://x/"],
     "--allow-host"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--momentum", "1.5"], "--momentum"),
    (["train", "--lr", "nan"], "--lr"),
    # lab, bench, the command itself
    (["lab", "--seed", "-1"], "--seed"),
    (["lab", "--quick", "--out", "{afile}/sub"], "cannot write into --out"),
    (["evaluate", "{ten}", "--out", "{afile}/sub"], "cannot write into --out"),
    ([], "command"),
    (["evaluate"], "model"),
]


def _argv(template, files):
    return [part.format(**files) for part in template]


@pytest.mark.parametrize("template, message", CASES, ids=[" ".join(t)[:60] for t, _ in CASES])
def test_bad_input_gives_one_line_and_exit_2(template, message, files, capsys):
    assert main(_argv(template, files)) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:") or "error:" in line[:40]]
    assert len(lines) == 1, err
    assert message in lines[0], err


def test_broken_checkpoint_is_one_line(tmp_path, capsys):
    """A checkpoint whose metadata was edited (here: the history) is refused by ``--resume``."""
    out = tmp_path / "run"
    args = ["train", "--dataset", "xor", "--hidden", "8", "--epochs", "2", "--out", str(out), "--quiet"]
    assert main(args) == 0
    path = out / "checkpoint" / "checkpoint.safetensors"
    tensors, metadata = read_tensors(str(path))
    write_tensors(str(path), tensors, {**metadata, "history": json.dumps("oops")})
    capsys.readouterr()
    assert main(args[:-3] + ["--epochs", "3", "--out", str(out), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "history" in err and "Traceback" not in err


def test_a_real_process_prints_no_traceback(files):
    """The same, through the installed entry point in a fresh process (stderr as a user sees it)."""
    for template, _ in [(["evaluate", "{moons}"], None), (["predict", "{ten}", "{bomb}"], None),
                        (["train", "--dataset", "xor", "--lr", "1e30", "--epochs", "2", "--quiet"], None)]:
        done = subprocess.run([sys.executable, "-m", "ownnet", *_argv(template, files)],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONWARNINGS": "default"})
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert len([line for line in done.stderr.splitlines() if line.strip()]) == 1, done.stderr


def test_custom_layer_model_loads_with_import(tmp_path, capsys, monkeypatch):
    """A model with a layer defined in the user's own module: ``--import`` makes it usable."""
    (tmp_path / "my_layers.py").write_text(
        "import ownnet as on\n\n"
        "class Doubler(on.Module):\n"
        "    def forward(self, x):\n"
        "        return 2 * x\n\n"
        "    def backward(self, grad_out):\n"
        "        return 2 * grad_out\n")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import my_layers, ownnet as on; "
              "on.save(on.Sequential(on.Linear(784, 10), my_layers.Doubler()), sys.argv[2])")
    model_path = str(tmp_path / "custom.safetensors")
    subprocess.run([sys.executable, "-c", script, str(tmp_path), model_path], check=True)
    from PIL import Image

    image = np.full((28, 28), 255, dtype=np.uint8)
    image[6:22, 12:16] = 0  # a dark stroke on white paper: a "1"
    Image.fromarray(image).save(tmp_path / "one.png")
    monkeypatch.chdir(tmp_path)
    assert main(["predict", model_path, "one.png"]) == 2
    assert "Doubler" in capsys.readouterr().err
    assert main(["predict", model_path, "one.png", "--import", "my_layers"]) == 0
    assert capsys.readouterr().out.startswith("one.png: ")
