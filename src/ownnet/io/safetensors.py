"""The safetensors format: ``write_tensors(path, {name: array}, metadata)`` and ``read_tensors(path)``.

A safetensors file is an 8-byte little-endian header length, a UTF-8 JSON header naming each tensor's
dtype, shape and byte range (plus ``__metadata__``, an object of strings), then the raw little-endian
bytes of the tensors, one after the other (see docs/model-format.md). Reading checks every entry of
the header against the file's size before anything is allocated, and every problem with the content
raises ``ModelFormatError``. The JSON is parsed strictly (no duplicate keys, no NaN), as the
other readers of ownnet's files (``npz``, ``modelfile``) do too.
"""

import json
import math
import os

import numpy as np

from ownnet.files import atomic_write, open_regular_file

__all__ = ["MAX_HEADER_BYTES", "ModelFormatError", "read_tensors", "write_tensors"]

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""A header longer than this is refused (the safetensors library uses the same limit)."""

# safetensors dtype codes -> little-endian NumPy dtypes (BF16 and FP8 have no NumPy dtype)
DTYPES = {
    "BOOL": np.dtype("|b1"), "U8": np.dtype("|u1"), "I8": np.dtype("|i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
}
DTYPE_CODES = {dtype: code for code, dtype in DTYPES.items()}


class ModelFormatError(ValueError):
    """A file's content is not a valid model or tensor file (the message says what and where)."""


# --- tensors: writing ----------------------------------------------------------------------------
def _to_numpy(value, name):
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    if hasattr(value, "get") and hasattr(value, "shape"):  # a CuPy array: copy it to the host
        return value.get()
    raise TypeError(f"tensors[{name!r}]: expected an array, got {type(value).__name__}")


def _little_endian(array, name):
    dtype = array.dtype.newbyteorder("<")
    if dtype not in DTYPE_CODES:
        raise TypeError(
            f"tensors[{name!r}]: dtype {array.dtype} cannot be stored; "
            f"expected one of {sorted(str(d) for d in DTYPE_CODES)}"
        )
    return np.asarray(array, dtype=dtype, order="C")  # (ascontiguousarray would make a 0-d array 1-d)


def check_metadata_argument(metadata, name="metadata"):
    """A copy of ``metadata`` (``{}`` for None); a ``TypeError`` unless it maps strings to strings."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError(f"{name}: expected a dict of str to str, got {metadata!r:.200}")
    return dict(metadata)


def check_tensors_argument(tensors):
    """``{name: array}`` -> ``{name: C-contiguous little-endian NumPy array}``, ready to be written."""
    if not isinstance(tensors, dict):
        raise TypeError(f"tensors: expected a dict of name to array, got {type(tensors).__name__}")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"tensors: names must be non-empty strings other than '__metadata__', "
                             f"got {name!r}")
        arrays[name] = _little_endian(_to_numpy(value, name), name)
    return arrays


def write_tensors(path, tensors, metadata=None):
    """Write ``{name: array}`` and ``{str: str}`` metadata as one safetensors file, atomically.

    Any tool that reads safetensors reads it. Returns ``path`` as a string.
    """
    arrays = check_tensors_argument(tensors)
    metadata = check_metadata_argument(metadata)
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, array in arrays.items():
        header[name] = {"dtype": DTYPE_CODES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    encoded = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the tensor data starts 8-byte aligned
    path = os.fspath(path)
    with atomic_write(path) as file:
        file.write(len(encoded).to_bytes(8, "little"))
        file.write(encoded)
        for array in arrays.values():
            if array.size:
                file.write(array.reshape(-1).view(np.uint8))
    return path


# --- tensors: reading ----------------------------------------------------------------------------
def _json_object(pairs):
    """A JSON object that refuses duplicate keys (which JSON parsers resolve differently)."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise ModelFormatError(f"duplicate key {key!r} in the JSON")
        result[key] = value
    return result


def _reject_constant(constant):
    raise ModelFormatError(f"invalid JSON constant {constant}")


def parse_json(text, what):
    """``json.loads`` that raises ``ModelFormatError``, refuses duplicate keys and NaN / Infinity."""
    try:
        return json.loads(text, object_pairs_hook=_json_object, parse_constant=_reject_constant)
    except ModelFormatError:
        raise
    except (ValueError, RecursionError) as error:  # also ints of more than 4300 digits
        raise ModelFormatError(f"{what} is not valid JSON ({type(error).__name__}: {error})") from None


def _read_header(file, file_size, where):
    """The parsed JSON header and the offset where the tensor bytes start."""
    if file_size < 8:
        raise ModelFormatError(f"{where}: {file_size} bytes, too short for the 8-byte header length")
    length = int.from_bytes(file.read(8), "little")
    if length > MAX_HEADER_BYTES:
        raise ModelFormatError(f"{where}: header length {length} exceeds the limit of {MAX_HEADER_BYTES}"
                               f" bytes (not a safetensors file?)")
    if length > file_size - 8:
        raise ModelFormatError(f"{where}: header length {length} is larger than the rest of the file "
                               f"({file_size - 8} bytes): truncated or not a safetensors file")
    raw = file.read(length)
    if len(raw) != length:
        raise ModelFormatError(f"{where}: truncated header")
    if not raw.startswith(b"{"):
        raise ModelFormatError(f"{where}: the header does not start with '{{' (not a safetensors file?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFormatError(f"{where}: the header is not valid UTF-8 ({error})") from None
    header = parse_json(text, f"{where}: the header")
    if not isinstance(header, dict):
        raise ModelFormatError(f"{where}: the header must be a JSON object")
    return header, 8 + length


def is_int(value):
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def shape_fits_numpy(shape, itemsize):
    """Whether NumPy can allocate an array of ``shape`` (non-negative ints) and ``itemsize``: every size
    and the byte count of the non-zero sizes fit in a signed ``intp``, as ``np.empty`` requires even
    for an array of 0 elements (``np.empty((0, 2**63))`` raises "Maximum allowed dimension exceeded")."""
    largest = np.iinfo(np.intp).max
    return all(d <= largest for d in shape) and math.prod(max(d, 1) for d in shape) * itemsize <= largest


def _check_header(header, data_size, where):
    """Validate every entry against the data size, before anything is allocated.

    Returns ``(metadata, [(name, dtype, shape, begin, end)])`` in file order.
    """
    metadata = header.get("__metadata__")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFormatError(f"{where}: '__metadata__' must be an object of string values")
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ModelFormatError(f"{where}: tensor {name!r} must have exactly 'dtype', 'shape' and "
                                   f"'data_offsets', got {info!r:.200}")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in DTYPES:
            raise ModelFormatError(f"{where}: tensor {name!r} has unsupported dtype {code!r} "
                                   f"(supported: {', '.join(DTYPES)})")
        if (not isinstance(shape, list) or len(shape) > 64
                or not all(is_int(d) and d >= 0 for d in shape)):
            raise ModelFormatError(f"{where}: tensor {name!r} has an invalid shape {shape!r:.200} "
                                   f"(expected a list of at most 64 non-negative integers)")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(map(is_int, offsets))
                or not 0 <= offsets[0] <= offsets[1]):
            raise ModelFormatError(f"{where}: tensor {name!r} has invalid data_offsets {offsets!r:.200}")
        begin, end = offsets
        dtype = DTYPES[code]
        nbytes = math.prod(shape) * dtype.itemsize  # Python integers: no overflow for huge shapes
        if end - begin != nbytes:
            raise ModelFormatError(f"{where}: tensor {name!r} of shape {shape} and dtype {code} needs "
                                   f"{nbytes} bytes, its data_offsets span {end - begin}")
        if not shape_fits_numpy(shape, dtype.itemsize):
            raise ModelFormatError(f"{where}: tensor {name!r} has shape {shape!r:.200}, too large for an "
                                   f"array (NumPy sizes are below 2**63 bytes, zero-size arrays included)")
        if end > data_size:
            raise ModelFormatError(f"{where}: tensor {name!r} ends at byte {end} of the data, which has "
                                   f"only {data_size} bytes (truncated file?)")
        entries.append((name, dtype, tuple(shape), begin, end))
    position = 0
    for name, _, _, begin, end in sorted(entries, key=lambda entry: (entry[3], entry[4])):
        if begin != position:
            problem = "overlaps the previous tensor" if begin < position else "leaves a gap before it"
            raise ModelFormatError(f"{where}: tensor {name!r} starts at byte {begin}, which {problem} "
                                   f"(expected {position})")
        position = end
    if position != data_size:
        raise ModelFormatError(f"{where}: {data_size - position} bytes after the last tensor "
                               f"(expected the tensors to fill the file)")
    return dict(metadata), entries


def open_checked(path):
    """Open a safetensors file and validate its header; returns (file, metadata, entries, data start)."""
    path = os.fspath(path)
    file = open_regular_file(path, ModelFormatError)  # a FIFO or a device: refused, never waited on
    try:
        size = os.fstat(file.fileno()).st_size
        header, start = _read_header(file, size, path)
        metadata, entries = _check_header(header, size - start, path)
    except BaseException:
        file.close()
        raise
    return file, metadata, entries, start


def read_tensors(path):
    """Read a safetensors file: ``({name: array}, {str: str} metadata)``.

    The arrays are new, writable, aligned, native-endian copies. Raises ``ModelFormatError`` for
    any problem with the content (checked before any tensor is allocated) and ``FileNotFoundError``
    when there is no file.
    """
    file, metadata, entries, start = open_checked(path)
    tensors = {}
    with file:
        for name, dtype, shape, begin, end in entries:
            array = np.empty(shape, dtype)
            if end > begin:
                file.seek(start + begin)
                if file.readinto(array.reshape(-1).view(np.uint8)) != end - begin:
                    raise ModelFormatError(f"{path}: tensor {name!r} is truncated")
                if dtype.kind == "b" and array.view(np.uint8).max() > 1:
                    raise ModelFormatError(f"{path}: tensor {name!r} has BOOL bytes other than 0 and 1")
            tensors[name] = array.astype(dtype.newbyteorder("="), copy=False)
    return tensors, metadata
