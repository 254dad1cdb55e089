"""The IDX file format of MNIST: ``read_idx`` and ``write_idx``, gzip-compressed or raw.

An IDX file is a header followed by the array's values in C order, big-endian:

    bytes 0-1   two zero bytes
    byte  2     the type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     the number of dimensions, ndim
    then        ndim sizes, each a 4-byte big-endian unsigned integer
    then        prod(sizes) values of the type

``read_idx`` checks every part of that and raises ``IDXFormatError`` (a ``ValueError``) naming the file
and what is wrong. Arrays are read on the host with NumPy (file parsing has nothing to gain from a GPU).
"""

import gzip
import os
import zlib

import numpy as np

from ownnet.files import atomic_write

GZIP_MAGIC = b"\x1f\x8b"

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code -> the big-endian dtype of the values in the file."""

_TYPE_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}


class IDXFormatError(ValueError):
    """A file is not a valid IDX file: bad magic number, unknown type code, wrong number of dimensions,
    a header or data size that does not match what the header declares, or a corrupt gzip stream.
    The message names the file, what was expected and what was found."""


def read_idx_bytes(path):
    """The uncompressed content of ``path``: gunzipped when the file starts with the gzip magic bytes
    (whatever its extension), as is otherwise. Raises ``IDXFormatError`` for a corrupt gzip stream."""
    with open(path, "rb") as file:
        content = file.read()
    if content[:2] != GZIP_MAGIC:
        return content
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:
        raise IDXFormatError(f"{path}: corrupt or truncated gzip data ({error})") from None


def parse_idx(content, name="<bytes>", ndim=None):
    """Parse the uncompressed IDX ``content`` (bytes) into a native-byte-order array.

    ``ndim``: the number of dimensions the caller expects (``None``: any). ``name`` is used in errors.
    """
    if len(content) < 4:
        raise IDXFormatError(
            f"{name}: truncated header: expected at least 4 bytes, the file has {len(content)}")
    if content[0] != 0 or content[1] != 0:
        raise IDXFormatError(
            f"{name}: not an IDX file: expected the magic number to start with two zero bytes, "
            f"got {content[:4].hex(' ')}"
        )
    code, file_ndim = content[2], content[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {IDX_TYPES[c].name}" for c in IDX_TYPES)
        raise IDXFormatError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if file_ndim == 0:
        raise IDXFormatError(f"{name}: the header declares 0 dimensions; expected at least 1")
    if ndim is not None and file_ndim != ndim:
        raise IDXFormatError(
            f"{name}: expected an IDX file with {ndim} dimension(s), the header declares {file_ndim}")
    header_size = 4 + 4 * file_ndim
    if len(content) < header_size:
        raise IDXFormatError(
            f"{name}: truncated header: {file_ndim} dimensions need a {header_size}-byte header, "
            f"the file has {len(content)} bytes"
        )
    shape = tuple(int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(file_ndim))
    dtype = IDX_TYPES[code]
    expected = header_size + dtype.itemsize * int(np.prod(shape, dtype=object))
    if len(content) != expected:
        problem = "truncated data" if len(content) < expected else "trailing bytes after the data"
        raise IDXFormatError(
            f"{name}: {problem}: the header declares shape {shape} of {dtype.name} "
            f"({expected} bytes with the header), the file has {len(content)} bytes"
        )
    array = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def read_idx(path, ndim=None):
    """Read the IDX file ``path`` (gzip-compressed or raw, detected by its content) into an array.

    Returns an array of the file's type (uint8, int8, int16, int32, float32 or float64) in native byte
    order, of the shape its header declares. ``ndim``: the number of dimensions expected (``None``: any).
    Raises ``IDXFormatError`` if the file is not a valid IDX file, ``FileNotFoundError`` if it is missing.
    """
    return parse_idx(read_idx_bytes(path), name=os.fspath(path), ndim=ndim)


def idx_bytes(array):
    """The IDX encoding (header and big-endian data, uncompressed) of ``array``."""
    array = np.asarray(array)
    code = _TYPE_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"array: IDX stores uint8, int8, int16, int32, float32 or float64, got dtype {array.dtype}"
        )
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array: IDX stores arrays of 1 to 255 dimensions, got shape {array.shape}")
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(f"array: IDX sizes must be below 2**32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()


def write_idx(path, array):
    """Write ``array`` to the IDX file ``path``, gzip-compressed if ``path`` ends with ``.gz``.

    The file is written atomically (a temporary file in the same folder, then renamed), so a reader
    never sees a half-written file. Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    content = idx_bytes(array)
    with atomic_write(path) as file:
        if os.fspath(path).endswith(".gz"):
            with gzip.GzipFile(fileobj=file, mode="wb", compresslevel=6, mtime=0) as compressed:
                compressed.write(content)
        else:
            file.write(content)
