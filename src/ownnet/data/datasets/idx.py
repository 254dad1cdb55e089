"""The IDX file format of MNIST: ``read_idx`` and ``write_idx``, gzip-compressed or raw.

An IDX file is a header followed by the array's values in C order, big-endian:

    bytes 0-1   two zero bytes
    byte  2     the type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     the number of dimensions, ndim
    then        ndim sizes, each a 4-byte big-endian unsigned integer
    then        prod(sizes) values of the type

``read_idx`` checks every part of that and raises ``IDXFormatError`` (a ``ValueError``) naming the file
and what is wrong. It checks the declared size before allocating the array and stops reading at the
first byte beyond it, so memory stays that of a real file of the declared shape. Arrays are read on
the host with NumPy (file parsing has nothing to gain from a GPU).
"""

import gzip
import hashlib
import io
import math
import os
import zlib

import numpy as np

from ownnet.files import atomic_write, open_regular_file

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 1 << 20
"""Values are read (and decompressed) this many bytes at a time."""
_DEFLATE_MAX_EXPANSION = 1032
"""Deflate's largest possible expansion: 258 bytes from a length code of about 2 bits."""

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


def _read_up_to(stream, count):
    """Up to ``count`` bytes (fewer only at the end of the stream)."""
    parts, left = [], count
    while left:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_header(stream, name, ndim):
    """``(dtype, shape, header bytes)`` from the start of an uncompressed IDX stream."""
    head = _read_up_to(stream, 4)
    if len(head) < 4:
        raise IDXFormatError(f"{name}: truncated header: expected at least 4 bytes, the file has {len(head)}")
    if head[0] != 0 or head[1] != 0:
        raise IDXFormatError(f"{name}: not an IDX file: expected the magic number to start with two zero "
                             f"bytes, got {head.hex(' ')}")
    code, file_ndim = head[2], head[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {IDX_TYPES[c].name}" for c in IDX_TYPES)
        raise IDXFormatError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if file_ndim == 0:
        raise IDXFormatError(f"{name}: the header declares 0 dimensions; expected at least 1")
    if ndim is not None and file_ndim != ndim:
        raise IDXFormatError(f"{name}: expected an IDX file with {ndim} dimension(s), the header declares "
                             f"{file_ndim}")
    sizes = _read_up_to(stream, 4 * file_ndim)
    if len(sizes) < 4 * file_ndim:
        raise IDXFormatError(f"{name}: truncated header: {file_ndim} dimensions need a "
                             f"{4 + 4 * file_ndim}-byte header, the file has {4 + len(sizes)} bytes")
    shape = tuple(int.from_bytes(sizes[4 * i: 4 * i + 4], "big") for i in range(file_ndim))
    return IDX_TYPES[code], shape, head + sizes


def _check_declared_size(dtype, shape, header, file_size, compressed, name):
    """Refuse, before anything is allocated, a declared size the file cannot hold: a raw file must be
    exactly header + data; a gzip file cannot expand more than deflate's limit of 1032 times (a bound
    of the format, not a guess about compression ratios: any real file is within it)."""
    expected = len(header) + dtype.itemsize * math.prod(shape)
    declared = f"the header declares shape {shape} of {dtype.name} ({expected} bytes with the header)"
    if compressed and expected > _DEFLATE_MAX_EXPANSION * file_size + 1024:
        raise IDXFormatError(f"{name}: truncated data: {declared}, more than a gzip file of "
                             f"{file_size} bytes can hold")
    if not compressed and file_size != expected:
        problem = "truncated data" if file_size < expected else "trailing bytes after the data"
        raise IDXFormatError(f"{name}: {problem}: {declared}, the file has {file_size} bytes")
    return declared


def _read_values(stream, dtype, shape, header, declared, name, digest):
    """The values, read chunk by chunk into one array of the declared size; reading stops as soon as
    the stream yields a byte more than declared."""
    array = np.empty(shape, dtype)
    raw = array.reshape(-1).view(np.uint8)
    position = 0
    while position < raw.size:
        count = stream.readinto(raw[position:position + _CHUNK_BYTES])
        if not count:
            raise IDXFormatError(f"{name}: truncated data: {declared}, the file has "
                                 f"{len(header) + position} bytes")
        if digest is not None:
            digest.update(raw[position:position + count])
        position += count
    if stream.read(1):
        raise IDXFormatError(f"{name}: trailing bytes after the data: {declared}, the file has more than "
                             f"{len(header) + raw.size} bytes")
    if not dtype.isnative:  # big-endian values: swapped in place, no second copy
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _parse_stream(stream, file_size, name, ndim=None, compressed=False, digest=None):
    dtype, shape, header = _read_header(stream, name, ndim)
    declared = _check_declared_size(dtype, shape, header, file_size, compressed, name)
    if digest is not None:
        digest.update(header)
    return _read_values(stream, dtype, shape, header, declared, name, digest)


def parse_idx(content, name="<bytes>", ndim=None):
    """Parse the uncompressed IDX ``content`` (bytes) into a native-byte-order array.

    ``ndim``: the number of dimensions the caller expects (``None``: any). ``name`` is used in errors.
    """
    return _parse_stream(io.BytesIO(content), len(content), name, ndim)


def _read_file(path, ndim=None, digest=None):
    """The array of the IDX file ``path`` (raw or gzip, detected by content); ``digest``: a hashlib
    object updated with the uncompressed content as it is read."""
    name = os.fspath(path)
    with open_regular_file(path, IDXFormatError) as file:
        file_size = os.fstat(file.fileno()).st_size
        if file.read(2) != GZIP_MAGIC:
            file.seek(0)
            return _parse_stream(file, file_size, name, ndim, digest=digest)
        file.seek(0)
        try:
            with gzip.GzipFile(fileobj=file) as stream:
                return _parse_stream(stream, file_size, name, ndim, compressed=True, digest=digest)
        except (OSError, EOFError, zlib.error) as error:
            raise IDXFormatError(f"{name}: corrupt or truncated gzip data ({error})") from None


def read_idx(path, ndim=None):
    """Read the IDX file ``path`` (gzip-compressed or raw, detected by its content) into an array.

    Returns an array of the file's type (uint8, int8, int16, int32, float32 or float64) in native byte
    order, of the shape its header declares. ``ndim``: the number of dimensions expected (``None``: any).
    Raises ``IDXFormatError`` if the file is not a valid IDX file (or not a regular file: a FIFO, a
    device, a folder), ``FileNotFoundError`` if it is missing.

    Memory: the declared size is checked against the file before the array is allocated, the values
    are decompressed into that one array a chunk at a time, and reading stops at the first byte beyond
    the declared size; so a gzip bomb costs at most what a real file of its declared shape costs.
    """
    return _read_file(path, ndim)


def read_idx_md5(path, ndim=None):
    """``(array, MD5 hex digest of the uncompressed content)`` of the IDX file ``path``, in one read."""
    digest = hashlib.md5(usedforsecurity=False)
    array = _read_file(path, ndim, digest)
    return array, digest.hexdigest()


def read_idx_bytes(path):
    """The uncompressed content of the IDX file ``path`` (raw or gzip), read and checked by
    ``read_idx`` (so bounded by the declared size). Raises ``IDXFormatError`` for an invalid file."""
    return idx_bytes(read_idx(path))


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
