"""Model files: ``save(model, path)`` and ``load(path)``, without pickle.

A model file is one safetensors file (see docs/model-format.md): an 8-byte little-endian header
length, a UTF-8 JSON header naming each tensor's dtype, shape and byte range, then the raw
little-endian bytes. The header's ``__metadata__`` holds the architecture as JSON (class names and
constructor configs), so ``load`` rebuilds the model from ``ownnet.nn.module.MODULES`` and copies the
weights in. Reading a file never executes code from it, and every problem with its content raises
``ModelFormatError`` before anything large is allocated.

Lower level, for checkpoints: ``write_tensors``/``read_tensors`` (any named arrays plus string
metadata) and ``atomic_write`` (write to a temporary file, then rename it into place).
"""

import contextlib
import json
import math
import os
import secrets
import zipfile

import numpy as np

from ownnet import backend
from ownnet.nn.module import MODULES, Module

__all__ = ["ModelFormatError", "atomic_write", "load", "read_metadata", "read_tensors", "save",
           "write_tensors"]

FORMAT_NAME = "ownnet"
FORMAT_VERSION = "1"
MAX_HEADER_BYTES = 100 * 1024 * 1024
"""A header longer than this is refused (the safetensors library uses the same limit)."""
_MAX_DEPTH = 200
_NPZ_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_NPZ_METADATA = "__metadata__"
_RESERVED_METADATA = ("format", "format_version", "architecture")

# safetensors dtype codes -> little-endian NumPy dtypes (BF16 and FP8 have no NumPy dtype)
_DTYPES = {
    "BOOL": np.dtype("|b1"), "U8": np.dtype("|u1"), "I8": np.dtype("|i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
}
_CODES = {dtype: code for code, dtype in _DTYPES.items()}


class ModelFormatError(ValueError):
    """A file's content is not a valid model or tensor file (the message says what and where)."""


# --- atomic writes -------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_write(path):
    """Yield a binary file object for a temporary file next to ``path`` (``.<name>.tmp-<random>``);
    on success it is flushed, fsync'ed and renamed over ``path`` (``os.replace``, atomic), so a
    reader sees either the old file or the complete new one. On an exception the temporary file is
    removed and the previous ``path`` is left untouched."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = os.path.join(folder, f".{name}.tmp-{secrets.token_hex(8)}")
        try:
            descriptor = os.open(temporary, flags, 0o666)  # 0o666 & ~umask, as open() would
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


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
    if dtype not in _CODES:
        raise TypeError(
            f"tensors[{name!r}]: dtype {array.dtype} cannot be stored; "
            f"expected one of {sorted(str(d) for d in _CODES)}"
        )
    return np.asarray(array, dtype=dtype, order="C")  # (ascontiguousarray would make a 0-d array 1-d)


def _check_metadata_argument(metadata, name="metadata"):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError(f"{name}: expected a dict of str to str, got {metadata!r:.200}")
    return dict(metadata)


def _check_tensors_argument(tensors):
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
    arrays = _check_tensors_argument(tensors)
    metadata = _check_metadata_argument(metadata)
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, array in arrays.items():
        header[name] = {"dtype": _CODES[array.dtype], "shape": list(array.shape),
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


def _parse_json(text, what):
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
    header = _parse_json(text, f"{where}: the header")
    if not isinstance(header, dict):
        raise ModelFormatError(f"{where}: the header must be a JSON object")
    return header, 8 + length


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


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
        if code not in _DTYPES:
            raise ModelFormatError(f"{where}: tensor {name!r} has unsupported dtype {code!r} "
                                   f"(supported: {', '.join(_DTYPES)})")
        if (not isinstance(shape, list) or len(shape) > 64
                or not all(_is_int(d) and d >= 0 for d in shape)):
            raise ModelFormatError(f"{where}: tensor {name!r} has an invalid shape {shape!r:.200} "
                                   f"(expected a list of at most 64 non-negative integers)")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_int, offsets))
                or not 0 <= offsets[0] <= offsets[1]):
            raise ModelFormatError(f"{where}: tensor {name!r} has invalid data_offsets {offsets!r:.200}")
        begin, end = offsets
        dtype = _DTYPES[code]
        nbytes = math.prod(shape) * dtype.itemsize  # Python integers: no overflow for huge shapes
        if end - begin != nbytes:
            raise ModelFormatError(f"{where}: tensor {name!r} of shape {shape} and dtype {code} needs "
                                   f"{nbytes} bytes, its data_offsets span {end - begin}")
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


def _open_checked(path):
    """Open a safetensors file and validate its header; returns (file, metadata, entries, data start)."""
    path = os.fspath(path)
    file = open(path, "rb")
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
    file, metadata, entries, start = _open_checked(path)
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


# --- npz (NumPy's zip of .npy files), read without pickle ------------------------------------------
def _write_npz(path, arrays, metadata):
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
        allowed = dtype.kind == "U" if name == _NPZ_METADATA else dtype.newbyteorder("<") in _CODES
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


def _read_npz(path, metadata_only=False):
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
                    metadata = _parse_json(str(array[()]) if array.ndim == 0 else "", f"{path}: metadata")
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


# --- models --------------------------------------------------------------------------------------
def _architecture(module):
    """``{"type", "config", "children"}``: the module tree, JSON-serialisable."""
    name = type(module).__name__
    if MODULES.get(name) is not type(module):
        raise ValueError(f"save: {name} is not a registered Module class (ownnet.nn.module.MODULES), "
                         f"so a file could not rebuild it")
    config = module.get_config()
    try:
        json.dumps(config)
    except (TypeError, ValueError) as error:
        raise TypeError(f"save: the config of {module.label} is not JSON-serialisable ({error})") from None
    node = {"type": name, "config": config}
    if module.children():
        node["children"] = [_architecture(child) for child in module.children()]
    return node


def _containers():
    from ownnet.nn.containers import Concat, Residual, Sequential

    return Sequential, Residual, Concat


def save(model, path, format="safetensors", metadata=None):
    """Write ``model`` (architecture, parameters and buffers) to ``path``; returns the path written.

    ``format="safetensors"`` (default, readable by the safetensors library) adds ``.safetensors``
    to a path without an extension; ``format="npz"`` writes a NumPy ``.npz`` (adds ``.npz``).
    ``metadata``: extra ``{str: str}`` stored in the file. The write is atomic.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save: expected a Module, got {type(model).__name__}")
    if format not in ("safetensors", "npz"):
        raise ValueError(f"format: expected 'safetensors' or 'npz', got {format!r}")
    metadata = _check_metadata_argument(metadata)
    clash = sorted(set(metadata) & set(_RESERVED_METADATA))
    if clash:
        raise ValueError(f"metadata: the keys {clash} are reserved by the model format")
    path = os.fspath(path)
    if not os.path.splitext(path)[1]:
        path += "." + format
    metadata.update(format=FORMAT_NAME, format_version=FORMAT_VERSION,
                    architecture=json.dumps(_architecture(model), separators=(",", ":")))
    tensors = model.state_dict()
    if format == "npz":
        return _write_npz(path, _check_tensors_argument(tensors), metadata)
    return write_tensors(path, tensors, metadata)


def _sniff(path):
    """``"npz"`` or ``"safetensors"`` from the first bytes; an error for anything else."""
    with open(path, "rb") as file:
        head = file.read(9)
    if len(head) == 9 and head[8:9] == b"{":  # first: a header length can begin with 0x80 or "PK"
        return "safetensors"
    if head[:4] in _NPZ_MAGICS:
        return "npz"
    if head[:1] == b"\x80":
        raise ModelFormatError(f"{path}: looks like a pickle; ownnet never unpickles "
                               f"(model files are safetensors or .npz)")
    if head[:6] == b"\x93NUMPY":
        raise ModelFormatError(f"{path}: a single .npy array, not a model file")
    if len(head) == 9 and head[8:9] != b"{":
        raise ModelFormatError(f"{path}: not a model file (neither safetensors nor .npz)")
    return "safetensors"


def read_metadata(path):
    """The ``{str: str}`` metadata of a model or tensor file, without reading the tensors."""
    path = os.fspath(path)
    if _sniff(path) == "npz":
        return _read_npz(path, metadata_only=True)[1]
    file, metadata, _, _ = _open_checked(path)
    file.close()
    return metadata


def load(path, device=None):
    """Rebuild the model saved in ``path`` (safetensors or .npz, detected from the first bytes).

    Returns the model, in training mode as a new model is (call ``model.eval()`` for inference), with
    the stored dtype, on ``device`` (``"cpu"`` or ``"gpu"``; default: the backend's). A file saved from
    either device loads on either. Raises ``ModelFormatError`` for every problem with the file's content.
    """
    path = os.fspath(path)
    device = backend.default_device() if device is None else backend.resolve_device(device)
    if _sniff(path) == "npz":
        tensors, metadata = _read_npz(path)
    else:
        tensors, metadata = read_tensors(path)
    model = _model_from(tensors, metadata, path)
    return model if model.device == device else model.to(device)


def _register_builtin_layers():
    """Import every built-in layer module so that ``MODULES`` knows each class a file may name."""
    import importlib
    import pkgutil

    from ownnet import nn as layers

    for info in pkgutil.iter_modules(layers.__path__):
        importlib.import_module(f"{layers.__name__}.{info.name}")


def _model_from(tensors, metadata, where):
    if metadata.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{where}: not an ownnet model (metadata 'format' is "
                               f"{metadata.get('format')!r}); read_tensors() reads any tensor file")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(f"{where}: unsupported format_version {metadata.get('format_version')!r} "
                               f"(this ownnet reads version {FORMAT_VERSION})")
    if "architecture" not in metadata:
        raise ModelFormatError(f"{where}: the metadata has no 'architecture'")
    architecture = _parse_json(metadata["architecture"], f"{where}: the architecture")
    _register_builtin_layers()
    float_dtypes = {array.dtype for array in tensors.values() if array.dtype.kind == "f"}
    if len(float_dtypes) > 1:
        raise ModelFormatError(f"{where}: the tensors mix float dtypes {sorted(map(str, float_dtypes))}")
    try:
        dtype = backend.resolve_dtype(float_dtypes.pop() if float_dtypes else None)
    except TypeError as error:
        raise ModelFormatError(f"{where}: unsupported tensor dtype ({error})") from None

    from ownnet.nn import init

    rng_state, default_dtype = init.rng().bit_generator.state, backend.get_default_dtype()
    try:  # building draws initial weights: keep the user's seeded generator and default dtype as they were
        backend.set_default_dtype(dtype)
        model = _build(architecture, "model", 0, where, tensors)
    finally:
        backend.set_default_dtype(default_dtype)
        init.rng().bit_generator.state = rng_state
    if any(array.dtype.kind == "f" and array.dtype != dtype for array in model.state_dict().values()):
        model.to(dtype)
    _load_weights(model, tensors, where)
    return model


def _build(node, position, depth, where, tensors):
    """Rebuild one node of the architecture tree (containers from their rebuilt children)."""
    if depth > _MAX_DEPTH:
        raise ModelFormatError(f"{where}: the architecture is nested more than {_MAX_DEPTH} levels deep")
    if not isinstance(node, dict) or not {"type", "config"} <= set(node) <= {"type", "config", "children"}:
        raise ModelFormatError(f"{where}: {position} must be an object with 'type', 'config' and optional "
                               f"'children', got {node!r:.200}")
    name, config, children = node["type"], node["config"], node.get("children", [])
    if not isinstance(name, str) or not isinstance(config, dict) or not isinstance(children, list):
        raise ModelFormatError(f"{where}: {position} has a malformed type, config or children")
    cls = MODULES.get(name)
    if cls is None:
        raise ModelFormatError(f"{where}: unknown layer type {name!r} at {position} (known: "
                               f"{', '.join(sorted(MODULES))}; import the module that defines it first)")
    _check_declared_shapes(cls, config, position, where, tensors)
    built = [_build(child, f"{position}.{index}", depth + 1, where, tensors)
             for index, child in enumerate(children)]
    takes_children = issubclass(cls, _containers())
    try:
        module = cls(*built, **config) if takes_children else cls(**config)
    except Exception as error:  # a bad config: the constructor's TypeError/ValueError/MemoryError
        raise ModelFormatError(f"{where}: cannot rebuild {name} at {position} from config "
                               f"{config!r:.200} ({type(error).__name__}: {error})") from None
    if not takes_children:  # a module that builds its own children must build the stored ones
        stored, rebuilt = [_stored_types(child) for child in children], _module_types(module)[1]
        if stored != rebuilt:
            raise ModelFormatError(f"{where}: {name} at {position} rebuilds the children {rebuilt}, "
                                   f"the file lists {stored}")
    return module


def _check_declared_shapes(cls, config, position, where, tensors):
    """Refuse a config whose parameters would not match the file's tensors, before the constructor runs
    (a config asking for Linear(10**6, 10**6) would otherwise allocate terabytes first)."""
    if "state_shapes" not in vars(cls):
        return  # the class cannot tell; its constructor runs (user-defined layers are trusted code)
    try:
        shapes = cls.state_shapes(config)
    except Exception as error:
        raise ModelFormatError(f"{where}: invalid config {config!r:.200} for {cls.__name__} at {position} "
                               f"({type(error).__name__}: {error})") from None
    prefix, shapes = ("" if position == "model" else position[len("model."):] + "."), shapes or {}
    missing = sorted(prefix + name for name in shapes if prefix + name not in tensors)
    if missing:
        own = [key for key in tensors if key.startswith(prefix) and "." not in key[len(prefix):]]
        extra = sorted(key for key in own if key[len(prefix):] not in shapes)
        raise ModelFormatError(f"{where}: the tensors do not match the architecture: missing {missing[:10]}, "
                               f"unexpected {extra[:10]} (for {cls.__name__} at {position})")
    for name, shape in shapes.items():
        stored = tensors[prefix + name]
        if not all(_is_int(d) for d in shape) or tuple(shape) != stored.shape:
            raise ModelFormatError(f"{where}: cannot rebuild {cls.__name__} at {position} from config "
                                   f"{config!r:.200}: it implies tensor {prefix + name!r} of shape "
                                   f"{tuple(shape)!r:.100}, the file has {stored.shape}")


def _stored_types(node):
    """The type tree of an (already validated) architecture node: ``[type, [children...]]``."""
    return [node["type"], [_stored_types(child) for child in node.get("children", [])]]


def _module_types(module):
    return [type(module).__name__, [_module_types(child) for child in module.children()]]


def _load_weights(model, tensors, where):
    own = model.state_dict()
    missing, extra = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    if missing or extra:
        raise ModelFormatError(f"{where}: the tensors do not match the architecture: missing "
                               f"{missing[:10]}, unexpected {extra[:10]}")
    for name, target in own.items():
        source = tensors[name]
        if source.shape != tuple(target.shape) or source.dtype != target.dtype:
            raise ModelFormatError(f"{where}: tensor {name!r} has shape {source.shape} and dtype "
                                   f"{source.dtype}, the architecture expects {tuple(target.shape)} "
                                   f"and {target.dtype}")
    model.load_state_dict({name: backend.xp.asarray(array) for name, array in tensors.items()})
