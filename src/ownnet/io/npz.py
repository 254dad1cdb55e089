"""The ``.npz`` model file (NumPy's zip of ``.npy`` files), written and read without pickle.

Each tensor is a member ``<name>.npy``; the metadata is one more member, ``__metadata__.npy``, holding
the JSON of the ``{str: str}`` metadata as a 0-d unicode array. Reading never loads Python objects
(that would unpickle): it parses each member's ``.npy`` header itself, accepts only the dtypes a
safetensors file may hold, and checks every declared size against the archive's size first.
"""

import json
import math
import os
import zipfile

import numpy as np

from ownnet.files import atomic_write
from ownnet.io.safetensors import DTYPE_CODES, ModelFormatError, parse_json

NPZ_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
"""The first bytes of a zip file (an ``.npz``): a local file header, or the end of an empty archive."""
_NPZ_METADATA = "__metadata__"


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


def _read_npy_member(archive, info, file_size, where):
    name = info.filename[:-len(".npy")]
    # a stored member's size is its size in the file; deflate cannot expand more than ~1032 times
    limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else 1100) + 1024
    if info.compress_size > file_size or info.file_size > limit:
        raise ModelFormatError(f"{where}: member {info.filename!r} declares an impossible size")
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as error:
            raise ModelFormatError(f"{where}: member {info.filename!r} is not a valid .npy "
                                   f"({error})") from None
        if dtype.hasobject:
            raise ModelFormatError(f"{where}: member {info.filename!r} holds Python objects; "
                                   f"they are never loaded (loading them would unpickle)")
        allowed = dtype.kind == "U" if name == _NPZ_METADATA else dtype.newbyteorder("<") in DTYPE_CODES
        if not allowed:
            raise ModelFormatError(f"{where}: member {info.filename!r} has unsupported dtype {dtype}")
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size - member.tell() != nbytes:
            raise ModelFormatError(f"{where}: member {info.filename!r} of shape {shape} and dtype {dtype} "
                                   f"needs {nbytes} bytes, it holds {info.file_size - member.tell()}")
        data = member.read(nbytes)
    if len(data) != nbytes:
        raise ModelFormatError(f"{where}: member {info.filename!r} is truncated")
    array = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")
    if dtype.kind == "b" and array.size and array.view(np.uint8).max() > 1:
        raise ModelFormatError(f"{where}: member {info.filename!r} has BOOL bytes other than 0 and 1")
    return name, array.astype(dtype.newbyteorder("="), order="C", copy=True)


def read_npz(path, metadata_only=False):
    """``({name: array}, {str: str} metadata)`` of an ``.npz`` (only the metadata: ``({}, metadata)``)."""
    path = os.fspath(path)
    file_size = os.path.getsize(path)
    tensors, metadata = {}, None
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise ModelFormatError(f"{path}: unexpected member {info.filename!r} (not a .npy)")
                if metadata_only and info.filename != _NPZ_METADATA + ".npy":
                    continue
                name, array = _read_npy_member(archive, info, file_size, path)
                if name in tensors or (name == _NPZ_METADATA and metadata is not None):
                    raise ModelFormatError(f"{path}: duplicate member {info.filename!r}")
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
