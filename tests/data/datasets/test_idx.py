"""IDX reading and writing: round trips of every type, and every kind of corrupt file."""

import gzip
import os

import numpy as np
import pytest

from ownnet.data.datasets.idx import IDX_TYPES, IDXFormatError, idx_bytes, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _sample(dtype, shape=(3, 4, 5)):
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_type(tmp_path, dtype, suffix):
    array = _sample(dtype)
    path = tmp_path / f"data-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    assert not [p for p in tmp_path.iterdir() if p.name != path.name]  # no temporary file left behind


def test_known_bytes_by_hand(tmp_path):
    # 2 int16 values in a 1-d file: magic 00 00 0B 01, size 00 00 00 02, then big-endian data
    path = tmp_path / "tiny"
    write_idx(path, np.array([1, -2], dtype=np.int16))
    assert path.read_bytes() == bytes.fromhex("00000B01 00000002 0001 FFFE")
    np.testing.assert_array_equal(read_idx(path), [1, -2])


def test_gzip_is_detected_by_content_not_extension(tmp_path):
    array = _sample(np.uint8, (2, 3))
    gz_named_raw = tmp_path / "raw.gz"
    gz_named_raw.write_bytes(idx_bytes(array))
    raw_named_gz = tmp_path / "compressed-without-suffix"
    raw_named_gz.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_expected_ndim(tmp_path):
    path = tmp_path / "a"
    write_idx(path, np.zeros((2, 3), np.uint8))
    assert read_idx(path, ndim=2).shape == (2, 3)
    with pytest.raises(IDXFormatError, match=r"with 3 dimension\(s\), the header declares 2"):
        read_idx(path, ndim=3)


def test_write_rejects_unsupported_arrays(tmp_path):
    with pytest.raises(TypeError, match="uint8, int8, int16, int32, float32 or float64, got dtype int64"):
        write_idx(tmp_path / "a", np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "a", np.zeros((), np.uint8))
    assert not list(tmp_path.iterdir())


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "a"
    write_idx(path, np.arange(3, dtype=np.uint8))
    before = path.read_bytes()

    def failing_compress(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gzip, "GzipFile", failing_compress)
    with pytest.raises(OSError, match="disk full"):
        write_idx(tmp_path / "b.gz", np.arange(3, dtype=np.uint8))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["a"]


# --- corrupt files -------------------------------------------------------------------------------

GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))  # header 00 00 08 02 | 3 | 4, 12 bytes


@pytest.mark.parametrize("content, message", [
    (b"", r"truncated header: expected at least 4 bytes, the file has 0"),
    (b"\x00\x00\x08", r"truncated header: expected at least 4 bytes, the file has 3"),
    (b"\x01\x00" + GOOD[2:],
     r"not an IDX file: expected the magic number to start with two zero bytes, got 01 00 08 02"),
    (b"PK\x03\x04" + GOOD[4:], r"not an IDX file"),
    (GOOD[:2] + b"\x0A" + GOOD[3:], r"unknown IDX type code 0x0A; expected one of 0x08 uint8"),
    (GOOD[:3] + b"\x00", r"declares 0 dimensions; expected at least 1"),
    (GOOD[:8], r"truncated header: 2 dimensions need a 12-byte header, the file has 8 bytes"),
    (GOOD[:3] + b"\x03" + GOOD[4:], r"truncated data: the header declares shape \(3, 4, 66051\)"),
    (GOOD[:-1], r"truncated data: the header declares shape \(3, 4\) of uint8 \(24 bytes with the header\), "
                r"the file has 23 bytes"),
    (GOOD + b"\x00",
     r"trailing bytes after the data: .* \(24 bytes with the header\), the file has (25|more than 24) bytes"),
    (GOOD[:4] + (2**32 - 1).to_bytes(4, "big") + GOOD[8:],
     r"truncated data: the header declares shape \(4294967295, 4\)"),
])
@pytest.mark.parametrize("compress", [False, True])
def test_corrupt_files_raise_a_clear_error(tmp_path, content, message, compress):
    path = tmp_path / "broken-idx"
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(IDXFormatError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_wrong_element_size_for_a_wider_type(tmp_path):
    # same header shape but type code float64: 12 values need 96 bytes, there are 12
    path = tmp_path / "f64"
    path.write_bytes(GOOD[:2] + b"\x0E" + GOOD[3:])
    with pytest.raises(IDXFormatError, match=r"truncated data: .* of float64 \(108 bytes with the header\), "
                                             r"the file has 24 bytes"):
        read_idx(path)


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_corrupt_gzip(tmp_path, damage):
    packed = bytearray(gzip.compress(GOOD))
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    else:
        packed[-6] ^= 0xFF  # inside the CRC-32 / size trailer
    path = tmp_path / "broken.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(IDXFormatError, match=rf"{path}: corrupt or truncated gzip data"):
        read_idx(path)


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nothing")


def test_type_table_matches_the_format():
    assert {code: dtype.name for code, dtype in IDX_TYPES.items()} == {
        0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}
    assert all(dtype.byteorder in "|>" for dtype in IDX_TYPES.values())
