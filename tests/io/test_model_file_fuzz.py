"""Fuzzing the model-file loader: mutated files either load as a valid model or raise ModelFormatError.

Valid files (safetensors and npz, float32 and float64, containers and BatchNorm buffers) are mutated
with a seeded generator: random bytes and bits flipped, truncation, junk appended, the header length
rewritten, JSON header fields changed (dtypes, shapes, offsets, metadata, the architecture's types,
configs and children), tensors renamed or resized, and huge declared sizes (a ``[10**12, 10**12]``
tensor, a ``Linear(10**6, 10**6)`` config). Every ``ownnet.load`` must either return a Module whose
state matches the file or raise ``ModelFormatError`` -- no other exception, no hang, no large
allocation. The CI run (hundreds of cases) runs in a child process under an address-space limit, so
that a regression shows up as a failure, not as a machine out of memory; ``benchmarks/long_fuzz.py``
runs the same generator for many thousands of cases.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

import numpy as np
import pytest

import ownnet as on
from ownnet.io import ModelFormatError, read_tensors
from ownnet.nn.module import MODULES, Module

HUGE = 10**12
EVIL_VALUES = [HUGE, 10**6, -1, 0, 1, 2**63, 2**64 + 1, 10**400, 1.5, -0.0, 1e308, "x", "", "F32", None,
               True, False, [], {}, [1, 2], [HUGE, HUGE], {"a": 1}, [[[[]]]], "relu", "Linear"]
BIG_INT_TOKEN = "\"__BIG_INT__\""
"""Replaced by an integer of 5000 digits in the serialised JSON (Python refuses to parse > 4300 digits)."""
DTYPE_CODES = ["BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64", "BF16",
               "F8_E4M3", "f32", "", "F128"]
CASE_SECONDS = 2.0
"""A single load taking longer than this counts as a hang."""


# --- valid files -------------------------------------------------------------------------------------
def _base_models():
    on.manual_seed(0)
    seq = on.Sequential(on.Linear(3, 4), on.ReLU(), on.BatchNorm1d(4), on.Dropout(0.1), on.Linear(4, 2))
    seq(np.random.default_rng(0).random((5, 3)))  # non-trivial running statistics
    nested = on.Sequential(on.Linear(3, 4), on.Residual(on.Sequential(on.Linear(4, 4), on.Tanh())),
                           on.Concat(on.Linear(4, 2), on.Sigmoid()), on.Linear(6, 2)).to("float64")
    return {"sequential": (seq, "safetensors"), "nested-f64": (nested, "safetensors"),
            "linear-nobias": (on.Linear(5, 3, bias=False), "safetensors"), "sequential-npz": (seq, "npz")}


def base_files(folder):
    """``{name: bytes}`` of the valid model files that the mutations start from."""
    files = {}
    for name, (model, fmt) in _base_models().items():
        path = on.save(model, os.path.join(folder, f"base-{name}"), format=fmt)
        with open(path, "rb") as file:
            files[name] = file.read()
    return files


# --- mutations -----------------------------------------------------------------------------------------
def _split(raw):
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + length]), raw[8 + length:]


def _join(header, data):
    text = json.dumps(header).replace(BIG_INT_TOKEN, "9" * 5000)
    encoded = text.encode("utf-8")
    return len(encoded).to_bytes(8, "little") + encoded + data


def _evil(rng):
    if rng.random() < 0.05:
        return BIG_INT_TOKEN[1:-1]  # the token string; _join turns it into a 5000-digit integer
    return EVIL_VALUES[rng.integers(len(EVIL_VALUES))]


def _tensor_names(header):
    return [key for key in header if key != "__metadata__"]


def _nodes(node, found=None):
    """Every node of an architecture tree (dicts with type/config/children), depth first."""
    found = [] if found is None else found
    if isinstance(node, dict):
        found.append(node)
        for child in node.get("children", []) if isinstance(node.get("children"), list) else []:
            _nodes(child, found)
    return found


def _mutate_architecture(architecture, rng):
    nodes = _nodes(architecture)
    node = nodes[rng.integers(len(nodes))]
    choice = rng.integers(7)
    if choice == 0 and node.get("config"):  # a config value
        key = list(node["config"])[rng.integers(len(node["config"]))]
        node["config"][key] = _evil(rng)
    elif choice == 1:  # another registered (or unknown) type
        names = sorted(MODULES) + ["Transformer", "", "__class__", "os.system"]
        node["type"] = names[rng.integers(len(names))]
    elif choice == 2:  # a config key added or removed
        if node.get("config") and rng.random() < 0.5:
            node["config"].pop(list(node["config"])[0])
        elif isinstance(node.get("config"), dict):
            node["config"][["dtype", "bias", "p", "colour", "in_features"][rng.integers(5)]] = _evil(rng)
    elif choice == 3:  # children duplicated, dropped or added
        children = node.setdefault("children", [])
        if children and rng.random() < 0.5:
            children.pop(rng.integers(len(children)))
        else:
            children.append(json.loads(json.dumps(nodes[rng.integers(len(nodes))])) if rng.random() < 0.7
                            else {"type": "ReLU", "config": {}})
    elif choice == 4:  # a whole field replaced
        node[["type", "config", "children", "extra"][rng.integers(4)]] = _evil(rng)
    elif choice == 5:  # huge layers: the sizes that would allocate terabytes if built first
        for candidate in nodes:
            config = candidate.get("config")
            if isinstance(config, dict):
                for key in ("in_features", "out_features", "num_features"):
                    if key in config:
                        config[key] = [10**6, HUGE, 10**5][rng.integers(3)]
    else:  # a subtree replaced by another one
        other = nodes[rng.integers(len(nodes))]
        node.clear()
        node.update(json.loads(json.dumps(other)))
    return architecture


def _mutate_header(header, rng):
    names = _tensor_names(header)
    metadata = header.get("__metadata__", {})
    choice = rng.integers(9)
    name = names[rng.integers(len(names))] if names else None
    if choice == 0 and name:
        header[name]["dtype"] = DTYPE_CODES[rng.integers(len(DTYPE_CODES))]
    elif choice == 1 and name:  # a shape: huge, negative, another rank, not a list
        header[name]["shape"] = [[HUGE, HUGE], [HUGE], [-1, 4], [], [0], [2**64], _evil(rng),
                                 [4] * 65][rng.integers(8)]
    elif choice == 2 and name:  # offsets
        begin, end = header[name]["data_offsets"]
        header[name]["data_offsets"] = [[begin, end + 4], [begin - 4, end], [0, HUGE * 8], [end, begin],
                                        [begin], _evil(rng)][rng.integers(6)]
    elif choice == 3 and name:  # a huge shape with consistent offsets: the size check must refuse it
        header[name]["shape"] = [HUGE, HUGE]
        header[name]["data_offsets"] = [header[name]["data_offsets"][0],
                                        header[name]["data_offsets"][0] + HUGE * HUGE * 4]
    elif choice == 4 and name:  # a tensor renamed
        header[["0.renamed", "weight", "9.weight", "__metadata__x", ""][rng.integers(5)]] = header.pop(name)
    elif choice == 5 and name:  # a field of the entry removed or added
        if rng.random() < 0.5:
            header[name].pop(["dtype", "shape", "data_offsets"][rng.integers(3)])
        else:
            header[name]["extra"] = _evil(rng)
    elif choice == 6 and metadata:  # a metadata value (format, version, architecture)
        key = list(metadata)[rng.integers(len(metadata))]
        metadata[key] = [_evil(rng), "2", "", "ownnet", "{}", "[]", "null"][rng.integers(7)]
    elif choice == 7 and "architecture" in metadata:
        try:
            architecture = json.loads(metadata["architecture"])
        except ValueError:
            architecture = None
        if architecture is not None:
            metadata["architecture"] = json.dumps(_mutate_architecture(architecture, rng))
    else:
        header[["__metadata__", name or "x"][rng.integers(2)]] = _evil(rng)
    return header


def _resized(raw, rng):
    """A self-consistent file whose tensors no longer match the architecture (or match a changed one)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "resized.safetensors")
        with open(path, "wb") as file:
            file.write(raw)
        tensors, metadata = read_tensors(path)
        name = sorted(tensors)[rng.integers(len(tensors))]
        old = tensors[name]
        shape = tuple(int(d) + int(rng.integers(-1, 3)) for d in old.shape) or (2,)
        tensors[name] = np.zeros(tuple(max(d, 0) for d in shape), old.dtype)
        if rng.random() < 0.3:
            tensors[name] = tensors[name].astype([np.float64, np.int32, np.float16][rng.integers(3)])
        if rng.random() < 0.3:
            del tensors[name]
        on.io.write_tensors(path, tensors, metadata)
        with open(path, "rb") as file:
            return file.read()


def mutate(raw, rng):
    """One mutated copy of the valid file ``raw``: ``(kind, bytes)``."""
    is_npz = raw[:2] == b"PK"
    kinds = ["flip", "bits", "truncate", "extend", "length"] + ([] if is_npz else ["header"] * 4 + ["resize"])
    kind = kinds[rng.integers(len(kinds))]
    data = bytearray(raw)
    if kind == "flip":
        for _ in range(rng.integers(1, 9)):
            limit = len(data) if rng.random() < 0.5 else min(len(data), 8 + int.from_bytes(raw[:8], "little"))
            data[rng.integers(limit)] = rng.integers(256)
    elif kind == "bits":
        position = rng.integers(len(data))
        data[position] ^= 1 << rng.integers(8)
    elif kind == "truncate":
        data = data[:rng.integers(len(data))]
    elif kind == "extend":
        data += rng.integers(0, 256, rng.integers(1, 64), dtype=np.uint8).tobytes()
    elif kind == "length":
        lengths = [0, 1, len(raw), 2**40, 2**64 - 1, 100 * 2**20 + 1]
        data[:8] = lengths[rng.integers(len(lengths))].to_bytes(8, "little")
    elif kind == "header":
        header, rest = _split(raw)
        for _ in range(rng.integers(1, 3)):
            with contextlib.suppress(TypeError, KeyError, ValueError, AttributeError, IndexError):
                header = _mutate_header(header, rng)  # (a second mutation may find a broken entry)
        data = _join(header, rest)
    else:
        data = _resized(raw, rng)
    return kind, bytes(data)


# --- running cases ----------------------------------------------------------------------------------------
def check_load(path):
    """Load ``path``; returns the outcome ("loaded" or "refused") or raises AssertionError."""
    try:
        model = on.load(path)
    except ModelFormatError as error:
        assert str(error), "empty ModelFormatError message"
        return "refused"
    assert isinstance(model, Module), type(model)
    with open(path, "rb") as file:
        is_npz = file.read(2) == b"PK"
    if not is_npz:
        tensors, _ = read_tensors(path)
        state = model.state_dict()
        assert sorted(state) == sorted(tensors)
        for name, array in state.items():
            assert array.shape == tensors[name].shape and array.dtype == tensors[name].dtype, name
    return "loaded"


def run_fuzz(cases, seed, folder, report_every=None):
    """Run ``cases`` mutated loads; returns a dict of counts, failures, slowest time and peak memory."""
    rng = np.random.default_rng(seed)
    files = base_files(folder)
    names = sorted(files)
    outcomes, failures, slowest = Counter(), [], 0.0
    path = os.path.join(folder, "case.safetensors")
    started = time.perf_counter()
    for case in range(cases):
        base = names[case % len(names)]
        kind, data = mutate(files[base], rng)
        with open(path, "wb") as file:
            file.write(data)
        start = time.perf_counter()
        try:
            outcome = check_load(path)
        except Exception as error:  # anything but ModelFormatError, or an invalid "loaded" model
            outcome = "FAILED"
            failures.append({"case": case, "base": base, "kind": kind,
                             "error": f"{type(error).__name__}: {str(error)[:300]}"})
        seconds = time.perf_counter() - start
        slowest = max(slowest, seconds)
        if seconds > CASE_SECONDS:
            failures.append({"case": case, "base": base, "kind": kind, "error": f"took {seconds:.1f} s"})
        outcomes[f"{kind}:{outcome}"] += 1
        if report_every and (case + 1) % report_every == 0:
            print(f"{case + 1} cases, {len(failures)} failures, {time.perf_counter() - started:.1f} s",
                  flush=True)
    return {"cases": cases, "seed": seed, "outcomes": dict(sorted(outcomes.items())), "failures": failures,
            "slowest_seconds": slowest, "seconds": time.perf_counter() - started,
            "max_rss_mb": _max_rss_mb()}


def _max_rss_mb():
    # VmHWM starts afresh at exec; ru_maxrss does not (a child forked from a big pytest process, say
    # one that imported torch, would report the parent's size).
    with contextlib.suppress(OSError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    with contextlib.suppress(ImportError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return None


def run_in_child(cases, seed, memory_limit=3 * 2**30, timeout=600):
    """``run_fuzz`` in a child Python under an address-space limit (Linux); returns its result dict."""
    code = ("import json, sys, tempfile; sys.path.insert(0, sys.argv[1]); import test_model_file_fuzz as f\n"
            "with tempfile.TemporaryDirectory() as d:\n"
            "    r = f.run_fuzz(int(sys.argv[2]), int(sys.argv[3]), d)\n"
            "print('RESULT ' + json.dumps(r))\n")

    def limit_memory():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__)), str(cases), str(seed)],
        capture_output=True, text=True, env=env, timeout=timeout,
        preexec_fn=limit_memory if sys.platform.startswith("linux") else None)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"the fuzz child failed ({done.returncode}): {done.stderr}"
    return json.loads(lines[-1][len("RESULT "):])


# --- the tests ---------------------------------------------------------------------------------------------
def test_mutated_model_files_load_or_raise_model_format_error():
    result = run_in_child(cases=600, seed=20260101)
    assert result["failures"] == [], json.dumps(result["failures"][:10], indent=1)
    outcomes = Counter()
    for key, count in result["outcomes"].items():
        outcomes[key.split(":")[1]] += count
    # both outcomes occur: the mutations reach past the first check, and some still give valid models
    assert outcomes["refused"] > 300 and outcomes["loaded"] > 10, result["outcomes"]
    assert result["slowest_seconds"] < CASE_SECONDS
    if result["max_rss_mb"] is not None:
        assert result["max_rss_mb"] < 500, f"peak memory {result['max_rss_mb']:.0f} MB"


@pytest.fixture
def sequential_file(tmp_path):
    return base_files(str(tmp_path))["sequential"]


def _load_bytes(tmp_path, data):
    path = tmp_path / "case.safetensors"
    path.write_bytes(data)
    return on.load(path)


@pytest.mark.parametrize("sizes", [(10**6, 10**6), (HUGE, HUGE), (3, HUGE), (10**5, 10**5)])
def test_huge_layer_config_is_refused_before_anything_is_built(tmp_path, sequential_file, sizes, monkeypatch):
    """The config is checked against the tensors before the constructor runs: no weights are drawn."""
    header, data = _split(sequential_file)
    architecture = json.loads(header["__metadata__"]["architecture"])
    architecture["children"][0]["config"].update(in_features=sizes[0], out_features=sizes[1])
    header["__metadata__"]["architecture"] = json.dumps(architecture)
    drawn = []
    monkeypatch.setattr(on.nn.linear, "initial_weight", lambda *args: drawn.append(args))
    with pytest.raises(ModelFormatError, match=r"Linear at model\.0.*implies tensor '0\.weight' of shape"):
        _load_bytes(tmp_path, _join(header, data))
    assert drawn == []


def test_huge_config_with_matching_huge_header_shapes_is_refused_by_the_size_check(tmp_path, sequential_file):
    header, data = _split(sequential_file)
    architecture = json.loads(header["__metadata__"]["architecture"])
    architecture["children"][0]["config"].update(in_features=10**6, out_features=10**6)
    header["__metadata__"]["architecture"] = json.dumps(architecture)
    header["0.weight"]["shape"] = [10**6, 10**6]
    begin = header["0.weight"]["data_offsets"][0]
    header["0.weight"]["data_offsets"] = [begin, begin + 4 * 10**12]
    with pytest.raises(ModelFormatError, match="0.weight"):
        _load_bytes(tmp_path, _join(header, data))


def test_missing_tensor_behind_a_huge_config_is_refused_by_name(tmp_path, sequential_file):
    header, data = _split(sequential_file)
    architecture = json.loads(header["__metadata__"]["architecture"])
    architecture["children"][4]["config"].update(in_features=HUGE)
    header["__metadata__"]["architecture"] = json.dumps(architecture)
    header["4.renamed"] = header.pop("4.weight")
    with pytest.raises(ModelFormatError, match=r"missing \['4.weight'\], unexpected \['4.renamed'\]"):
        _load_bytes(tmp_path, _join(header, data))


def test_integer_too_long_for_python_is_a_model_format_error(tmp_path, sequential_file):
    header, data = _split(sequential_file)
    header["0.bias"]["shape"] = BIG_INT_TOKEN[1:-1]
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        _load_bytes(tmp_path, _join(header, data))


def test_the_mutations_are_reproducible_from_the_seed(tmp_path):
    files = base_files(str(tmp_path))
    first_rng, second_rng = np.random.default_rng(7), np.random.default_rng(7)
    first = [mutate(files["sequential"], first_rng) for _ in range(20)]
    second = [mutate(files["sequential"], second_rng) for _ in range(20)]
    assert first == second and len({data for _, data in first}) > 10


def test_a_subclass_with_another_constructor_is_not_judged_by_its_parent(tmp_path):
    class FuzzSquareLinear(on.Linear):
        def __init__(self, width):
            super().__init__(width, width)

        def get_config(self):
            return {"width": self.in_features}

    try:
        model = on.Sequential(FuzzSquareLinear(3), on.ReLU())
        loaded = on.load(on.save(model, tmp_path / "square"))
        np.testing.assert_array_equal(loaded[0].weight.data, model[0].weight.data)
    finally:
        MODULES.pop("FuzzSquareLinear", None)


def test_fuzz_reports_problems(tmp_path, monkeypatch):
    """The harness itself can fail: an exception other than ModelFormatError is recorded."""
    def broken(path):
        raise IndexError("boom")

    monkeypatch.setattr(on, "load", broken)
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_fuzz(5, 0, str(tmp_path))
    assert len(result["failures"]) == 5 and "IndexError" in result["failures"][0]["error"]


def test_a_header_length_that_starts_like_a_pickle_is_still_a_safetensors_file(tmp_path):
    """One valid file in 32 has a header length whose first byte is 0x80 (a pickle's first byte)."""
    model = on.Linear(2, 2)
    first_bytes = set()
    for padding in range(0, 260, 8):
        path = on.save(model, tmp_path / f"m{padding}.safetensors", metadata={"pad": "x" * padding})
        with open(path, "rb") as file:
            first_bytes.add(file.read(1))
        np.testing.assert_array_equal(on.load(path).weight.data, model.weight.data)
    assert b"\x80" in first_bytes
