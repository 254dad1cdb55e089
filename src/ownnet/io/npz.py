"""The ``.npz`` model file (NumPy's zip of ``.npy`` files), written and read without pickle.

Each tensor is a member ``<name>.npy``; the metadata is one more member, ``__metadata__.npy``, holding
the JSON of the ``{str: str}`` metadata as a 0-d unicode array. Reading never loads Python objects
(that would unpickle): it parses each member's ``.npy`` header itself, accepts only the dtypes a
safetensors file may hold, and checks every member's name and declared size before it reads any
member, then reads each array into an allocation of its declared size (memory: the declared sizes
plus one 1 MiB chunk, never the whole member twice, whatever the compression).
"""

import json
import math
import os
import zipfile

import numpy as np

from ownnet.files import atomic_write, open_regular_file
from ownnet.io.safetensors import (
    DTYPE_CODES,
    MAX_HEADER_BYTES,
    ModelFormatError,
    parse_json,
    shape_fits_numpy,
)

NPZ_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
"""The first bytes of a zip file (an ``.npz``): a local file header, or the end of an empty archive."""
_NPZ_METADATA = "__metadata__"
_CHUNK_BYTES = 1 << 20
"""Members are decompressed into their arrays this many bytes at a time."""
_DEFLATE_MAX_EXPANSION = 1032
"""Deflate's largest possible expansion: 258 bytes from a length code of about 2 bits."""


def write_npz(path, arrays, metadata):
    """Write the checked ``{name: array}`` (``check_tensors_argument``) and ``{str: str}`` metadata as an
    uncompressed ``.npz``, atomically; returns ``path``."""
    with atomic_write(path) as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        members = dict(arrays)
        members[_NPZ_METADATA] = np.array(json.dumps(metadata, ensure_ascii=False))
        for name, array in members.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return path


def _checked_members(infos, file_size, where, metadata_only):
    """The members to read, after checking every member's name, method and declared sizes (before any
    member is read): each is a ``.npy``, named once, stored or deflated, not encrypted, and no larger
    than its compressed bytes can hold. Deflate cannot expand data more than 1032 times, so a larger
    declared size is impossible (a physical bound of the format, not a guess about compression ratios)."""
    seen = set()
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise ModelFormatError(f"{where}: unexpected member {info.filename!r} (not a .npy)")
        if info.filename in seen:
            raise ModelFormatError(f"{where}: duplicate member {info.filename!r}")
        seen.add(info.filename)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 0x1:
            raise ModelFormatError(f"{where}: member {info.filename!r} is encrypted or compressed with "
                                   f"method {info.compress_type} (expected stored or deflated)")
        expansion = 1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_MAX_EXPANSION
        if info.compress_size > file_size or info.file_size > info.compress_size * expansion + 1024:
            raise ModelFormatError(f"{where}: member {info.filename!r} declares an impossible size")
    if metadata_only:
        return [info for info in infos if info.filename == _NPZ_METADATA + ".npy"]
    return infos


def _read_npy_header(member, info, where):
    """``(shape, fortran_order, dtype)`` from a member's ``.npy`` header, checked before any allocation."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as error:
        raise ModelFormatError(f"{where}: member {info.filename!r} is not a valid .npy ({error})") from None
    if dtype.hasobject:
        raise ModelFormatError(f"{where}: member {info.filename!r} holds Python objects; "
                               f"they are never loaded (loading them would unpickle)")
    is_metadata = info.filename == _NPZ_METADATA + ".npy"
    if not (dtype.kind == "U" if is_metadata else dtype.newbyteorder("<") in DTYPE_CODES):
        raise ModelFormatError(f"{where}: member {info.filename!r} has unsupported dtype {dtype}")
    if any(d < 0 for d in shape) or not shape_fits_numpy(shape, dtype.itemsize):
        raise ModelFormatError(f"{where}: member {info.filename!r} has shape {shape!r:.200}, not the "
                               f"shape of an array (negative, or 2**63 bytes or more)")
    nbytes, left = math.prod(shape) * dtype.itemsize, info.file_size - member.tell()
    if left != nbytes:
        raise ModelFormatError(f"{where}: member {info.filename!r} of shape {shape} and dtype {dtype} "
                               f"needs {nbytes} bytes, it holds {left}")
    if is_metadata and nbytes > MAX_HEADER_BYTES:
        raise ModelFormatError(f"{where}: the metadata takes {nbytes} bytes, over the limit of "
                               f"{MAX_HEADER_BYTES}")
    return shape, fortran, dtype


def _read_npy_member(archive, info, where):
    """``(name, array)`` of one member: the array of the declared shape is allocated once and filled
    chunk by chunk as the member is decompressed, so memory is the declared size plus one chunk."""
    with archive.open(info) as member:
        shape, fortran, dtype = _read_npy_header(member, info, where)
        array = np.empty(shape, dtype, order="F" if fortran else "C")
        raw = (array.T if fortran else array).reshape(-1).view(np.uint8)  # the bytes, in file order
        position = 0
        while position < raw.size:
            count = member.readinto(raw[position:position + _CHUNK_BYTES])
            if not count:
                raise ModelFormatError(f"{where}: member {info.filename!r} is truncated")
            position += count
    if dtype.kind == "b" and array.size and raw.max() > 1:
        raise ModelFormatError(f"{where}: member {info.filename!r} has BOOL bytes other than 0 and 1")
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return info.filename[:-len(".npy")], np.asarray(array, order="C")  # copies a Fortran-order array


def read_npz(path, metadata_only=False):
    """``({name: array}, {str: str} metadata)`` of an ``.npz`` (only the metadata: ``({}, metadata)``).

    Every member's name and declared size is checked before any member is read; each array is then
    read into an allocation of its declared size. Raises ``ModelFormatError`` for any problem with
    the content (a FIFO, a device or a folder included).
    """
    path = os.fspath(path)
    tensors, metadata = {}, None
    try:
        with open_regular_file(path, ModelFormatError) as file, zipfile.ZipFile(file) as archive:
            members = _checked_members(archive.infolist(), os.fstat(file.fileno()).st_size, path,
                                       metadata_only)
            for info in members:
                name, array = _read_npy_member(archive, info, path)
                if name == _NPZ_METADATA:
                    metadata = parse_json(str(array[()]) if array.ndim == 0 else "", f"{path}: metadata")
                else:
                    tensors[name] = array
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError,
            ValueError) as error:
        if isinstance(error, (ModelFormatError, FileNotFoundError)):
            raise
        raise ModelFormatError(f"{path}: not a valid .npz file ({type(error).__name__}: {error})") from None
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFormatError(f"{path}: the metadata must be a JSON object of strings")
    return tensors, metadata
