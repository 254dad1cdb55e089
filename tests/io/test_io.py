import json
import os
import pickle
import time
import zipfile

import numpy as np
import pytest

from ownnet import backend
from ownnet.io import (
    ModelFormatError,
    atomic_write,
    load,
    read_metadata,
    read_tensors,
    save,
    write_tensors,
)
from ownnet.nn import init
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.linear import Linear
from ownnet.nn.module import Module

try:
    from ownnet.nn.activations import ReLU, Tanh
except ImportError:  # written concurrently; the tests below fall back to Linear-only models
    ReLU = Tanh = None
try:
    from ownnet.nn.regularization import BatchNorm1d, Dropout
except ImportError:
    BatchNorm1d = Dropout = None


class IoTestBlock(Module):
    """A user-defined block that builds its own children from its config (not a container)."""

    def __init__(self, width):
        super().__init__()
        self.width = width
        self.inner = self.add_child(Sequential(Linear(width, width), Linear(width, width)))

    def forward(self, x):
        return self.inner.forward(x) * 0.5

    def get_config(self):
        return {"width": self.width}


def _activation():
    return ReLU() if ReLU is not None else Linear(4, 4)


def _models():
    models = {
        "linear": lambda: Linear(3, 4),
        "sequential": lambda: Sequential(Linear(3, 4), _activation(), Linear(4, 2, bias=False)),
        "residual_concat": lambda: Sequential(
            Linear(3, 4), Residual(Sequential(Linear(4, 4), _activation(), Linear(4, 4))),
            Concat(Linear(4, 2), Sequential(Linear(4, 3), _activation())), Linear(5, 2)),
        "custom_block": lambda: Sequential(Linear(3, 4), IoTestBlock(4)),
    }
    if BatchNorm1d is not None:
        models["batchnorm"] = lambda: Sequential(Linear(3, 4), BatchNorm1d(4), Tanh(), Dropout(0.3),
                                                 Linear(4, 2))
    return models


def _trained_copy(factory, dtype):
    """A model in ``dtype`` with non-default weights and (for BatchNorm) updated running statistics."""
    model = factory().to(dtype)
    rng = np.random.default_rng(0)
    for name, array in model.state_dict().items():
        values = rng.normal(size=array.shape)
        if "running_var" in name:
            values = np.abs(values) + 0.5
        array[...] = backend.to_device(values, backend.device_of(array))  # GPU arrays under OWNNET_BACKEND
    model.train()
    model(rng.normal(size=(8, 3)))  # BatchNorm updates its running statistics here
    return model.eval()


def _inputs(dtype):
    return np.random.default_rng(1).normal(size=(6, 3)).astype(dtype)


# --- round trips --------------------------------------------------------------------------------------
@pytest.mark.parametrize("format", ["safetensors", "npz"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(_models()))
def test_round_trip_is_exact(tmp_path, name, dtype, format):
    model = _trained_copy(_models()[name], dtype)
    path = save(model, tmp_path / "model", format=format)
    loaded = load(path).eval()
    assert type(loaded) is type(model)
    assert repr(loaded) == repr(model)
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert list(loaded_state) == list(state)
    for key in state:
        assert loaded_state[key].dtype == state[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loaded_state[key], state[key])
    x = _inputs(dtype)
    expected, got = model(x), loaded(x)
    assert got.dtype == np.dtype(dtype)
    assert np.array_equal(got, expected)  # bit-identical predictions


@pytest.mark.skipif(BatchNorm1d is None, reason="BatchNorm1d not written yet")
def test_batchnorm_running_statistics_round_trip(tmp_path):
    model = Sequential(Linear(3, 4), BatchNorm1d(4))
    model(np.random.default_rng(0).normal(5.0, 2.0, size=(16, 3)))
    running = {k: v.copy() for k, v in model.state_dict().items() if "running" in k}
    assert not np.allclose(running["1.running_mean"], 0)
    loaded = load(save(model, tmp_path / "bn"))
    for key, value in running.items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)


def test_save_returns_path_and_adds_extension(tmp_path):
    model = Linear(2, 2)
    assert save(model, tmp_path / "a") == str(tmp_path / "a.safetensors")
    assert save(model, str(tmp_path / "b"), format="npz") == str(tmp_path / "b.npz")
    assert save(model, tmp_path / "c.bin") == str(tmp_path / "c.bin")
    assert sorted(os.listdir(tmp_path)) == ["a.safetensors", "b.npz", "c.bin"]  # no temporary files


def test_load_detects_format_from_bytes_not_extension(tmp_path):
    model = _trained_copy(_models()["sequential"], "float32")
    npz_named_safetensors = save(model, tmp_path / "x.safetensors", format="npz")
    safetensors_named_npz = save(model, tmp_path / "y.npz", format="safetensors")
    for path in (npz_named_safetensors, safetensors_named_npz):
        np.testing.assert_array_equal(load(path)(_inputs("float32")), model(_inputs("float32")))


def test_loaded_arrays_are_owned_writable_aligned(tmp_path):
    path = save(_trained_copy(_models()["sequential"], "float32"), tmp_path / "m")
    tensors, metadata = read_tensors(path)
    assert metadata["format"] == "ownnet" and metadata["format_version"] == "1"
    for array in list(tensors.values()) + list(load(path).state_dict().values()):
        assert array.flags.writeable and array.flags.aligned and array.flags.owndata


def test_user_metadata_is_stored_and_reserved_keys_refused(tmp_path):
    path = save(Linear(2, 2), tmp_path / "m", metadata={"author": "me", "epoch": "3"})
    metadata = read_metadata(path)
    assert metadata["author"] == "me" and metadata["epoch"] == "3"
    assert json.loads(metadata["architecture"])["type"] == "Linear"
    assert read_metadata(save(Linear(2, 2), tmp_path / "n", format="npz", metadata={"a": "b"}))["a"] == "b"
    with pytest.raises(ValueError, match="reserved"):
        save(Linear(2, 2), tmp_path / "m", metadata={"format": "x"})
    with pytest.raises(TypeError, match="metadata"):
        save(Linear(2, 2), tmp_path / "m", metadata={"epoch": 3})


def test_save_errors(tmp_path):
    class _Unregistered(Module):  # a leading underscore keeps it out of MODULES
        pass

    with pytest.raises(TypeError, match="Module"):
        save({"w": np.zeros(2)}, tmp_path / "m")
    with pytest.raises(ValueError, match="format"):
        save(Linear(2, 2), tmp_path / "m", format="pickle")
    with pytest.raises(ValueError, match="_Unregistered"):
        save(Sequential(_Unregistered()), tmp_path / "m")


def test_loading_keeps_the_seeded_generator_and_default_dtype(tmp_path):
    path = save(_trained_copy(_models()["sequential"], "float64"), tmp_path / "m")
    init.manual_seed(123)
    expected = Linear(3, 3).weight.data.copy()
    init.manual_seed(123)
    assert load(path).dtype == np.float64
    assert backend.get_default_dtype() == np.float32
    np.testing.assert_array_equal(Linear(3, 3).weight.data, expected)


def test_file_not_found_stays_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError):
        read_tensors(tmp_path / "missing.safetensors")


# --- safetensors interoperability ------------------------------------------------------------------------
def test_safetensors_library_reads_our_files(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], dtype=np.int64),
               "c": np.array([True, False]), "d": np.zeros((0, 3), np.float64), "e": np.float16(1.5)}
    path = write_tensors(tmp_path / "t.safetensors", tensors, {"k": "v"})
    theirs = st.load_file(path)
    assert set(theirs) == set(tensors)
    for name, value in tensors.items():
        assert theirs[name].dtype == value.dtype
        np.testing.assert_array_equal(theirs[name], value)
    model = _trained_copy(_models()["residual_concat"], "float32")
    theirs = st.load_file(save(model, tmp_path / "m"))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(theirs[name], value)


def test_we_read_safetensors_library_files(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    model = _trained_copy(_models()["residual_concat"], "float64")
    metadata = read_metadata(save(model, tmp_path / "ours"))
    path = tmp_path / "theirs.safetensors"
    st.save_file({k: np.ascontiguousarray(v) for k, v in model.state_dict().items()}, path, metadata=metadata)
    np.testing.assert_array_equal(load(path)(_inputs("float64")), model(_inputs("float64")))
    st.save_file({"x": np.arange(5, dtype=np.int32)}, tmp_path / "plain.safetensors")
    tensors, plain_metadata = read_tensors(tmp_path / "plain.safetensors")
    assert plain_metadata == {} and tensors["x"].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ModelFormatError, match="not an ownnet model"):
        load(tmp_path / "plain.safetensors")


# --- write_tensors / read_tensors ---------------------------------------------------------------------
def test_tensor_round_trip_keeps_dtypes_and_byte_order(tmp_path):
    tensors = {"f": np.arange(4, dtype=">f4"), "u": np.arange(3, dtype=np.uint16),
               "scalar": np.array(2.5), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3))}
    got, metadata = read_tensors(write_tensors(tmp_path / "t", tensors, None))
    assert metadata == {}
    assert got["f"].dtype == np.float32 and got["f"].dtype.isnative
    for name, value in tensors.items():
        np.testing.assert_array_equal(got[name], value)
        assert got[name].shape == value.shape


def test_write_tensors_errors(tmp_path):
    with pytest.raises(TypeError, match="tensors"):
        write_tensors(tmp_path / "t", [np.zeros(2)], {})
    with pytest.raises(TypeError, match="dtype"):
        write_tensors(tmp_path / "t", {"o": np.array([object()])}, {})
    with pytest.raises(TypeError, match="dtype"):
        write_tensors(tmp_path / "t", {"s": np.array(["text"])}, {})
    with pytest.raises(ValueError, match="__metadata__"):
        write_tensors(tmp_path / "t", {"__metadata__": np.zeros(2)}, {})
    with pytest.raises(TypeError, match="metadata"):
        write_tensors(tmp_path / "t", {"a": np.zeros(2)}, {"k": 1})
    assert not os.listdir(tmp_path)


# --- atomic writes --------------------------------------------------------------------------------------
def test_atomic_write_failure_keeps_previous_file(tmp_path):
    model = _trained_copy(_models()["sequential"], "float32")
    path = save(model, tmp_path / "model")
    before = open(path, "rb").read()
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_write(path) as file:
            file.write(b"half a model")
            assert any(".model.safetensors.tmp-" in name for name in os.listdir(tmp_path))
            raise RuntimeError("disk on fire")
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert open(path, "rb").read() == before
    np.testing.assert_array_equal(load(path)(_inputs("float32")), model(_inputs("float32")))


def test_save_failing_at_fsync_keeps_previous_file(tmp_path, monkeypatch):
    model = _trained_copy(_models()["sequential"], "float32")
    path = save(model, tmp_path / "model")

    def failing_fsync(descriptor):
        raise OSError("no space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="no space"):
        save(Linear(3, 2), path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.safetensors"]
    np.testing.assert_array_equal(load(path)(_inputs("float32")), model(_inputs("float32")))


def test_atomic_write_replaces_on_success(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with atomic_write(path) as file:
        file.write(b"new")
        assert path.read_bytes() == b"old"  # readers see the old file until the end
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["f.bin"]


# --- malformed files: every problem is a ModelFormatError --------------------------------------------------
def _split(path):
    raw = open(path, "rb").read()
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + length]), raw[8 + length:]


def _write_raw(path, header, data):
    encoded = json.dumps(header).encode("utf-8") if not isinstance(header, bytes) else header
    with open(path, "wb") as file:
        file.write(len(encoded).to_bytes(8, "little") + encoded + data)
    return path


@pytest.fixture
def model_file(tmp_path):
    return save(_trained_copy(_models()["residual_concat"], "float32"), tmp_path / "model")


def _edit_header(path, edit):
    header, data = _split(path)
    edit(header)
    return _write_raw(path, header, data)


def _edit_architecture(path, edit):
    def apply(header):
        architecture = json.loads(header["__metadata__"]["architecture"])
        edit(architecture)
        header["__metadata__"]["architecture"] = json.dumps(architecture)

    return _edit_header(path, apply)


def test_truncated_files(model_file, tmp_path):
    raw = open(model_file, "rb").read()
    length = int.from_bytes(raw[:8], "little")
    for cut in (0, 1, 7, 8, 9, 8 + length // 2, 8 + length - 1, 8 + length, 8 + length + 5, len(raw) - 1):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(raw[:cut])
        with pytest.raises(ModelFormatError):
            load(path)
        with pytest.raises(ModelFormatError):
            read_tensors(path)


def test_flipped_header_bytes(model_file, tmp_path):
    raw = open(model_file, "rb").read()
    length = int.from_bytes(raw[:8], "little")
    for position in range(8 + length):  # any byte of the header turned into a non-UTF-8 byte
        corrupted = bytearray(raw)
        corrupted[position] ^= 0xFF
        path = tmp_path / "flipped.safetensors"
        path.write_bytes(bytes(corrupted))
        with pytest.raises(ModelFormatError):
            load(path)


def test_single_bit_flips_only_ever_raise_model_format_error(model_file, tmp_path):
    raw = open(model_file, "rb").read()
    length = int.from_bytes(raw[:8], "little")
    failures = 0
    for position in range(8, 8 + length):
        corrupted = bytearray(raw)
        corrupted[position] ^= 0x01
        path = tmp_path / "bit.safetensors"
        path.write_bytes(bytes(corrupted))
        try:
            load(path)  # a flip in, say, a metadata value may still give a valid model
        except ModelFormatError:
            failures += 1
    assert failures > length // 2


def test_not_a_model_file(tmp_path):
    for content in (b"", b"abc", b"\x00" * 8, b"hello world, not a model", b"\x93NUMPY\x01\x00rest..."):
        path = tmp_path / "junk"
        path.write_bytes(content)
        with pytest.raises(ModelFormatError):
            load(path)


def test_header_length_larger_than_file_or_limit(tmp_path):
    for length in (1000, 2**40, 2**64 - 1):
        path = tmp_path / "long.safetensors"
        path.write_bytes(length.to_bytes(8, "little") + b'{"a":1}')
        with pytest.raises(ModelFormatError, match="header length"):
            load(path)


def test_invalid_json_and_utf8(tmp_path):
    cases = {"json": b'{"a": [1, 2}', "utf8": b'{"\xff\xfe": 1}', "array": b"[1, 2, 3]",
             "duplicate": b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, '
                          b'"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}',
             "nan": b'{"__metadata__": {"x": NaN}}', "deep": b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"}
    for name, header in cases.items():
        path = _write_raw(tmp_path / f"{name}.safetensors", header, b"")
        with pytest.raises(ModelFormatError):
            read_tensors(path)


def test_renamed_tensor(model_file):
    _edit_header(model_file, lambda h: h.__setitem__("0.renamed", h.pop("0.weight")))
    with pytest.raises(ModelFormatError, match="missing.*0.weight.*unexpected.*0.renamed"):
        load(model_file)


def test_missing_tensor(model_file):
    tensors, metadata = read_tensors(model_file)
    del tensors["0.bias"]
    write_tensors(model_file, tensors, metadata)
    with pytest.raises(ModelFormatError, match="missing"):
        load(model_file)


def test_extra_tensor(model_file):
    tensors, metadata = read_tensors(model_file)
    tensors["9.weight"] = np.zeros((2, 2), np.float32)
    write_tensors(model_file, tensors, metadata)
    with pytest.raises(ModelFormatError, match="unexpected"):
        load(model_file)


def test_wrong_shape(model_file):
    tensors, metadata = read_tensors(model_file)
    tensors["0.weight"] = tensors["0.weight"].T.copy()
    write_tensors(model_file, tensors, metadata)
    with pytest.raises(ModelFormatError, match="0.weight.*shape"):
        load(model_file)


@pytest.mark.parametrize("dtype, message", [(np.float64, "mix float dtypes"), (np.int32, "dtype")])
def test_wrong_dtype_for_one_tensor(model_file, dtype, message):
    tensors, metadata = read_tensors(model_file)
    tensors["0.weight"] = tensors["0.weight"].astype(dtype)
    write_tensors(model_file, tensors, metadata)
    with pytest.raises(ModelFormatError, match=message):
        load(model_file)


def test_unsupported_model_dtype(model_file):
    tensors, metadata = read_tensors(model_file)
    write_tensors(model_file, {k: v.astype(np.float16) for k, v in tensors.items()}, metadata)
    with pytest.raises(ModelFormatError, match="dtype"):
        load(model_file)


def test_unknown_dtype_code(model_file):
    _edit_header(model_file, lambda h: h["0.bias"].__setitem__("dtype", "BF16"))
    with pytest.raises(ModelFormatError, match="unsupported dtype 'BF16'"):
        load(model_file)


def test_unknown_layer_type(model_file):
    _edit_architecture(model_file, lambda a: a["children"][0].__setitem__("type", "Transformer"))
    with pytest.raises(ModelFormatError, match="unknown layer type 'Transformer' at model.0"):
        load(model_file)


@pytest.mark.parametrize("config", [{"in_features": -3, "out_features": 4}, {"in_features": 3},
                                    {"in_features": 3, "out_features": 4, "colour": "red"}])
def test_bad_config(model_file, config):
    _edit_architecture(model_file, lambda a: a["children"][0].__setitem__("config", config))
    with pytest.raises(ModelFormatError, match="cannot rebuild Linear at model.0"):
        load(model_file)


def test_config_that_changes_a_shape(model_file):
    _edit_architecture(model_file, lambda a: a["children"][0]["config"].__setitem__("out_features", 5))
    with pytest.raises(ModelFormatError):
        load(model_file)


@pytest.mark.parametrize("architecture", ["[]", "{}", '{"type": "Linear"}', '{"type": 3, "config": {}}',
                                          '{"type": "Linear", "config": [], "children": []}', "not json",
                                          '{"type": "Sequential", "config": {}, "children": {}}'])
def test_malformed_architecture(model_file, architecture):
    _edit_header(model_file, lambda h, a=architecture: h["__metadata__"].__setitem__("architecture", a))
    with pytest.raises(ModelFormatError):
        load(model_file)


def test_deeply_nested_architecture(model_file):
    node = {"type": "Linear", "config": {"in_features": 1, "out_features": 1}}
    for _ in range(300):
        node = {"type": "Sequential", "config": {}, "children": [node]}
    deeper = '{"type": "Sequential", "config": {}, "children": [' * 5000 + "]}" * 5000
    for architecture in (json.dumps(node), deeper):
        _edit_header(model_file, lambda h, a=architecture: h["__metadata__"].__setitem__("architecture", a))
        with pytest.raises(ModelFormatError, match="nested|JSON"):
            load(model_file)


def test_custom_block_must_rebuild_the_stored_children(model_file, tmp_path):
    path = save(Sequential(Linear(3, 4), IoTestBlock(4)), tmp_path / "block")
    _edit_architecture(path, lambda a: a["children"][1]["children"][0].__setitem__("type", "Concat"))
    with pytest.raises(ModelFormatError, match="rebuilds the children"):
        load(path)


@pytest.mark.parametrize("key, value, message", [("format_version", "2", "format_version '2'"),
                                                 ("format", "keras", "not an ownnet model")])
def test_unsupported_format_version(model_file, key, value, message):
    _edit_header(model_file, lambda h: h["__metadata__"].__setitem__(key, value))
    with pytest.raises(ModelFormatError, match=message):
        load(model_file)


def test_huge_shape_rejected_without_allocating(model_file):
    def huge(header):
        header["0.weight"]["shape"] = [10**12, 10**12]
        header["0.weight"]["data_offsets"] = [0, 4 * 10**24]

    _edit_header(model_file, huge)
    start = time.perf_counter()
    with pytest.raises(ModelFormatError, match="0.weight"):
        load(model_file)
    assert time.perf_counter() - start < 1.0


def test_huge_shape_with_small_offsets(model_file):
    _edit_header(model_file, lambda h: h["0.weight"].__setitem__("shape", [10**12, 10**12]))
    with pytest.raises(ModelFormatError, match="needs"):
        load(model_file)


@pytest.mark.parametrize("case", ["beyond_end", "overlap", "size_mismatch", "negative", "reversed", "gap",
                                  "not_ints", "extra_key", "trailing_bytes"])
def test_bad_offsets(model_file, case):
    header, data = _split(model_file)
    names = sorted((n for n in header if n != "__metadata__"), key=lambda n: header[n]["data_offsets"][0])
    first, second, last = header[names[0]], header[names[1]], header[names[-1]]
    begin, end = first["data_offsets"]
    if case == "beyond_end":
        last["data_offsets"] = [last["data_offsets"][0] + 4, last["data_offsets"][1] + 4]
    elif case == "overlap":
        second["data_offsets"] = [second["data_offsets"][0] - 4, second["data_offsets"][1] - 4]
    elif case == "size_mismatch":
        first["data_offsets"] = [begin, end - 4]
    elif case == "negative":
        first["data_offsets"] = [-4, end]
    elif case == "reversed":
        first["data_offsets"] = [end, begin]
    elif case == "gap":
        data = data + b"\x00" * 4
        for name in names:
            header[name]["data_offsets"] = [o + 4 for o in header[name]["data_offsets"]]
    elif case == "not_ints":
        first["data_offsets"] = [float(begin), float(end)]
    elif case == "extra_key":
        first["offset"] = 0
    elif case == "trailing_bytes":
        data = data + b"\x00" * 8
    _write_raw(model_file, header, data)
    with pytest.raises(ModelFormatError):
        load(model_file)


def test_bool_bytes_must_be_zero_or_one(tmp_path):
    path = write_tensors(tmp_path / "b", {"flags": np.array([True, False])}, {})
    raw = bytearray(open(path, "rb").read())
    raw[-1] = 7
    open(path, "wb").write(bytes(raw))
    with pytest.raises(ModelFormatError, match="BOOL"):
        read_tensors(path)


# --- never unpickle -----------------------------------------------------------------------------------------
class _Exploit:
    """Unpickling this would create a file: the tests check that it never happens."""

    marker = None

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_npz_with_object_array_is_refused_without_unpickling(tmp_path):
    _Exploit.marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    np.savez(path, **{"0.weight": np.array([_Exploit()], dtype=object)})
    assert not _Exploit.marker.exists()
    with pytest.raises(ModelFormatError, match="never loaded"):
        load(path)
    assert not _Exploit.marker.exists()


def test_pickle_file_is_refused_without_unpickling(tmp_path):
    _Exploit.marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(ModelFormatError, match="pickle"):
        load(path)
    assert not _Exploit.marker.exists()


def test_npz_malformed_cases(tmp_path):
    good = save(_trained_copy(_models()["sequential"], "float32"), tmp_path / "good", format="npz")
    with zipfile.ZipFile(good) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}

    def variant(name, change):
        path = tmp_path / f"{name}.npz"
        with zipfile.ZipFile(path, "w") as archive:
            for member, content in change(dict(members)).items():
                archive.writestr(member, content)
        return path

    huge_header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
    huge_header["shape"] = (10**12,)
    huge = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(huge, huge_header)

    cases = {
        "missing_tensor": lambda m: {k: v for k, v in m.items() if k != "0.bias.npy"},
        "extra_member": lambda m: {**m, "notes.txt": b"hello"},
        "bad_npy": lambda m: {**m, "0.bias.npy": b"garbage"},
        "truncated_npy": lambda m: {**m, "0.bias.npy": m["0.bias.npy"][:-3]},
        "huge_shape": lambda m: {**m, "0.bias.npy": huge.getvalue() + b"\x00" * 16},
        "no_metadata": lambda m: {k: v for k, v in m.items() if k != "__metadata__.npy"},
    }
    for name, change in cases.items():
        with pytest.raises(ModelFormatError):
            load(variant(name, change))
    raw = open(good, "rb").read()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFormatError):
        load(tmp_path / "cut.npz")
