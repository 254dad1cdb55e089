"""IDX files that claim more than they hold (issue 17): gzip bombs, FIFOs and devices, and labels that
skip classes. Memory is measured in a child process under an address-space limit
(``run_with_memory_limit`` in tests/conftest.py), so a regression fails instead of filling the machine.
"""

import gzip
import warnings

import numpy as np
import pytest

from ownnet.data.datasets import mnist
from ownnet.data.datasets.idx import IDXFormatError, idx_bytes, read_idx, read_idx_md5, write_idx

BOMB_MB = 100
"""The size of the bombs' zeros: 100 MB, about 100 KB gzipped."""


def _gzip_bomb(path, declared, zeros):
    """A gzip IDX file of uint8 whose header declares ``declared`` values, followed by ``zeros`` zero
    bytes, compressed 1 MB at a time (the bomb is never whole in memory)."""
    with gzip.open(path, "wb", compresslevel=1) as stream:
        stream.write(bytes([0, 0, 0x08, 1]) + declared.to_bytes(4, "big"))
        for start in range(0, zeros, 2**20):
            stream.write(bytes(min(2**20, zeros - start)))
    assert path.stat().st_size < 2**20  # small on disk
    return path


def test_gzip_bomb_takes_no_more_than_its_declared_size(tmp_path, run_with_memory_limit):
    """Before: the whole stream was decompressed into bytes, then copied into the array (2x).
    ``read_idx_md5`` is the reader of the MNIST loaders; ``read_idx`` is the same code without the MD5."""
    size = BOMB_MB * 2**20
    path = _gzip_bomb(tmp_path / "bomb-idx1-ubyte.gz", size, size)
    code = f"from ownnet.data.datasets import idx; assert idx.read_idx_md5({str(path)!r})[0].size"
    outcome, peak_mb = run_with_memory_limit(code, extra_mb=BOMB_MB + 100)
    assert outcome == "ok", outcome
    assert peak_mb < BOMB_MB * 1.1 + 30, f"peak {peak_mb:.0f} MB for a {BOMB_MB} MB array"


def test_gzip_stream_longer_than_declared_stops_at_the_declared_size(tmp_path, run_with_memory_limit):
    """Before: all of the stream was decompressed before its length was compared with the header."""
    path = _gzip_bomb(tmp_path / "bomb-idx1-ubyte.gz", 10, BOMB_MB * 2**20)
    code = f"from ownnet.data.datasets import idx; idx.read_idx({str(path)!r})"
    outcome, peak_mb = run_with_memory_limit(code, extra_mb=BOMB_MB + 100)
    assert outcome.startswith("IDXFormatError") and "trailing bytes after the data" in outcome, outcome
    assert peak_mb < 30, f"peak {peak_mb:.0f} MB for a 10-byte array"


def test_a_declared_size_no_gzip_file_can_hold_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 3]) + (2**32 - 1).to_bytes(4, "big") * 3))
    with pytest.raises(IDXFormatError, match=r"more than a gzip file of \d+ bytes can hold"):
        read_idx(path)


def test_a_fifo_a_folder_or_a_device_is_refused_at_once(non_regular_files):
    """Before: reading a FIFO waited forever; /dev/zero would have filled memory."""
    non_regular_files(read_idx, IDXFormatError)


def test_md5_is_of_the_uncompressed_content(tmp_path):
    array = np.arange(300, dtype=np.int16).reshape(3, 100)
    write_idx(tmp_path / "a.gz", array)
    back, md5 = read_idx_md5(tmp_path / "a.gz")
    np.testing.assert_array_equal(back, array)
    import hashlib

    assert md5 == hashlib.md5(idx_bytes(array)).hexdigest()


def _dataset(folder, train_labels, test_labels):
    folder.mkdir()
    for split, labels in (("train", train_labels), ("t10k", test_labels)):
        labels = np.asarray(labels, dtype=np.uint8)
        write_idx(folder / f"{split}-images-idx3-ubyte", np.zeros((len(labels), 2, 2), np.uint8))
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels)
    return folder


def test_labels_that_skip_classes_are_warned_about_by_name(tmp_path):
    """Before: one stray label 255 made ``ownnet train`` build a 256-class model without a word."""
    folder = _dataset(tmp_path / "d", [0, 1, 2, 255], [0, 1])
    with pytest.warns(UserWarning, match=r"labels go up to 255, but 252 of the classes 0\.\.255 never occur "
                                         r"in the training labels \(3, 4, 5, .*, 22, \.\.\.\)"):
        (_, y_train), _ = mnist.load_idx_dataset(folder)
    assert y_train.max() == 255  # the data are returned as they are: the warning says what is odd


def test_a_class_only_in_the_test_labels_is_missing_from_training(tmp_path):
    folder = _dataset(tmp_path / "d", [0, 1, 3], [0, 2])
    with pytest.warns(UserWarning, match=r"1 of the classes 0\.\.3 never occur in the training labels \(2\)"):
        mnist.load_idx_dataset(folder)


def test_labels_that_use_every_class_load_without_a_warning(tmp_path):
    folder = _dataset(tmp_path / "d", [2, 0, 1, 1], [0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mnist.load_idx_dataset(folder)
