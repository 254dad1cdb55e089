"""Model files: ``save(model, path)`` and ``load(path)``, the architecture and the weights in one file.

The file is a safetensors file (or an ``.npz``) whose metadata holds ``format``, ``format_version`` and
``architecture``: the module tree as JSON (class names and constructor configs). ``load`` rebuilds the
model from ``ownnet.nn.module.MODULES`` (the registry every ``Module`` subclass joins) and copies the
weights in. Nothing from the file is ever executed, and a config that would build tensors other than
the stored ones is refused before its constructor runs.
"""

import importlib
import json
import os
import pkgutil

from ownnet import backend, nn
from ownnet.files import open_regular_file
from ownnet.io.npz import NPZ_MAGICS, read_npz, write_npz
from ownnet.io.safetensors import (
    ModelFormatError,
    check_metadata_argument,
    check_tensors_argument,
    is_int,
    open_checked,
    parse_json,
    read_tensors,
    write_tensors,
)
from ownnet.nn import init
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.module import MODULES, Module

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "read_metadata", "save"]

FORMAT_NAME = "ownnet"
FORMAT_VERSION = "1"
_MAX_DEPTH = 200
_RESERVED_METADATA = ("format", "format_version", "architecture")
_CONTAINERS = (Sequential, Residual, Concat)
"""The classes built from their stored children (any other module builds its own children)."""


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
    metadata = check_metadata_argument(metadata)
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
        return write_npz(path, check_tensors_argument(tensors), metadata)
    return write_tensors(path, tensors, metadata)


def _sniff(path):
    """``"npz"`` or ``"safetensors"`` from the first bytes; an error for anything else (a FIFO, a device
    or a folder included: ``ModelFormatError`` at once instead of a read that never ends)."""
    with open_regular_file(path, ModelFormatError) as file:
        head = file.read(9)
    if len(head) == 9 and head[8:9] == b"{":  # first: a header length can begin with 0x80 or "PK"
        return "safetensors"
    if head[:4] in NPZ_MAGICS:
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
        return read_npz(path, metadata_only=True)[1]
    file, metadata, _, _ = open_checked(path)
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
        tensors, metadata = read_npz(path)
    else:
        tensors, metadata = read_tensors(path)
    model = _model_from(tensors, metadata, path)
    return model if model.device == device else model.to(device)


def _register_builtin_layers():
    """Import every built-in layer module so that ``MODULES`` knows each class a file may name."""
    for info in pkgutil.iter_modules(nn.__path__):
        importlib.import_module(f"{nn.__name__}.{info.name}")


def _model_from(tensors, metadata, where):
    if metadata.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{where}: not an ownnet model (metadata 'format' is "
                               f"{metadata.get('format')!r}); read_tensors() reads any tensor file")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(f"{where}: unsupported format_version {metadata.get('format_version')!r} "
                               f"(this ownnet reads version {FORMAT_VERSION})")
    if "architecture" not in metadata:
        raise ModelFormatError(f"{where}: the metadata has no 'architecture'")
    architecture = parse_json(metadata["architecture"], f"{where}: the architecture")
    _register_builtin_layers()
    float_dtypes = {array.dtype for array in tensors.values() if array.dtype.kind == "f"}
    if len(float_dtypes) > 1:
        raise ModelFormatError(f"{where}: the tensors mix float dtypes {sorted(map(str, float_dtypes))}")
    try:
        dtype = backend.resolve_dtype(float_dtypes.pop() if float_dtypes else None)
    except TypeError as error:
        raise ModelFormatError(f"{where}: unsupported tensor dtype ({error})") from None
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
    takes_children = issubclass(cls, _CONTAINERS)
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
        if not all(is_int(d) for d in shape) or tuple(shape) != stored.shape:
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
