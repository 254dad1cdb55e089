"""ONNX export: every exported model runs in ONNX Runtime with ownnet's outputs (float32, max abs
difference <= 1e-5): each layer, random architectures with every container, several opsets, a
dynamic batch, and a small MNIST model trained for one epoch."""

import importlib
import os
import pkgutil
import sys

import numpy as np
import pytest

import ownnet as on
from ownnet.io.onnx import (
    DEFAULT_OPSET,
    build_onnx_model,
    export_file,
    export_onnx,
    exportable_types,
    parse_input_shape,
)
from ownnet.nn.module import MODULES, Module

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5
OPSETS = [13, DEFAULT_OPSET, 20]  # 20: GELU as the Gelu operator; below: its erf/tanh formula
NOT_EXPORTABLE = set()
"""Library layers with no ONNX equivalent (they must raise a clear error): none so far."""


def run_onnx(path, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the test machines are small and shared
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def assert_runs_like_ownnet(model, path, x, **kwargs):
    written = export_onnx(model, path, **kwargs)
    expected = ownnet_outputs(model, x)
    got = run_onnx(written, x)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    difference = float(np.abs(got - expected).max())
    assert difference <= TOLERANCE, f"max abs difference {difference:.3g}"
    return written


def ownnet_outputs(model, x):
    """``model.eval()``'s outputs (``on.predict`` needs one output row per input row: not for Flatten(0))."""
    was_training = model.training
    try:
        return model.eval()(x)
    finally:
        model.train(was_training)


def warm_up(model, shape, seed=0):
    """A few training-mode forwards (BatchNorm running statistics move away from 0 and 1) and random
    BatchNorm weights, so that an export that ignored them would fail."""
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(3):
        model(rng.standard_normal((16, *shape)).astype(np.float32) * 2 + 0.5)
    for parameter in model.parameters():
        if parameter.data.ndim == 1:  # biases and BatchNorm weights: not zeros or ones
            values = rng.uniform(0.5, 1.5, parameter.shape)
            parameter.data[...] = on.to_device(values, on.backend.device_of(parameter.data))
    return model.eval()


def inputs(shape, batch=7, seed=1):
    return (np.random.default_rng(seed).standard_normal((batch, *shape)) * 2).astype(np.float32)


# --- every layer, on its own and in containers -------------------------------------------------------
CASES = [
    ("Linear", lambda: on.Linear(5, 3), (5,)),
    ("Linear-nobias", lambda: on.Linear(5, 3, bias=False), (5,)),
    ("ReLU", on.ReLU, (5,)),
    ("LeakyReLU", lambda: on.LeakyReLU(0.2), (5,)),
    ("Tanh", on.Tanh, (5,)),
    ("Sigmoid", on.Sigmoid, (5,)),
    ("GELU", on.GELU, (5,)),
    ("GELU-tanh", lambda: on.GELU(approximate="tanh"), (5,)),
    ("Softmax", on.Softmax, (5,)),
    ("Softmax-dim1-3d", lambda: on.Softmax(dim=1), (3, 4)),
    ("Softmax-dim0", lambda: on.Softmax(dim=0), (5,)),
    ("LogSoftmax", on.LogSoftmax, (5,)),
    ("Identity", on.Identity, (5,)),
    ("Dropout", lambda: on.Dropout(0.5), (5,)),
    ("BatchNorm1d", lambda: on.BatchNorm1d(5), (5,)),
    ("BatchNorm1d-noaffine", lambda: on.BatchNorm1d(5, affine=False), (5,)),
    ("BatchNorm1d-nostats", lambda: on.BatchNorm1d(5, track_running_stats=False), (5,)),
    ("BatchNorm1d-nostats-noaffine", lambda: on.BatchNorm1d(5, affine=False, track_running_stats=False),
     (5,)),
    ("Flatten", on.Flatten, (3, 4)),
    ("Flatten-middle", lambda: on.Flatten(1, 2), (3, 4, 2)),
    ("Flatten-last", lambda: on.Flatten(2, 3), (3, 4, 2)),
    ("Flatten-batch", lambda: on.Flatten(0, 1), (3, 4)),
    ("Sequential", lambda: on.Sequential(on.Linear(5, 4), on.Tanh(), on.Linear(4, 3)), (5,)),
    ("Sequential-empty", on.Sequential, (5,)),
    ("Residual", lambda: on.Residual(on.Sequential(on.Linear(5, 4), on.ReLU(), on.Linear(4, 5))), (5,)),
    ("Concat", lambda: on.Concat(on.Linear(5, 2), on.Sequential(on.Linear(5, 3), on.Sigmoid()), on.Tanh()),
     (5,)),
    ("nested", lambda: on.Sequential(
        on.Flatten(), on.Linear(6, 5), on.BatchNorm1d(5), on.Dropout(0.2),
        on.Residual(on.Sequential(on.Linear(5, 5), on.GELU("tanh"))),
        on.Concat(on.Residual(on.Sequential(on.Linear(5, 5), on.ReLU())), on.Sequential(on.Linear(5, 2))),
        on.LeakyReLU(), on.Linear(7, 3), on.Softmax()), (2, 3)),
]


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize(("builder", "shape"), [pytest.param(b, s, id=name) for name, b, s in CASES])
def test_layer_runs_in_onnx_runtime(builder, shape, opset, tmp_path):
    on.manual_seed(0)
    model = warm_up(builder(), shape)
    path = assert_runs_like_ownnet(model, tmp_path / "m.onnx", inputs(shape), input_shape=shape, opset=opset)
    if not shape[1:]:  # the same file for another batch size: the batch dimension is dynamic
        x = inputs(shape, batch=2, seed=2)
        np.testing.assert_allclose(run_onnx(path, x), ownnet_outputs(model, x), rtol=0, atol=TOLERANCE)


def _register_every_module():
    for info in pkgutil.walk_packages(on.__path__, "ownnet."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            try:
                importlib.import_module(info.name)
            except ImportError:
                pass


def test_every_layer_is_exportable_and_tested():
    _register_every_module()
    library = {name for name, cls in MODULES.items() if cls.__module__.startswith("ownnet.")}
    exportable = {cls.__name__ for cls in exportable_types()}
    assert not library - exportable - NOT_EXPORTABLE, "add an ONNX converter (or list it in NOT_EXPORTABLE)"
    tested = set()
    for _, builder, _ in CASES:
        stack = [builder()]
        while stack:
            module = stack.pop()
            tested.add(type(module).__name__)
            stack += module.children()
    assert not exportable - tested


# --- random architectures ------------------------------------------------------------------------------
def _random_block(rng, width, depth):
    """A random module mapping (batch, width) to (batch, out); returns (module, out).

    Containers nest two levels deep: deeper random stacks (Tanh into a BatchNorm on batch statistics,
    Softmax into Softmax, ...) become so ill-conditioned that ownnet's own float32 result differs from
    its float64 result by more than 1e-5, and ONNX Runtime then differs by as much (measured: both
    about 1e-4 on the worst of 20 models nested three deep)."""
    choice = rng.integers(0, 9 if depth < 2 else 5)
    if choice == 0:
        out = int(rng.integers(2, 9))
        return on.Linear(width, out, bias=bool(rng.integers(0, 2))), out
    if choice == 1:
        activations = [on.ReLU(), on.LeakyReLU(float(rng.uniform(0, 0.3))), on.Tanh(), on.Sigmoid(),
                       on.GELU(), on.GELU("tanh"), on.Identity()]
        return activations[rng.integers(0, len(activations))], width
    if choice == 2:
        return on.Dropout(float(rng.uniform(0, 0.9))), width
    if choice == 3:
        return on.BatchNorm1d(width, eps=float(rng.choice([1e-5, 1e-3])), affine=bool(rng.integers(0, 2)),
                              track_running_stats=bool(rng.integers(0, 4))), width
    if choice == 4:
        return on.Softmax(), width
    if choice in (5, 6):
        block, out = _random_stack(rng, width, depth + 1)
        if out != width:
            block.add(on.Linear(out, width))
        return on.Residual(block), width
    if choice == 7:
        branches, out = [], 0
        for _ in range(rng.integers(1, 4)):
            branch, branch_out = _random_stack(rng, width, depth + 1)
            branches.append(branch)
            out += branch_out
        return on.Concat(*branches), out
    return _random_stack(rng, width, depth + 1)


def _random_stack(rng, width, depth):
    layers = []
    for _ in range(rng.integers(1, 4)):
        layer, width = _random_block(rng, width, depth)
        layers.append(layer)
    return on.Sequential(*layers), width


@pytest.mark.parametrize("seed", range(20))
def test_random_architecture_runs_in_onnx_runtime(seed, tmp_path):
    rng = np.random.default_rng(seed)
    on.manual_seed(seed)
    features = int(rng.integers(2, 9))
    stack, width = _random_stack(rng, features, 0)
    model = on.Sequential(on.Flatten(), stack, on.Linear(width, 3))
    shape = (2, features // 2) if features % 2 == 0 else (features,)
    warm_up(model, shape, seed)
    assert_runs_like_ownnet(model, tmp_path / "m.onnx", inputs(shape, batch=9, seed=seed), input_shape=shape,
                            opset=OPSETS[seed % len(OPSETS)])


# --- a trained MNIST model ---------------------------------------------------------------------------
def test_trained_mnist_model_runs_in_onnx_runtime(mnist_dir, tmp_path):
    (x_train, y_train), (x_test, y_test) = on.datasets.load_mnist(path=mnist_dir, verbose=False)
    on.manual_seed(0)
    model = on.Sequential(on.Linear(784, 64), on.BatchNorm1d(64), on.ReLU(), on.Dropout(0.1),
                          on.Linear(64, 10))
    on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1, momentum=0.9),
           x_train[:6000], y_train[:6000], epochs=1, batch_size=64, verbose=False)
    path = assert_runs_like_ownnet(model, tmp_path / "mnist.onnx", x_test[:2000])
    logits = run_onnx(path, x_test[:2000])
    assert np.array_equal(logits.argmax(axis=1), on.predict_classes(model, x_test[:2000]))
    assert on.accuracy(y_test[:2000], logits.argmax(axis=1)) > 0.85  # it did learn


# --- float64, opsets, the graph itself ------------------------------------------------------------------
def test_float64_model_exports_in_double(tmp_path):
    on.manual_seed(0)
    model = on.Sequential(on.Linear(5, 8), on.BatchNorm1d(8), on.ReLU(), on.Linear(8, 8), on.Tanh(),
                          on.Linear(8, 3), on.Softmax()).to("float64")
    warm_up(model, (5,))
    x = inputs((5,)).astype(np.float64)
    path = export_onnx(model, tmp_path / "m.onnx")
    got = run_onnx(path, x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, on.predict(model, x), rtol=0, atol=1e-12)


def test_graph_uses_the_expected_operators_and_names():
    on.manual_seed(0)
    model = on.Sequential(on.Linear(4, 3), on.GELU(), on.Dropout(0.5), on.BatchNorm1d(3), on.Softmax())
    old = build_onnx_model(model, opset=17)
    new = build_onnx_model(model, opset=20)
    ops_old = [node.op_type for node in old.graph.node]
    assert ops_old[0] == "Gemm" and "Erf" in ops_old and "Gelu" not in ops_old
    assert [node.op_type for node in new.graph.node] == ["Gemm", "Gelu", "Identity", "BatchNormalization",
                                                         "Softmax"]
    assert {i.name for i in new.graph.initializer} == set(model.state_dict())  # state_dict names
    assert new.opset_import[0].version == 20 and new.producer_name == "ownnet"
    batch = new.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "batch"  # dynamic batch
    assert new.graph.output[0].name == "output"
    assert [d.dim_value for d in new.graph.output[0].type.tensor_type.shape.dim[1:]] == [3]
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(
        next(i for i in new.graph.initializer if i.name == "0.weight")), model[0].weight.data)


# --- files -----------------------------------------------------------------------------------------
def test_export_writes_atomically_adds_the_extension_and_keeps_the_mode(tmp_path):
    model = on.Sequential(on.Linear(4, 3), on.Dropout(0.5))
    assert model.training
    path = export_onnx(model, tmp_path / "model")
    assert path == str(tmp_path / "model.onnx")
    assert os.listdir(tmp_path) == ["model.onnx"]  # no temporary file left behind
    assert model.training  # exported in inference form without switching the model
    onnx.checker.check_model(onnx.load(path), full_check=True)


def test_failed_export_leaves_an_existing_file_alone(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous")

    class Custom(Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError):
        export_onnx(on.Sequential(on.Linear(4, 3), Custom()), path)
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_export_file_is_the_cli_path(tmp_path):
    on.manual_seed(0)
    model = on.Sequential(on.Flatten(), on.Linear(12, 4), on.ReLU(), on.Linear(4, 2))
    saved = on.save(model, tmp_path / "model")
    assert saved.endswith(".safetensors")  # the model file format is safetensors by default
    line = export_file(saved, tmp_path / "out.onnx", input_shape="3,4")
    assert line.startswith(f"wrote {tmp_path / 'out.onnx'}: input (batch, 3, 4) -> output (batch, 2)")
    x = inputs((3, 4))
    np.testing.assert_allclose(run_onnx(str(tmp_path / "out.onnx"), x), on.predict(model, x), rtol=0,
                               atol=TOLERANCE)


def test_parse_input_shape():
    assert parse_input_shape("1,28,28") == (1, 28, 28)
    assert parse_input_shape("784") == (784,)
    for bad in ("", "a,b", "0,3", "-1"):
        with pytest.raises(ValueError, match="--input-shape"):
            parse_input_shape(bad)


# --- errors -------------------------------------------------------------------------------------------
def test_a_layer_without_onnx_equivalent_is_named():
    class Square(Module):
        def forward(self, x):
            return x * x

    model = on.Sequential(on.Linear(4, 4), on.Residual(on.Sequential(on.ReLU(), Square())))
    with pytest.raises(ValueError, match=r"cannot export Square \(layer 1 of the Sequential\) at "
                                         r"model\.1\.0\.1: Square has no ONNX equivalent"):
        build_onnx_model(model)


def test_a_subclass_is_not_taken_for_its_parent():
    class Doubled(on.ReLU):
        def forward(self, x):
            return 2 * super().forward(x)

    with pytest.raises(ValueError, match="cannot export Doubled"):
        build_onnx_model(on.Sequential(on.Linear(3, 3), Doubled()))


def test_shape_errors_name_the_layer():
    model = on.Sequential(on.Linear(4, 5), on.Linear(6, 2))
    with pytest.raises(ValueError, match=r"Linear \(layer 1 of the Sequential\) at model\.1 expects input "
                                         r"of shape \(batch, 6\), it would get \(batch, 5\)"):
        build_onnx_model(model)
    with pytest.raises(ValueError, match=r"model\.0 expects input of shape \(batch, 4\)"):
        build_onnx_model(on.Sequential(on.Linear(4, 2)), input_shape=(3,))
    with pytest.raises(ValueError, match=r"Residual at model needs a block that keeps the shape of its "
                                         r"input \(batch, 4\)"):
        build_onnx_model(on.Residual(on.Linear(4, 3)))
    with pytest.raises(ValueError, match="dim=2, out of range"):
        build_onnx_model(on.Softmax(dim=2), input_shape=(4,))


def test_argument_errors():
    with pytest.raises(ValueError, match="input_shape: needed because the model starts with Flatten"):
        build_onnx_model(on.Sequential(on.Flatten(), on.Linear(4, 2)))
    with pytest.raises(TypeError, match="input_shape"):
        build_onnx_model(on.Linear(4, 2), input_shape="4")
    with pytest.raises(ValueError, match="input_shape: expected positive sizes"):
        build_onnx_model(on.Linear(4, 2), input_shape=(0,))
    with pytest.raises(ValueError, match="opset: expected an integer from 13"):
        build_onnx_model(on.Linear(4, 2), opset=12)
    with pytest.raises(TypeError, match="model: expected an ownnet Module"):
        build_onnx_model("model.safetensors")


def test_missing_onnx_package_gives_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'ownnet\[onnx\]'"):
        build_onnx_model(on.Linear(4, 2))
