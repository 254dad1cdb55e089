"""ONNX export: ``export_onnx(model, path, input_shape=...)`` writes a model that ONNX Runtime (or any
ONNX engine) runs with the outputs of ``model.eval()``.

Each layer becomes the ONNX operators that compute the same function in inference form:

    Linear        Gemm (y = x W + b; ownnet's W is already (in, out), so no transpose)
    ReLU, LeakyReLU, Tanh, Sigmoid, Softmax(dim), LogSoftmax(dim), Identity
                  Relu, LeakyRelu, Tanh, Sigmoid, Softmax(axis=dim), LogSoftmax(axis=dim), Identity
    GELU          Gelu (opset >= 20), else its formula: x (1 + erf(x / sqrt 2)) / 2, or the tanh form
    Dropout       Identity (inference: no dropout)
    BatchNorm1d   BatchNormalization with the running statistics (or the batch statistics, written with
                  ReduceMean, when track_running_stats=False)
    Flatten       Flatten (start_dim=1, end_dim=-1) or Reshape
    Sequential    its layers one after the other;  Residual -> Add;  Concat -> Concat (axis 1)

The graph has one input ``"input"`` of shape ``(batch, *input_shape)`` with a dynamic batch dimension
and one output ``"output"``, both in the model's dtype (float32 or float64); the weights are
initializers named by the model's ``state_dict()`` keys. The ``onnx`` package is an optional extra
(``pip install 'ownnet[onnx]'``), imported only when a model is exported.
"""

import math
import os

import numpy as np

from ownnet import backend
from ownnet._version import __version__
from ownnet.files import atomic_write
from ownnet.io.modelfile import load
from ownnet.nn.activations import GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.linear import Linear
from ownnet.nn.module import Module
from ownnet.nn.regularization import BatchNorm1d, Dropout
from ownnet.nn.shape import Flatten

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "build_onnx_model", "export_file", "export_onnx", "exportable_types",
           "parse_input_shape"]

DEFAULT_OPSET = 17
"""Opset 17 (ONNX 1.12, 2022) runs on every maintained engine; GELU is written as its erf or tanh
formula. Opset 20 and later have a ``Gelu`` operator, used when ``opset >= 20``."""
MIN_OPSET = 13
"""Softmax over one axis (PyTorch's meaning) exists from opset 13 on."""
BATCH = "batch"
"""The symbolic name of the dynamic batch dimension."""


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'ownnet[onnx]'") from None
    return onnx


def _describe(shape):
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


class _Graph:
    """Collects nodes and initializers; every tensor gets a unique name."""

    def __init__(self, onnx, dtype, opset):
        self.onnx, self.dtype, self.opset = onnx, dtype, opset
        self.nodes, self.initializers, self.names = [], [], {"input", "output"}

    def _unique(self, hint):
        name, count = hint, 1
        while name in self.names:
            count += 1
            name = f"{hint}_{count}"
        self.names.add(name)
        return name

    def constant(self, name, value):
        """An initializer holding ``value`` (an array or a number) in the graph's dtype."""
        array = np.ascontiguousarray(np.asarray(backend.to_numpy(value), dtype=self.dtype))
        name = self._unique(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name=name))
        return name

    def int64_constant(self, name, values):
        name = self._unique(name)
        array = np.asarray(values, dtype=np.int64)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name=name))
        return name

    def node(self, op, inputs, name, **attributes):
        """Append one node with one output; returns the output's name."""
        node_name = self._unique(name)
        output = self._unique(f"{node_name}:{op}")
        node = self.onnx.helper.make_node(op, list(inputs), [output], name=node_name, **attributes)
        self.nodes.append(node)
        return output

    def reduce_mean_over_batch(self, x, name):
        if self.opset >= 18:  # the axes became an input in opset 18
            return self.node("ReduceMean", [x, self.int64_constant(f"{name}.axes", [0])], name, keepdims=1)
        return self.node("ReduceMean", [x], name, axes=[0], keepdims=1)


# --- one converter per layer: (module, graph, x, shape, where, prefix) -> (output name, output shape) ---
# ``shape`` is the input's static shape with BATCH (or None, for a dimension merged with the batch)
# where the size is only known at run time; ``where`` names the layer in error messages.
def _error(module, where, problem):
    """The error for a layer that cannot be exported as it is, naming it and its position."""
    return ValueError(f"export_onnx: {module.label} at {where} {problem}")


def _expect_2d(module, shape, features, where):
    if len(shape) != 2 or shape[1] != features:
        raise _error(module, where, f"expects input of shape (batch, {features}), "
                                    f"it would get {_describe(shape)}")


def _linear(module, graph, x, shape, where, prefix):
    _expect_2d(module, shape, module.in_features, where)
    inputs = [x, graph.constant(prefix + "weight", module.weight.data)]
    if module.bias is not None:
        inputs.append(graph.constant(prefix + "bias", module.bias.data))
    return graph.node("Gemm", inputs, where), (shape[0], module.out_features)


def _elementwise(op, **attributes):
    def convert(module, graph, x, shape, where, prefix):
        return graph.node(op, [x], where, **attributes), shape
    return convert


def _leaky_relu(module, graph, x, shape, where, prefix):
    return graph.node("LeakyRelu", [x], where, alpha=module.negative_slope), shape


def _softmax(module, graph, x, shape, where, prefix):
    if not -len(shape) <= module.dim < len(shape):
        raise _error(module, where, f"has dim={module.dim}, out of range for its input of shape "
                                    f"{_describe(shape)}")
    return graph.node(type(module).__name__, [x], where, axis=module.dim), shape  # Softmax or LogSoftmax


def _gelu(module, graph, x, shape, where, prefix):
    if graph.opset >= 20:
        return graph.node("Gelu", [x], where, approximate=module.approximate), shape
    c = graph.constant
    if module.approximate == "none":  # x * (1 + erf(x / sqrt(2))) / 2
        z = graph.node("Mul", [x, c(f"{where}.sqrt_half", math.sqrt(0.5))], f"{where}.scale")
        cdf = graph.node("Erf", [z], f"{where}.erf")
        cdf = graph.node("Add", [cdf, c(f"{where}.one", 1.0)], f"{where}.add_one")
        cdf = graph.node("Mul", [cdf, c(f"{where}.half", 0.5)], f"{where}.half_cdf")
        return graph.node("Mul", [x, cdf], where), shape
    # x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) / 2, in the order ownnet computes it
    u = graph.node("Mul", [x, x], f"{where}.square")
    u = graph.node("Mul", [u, c(f"{where}.cubic", 0.044715)], f"{where}.cubic_term")
    u = graph.node("Add", [u, c(f"{where}.one", 1.0)], f"{where}.add_one")
    u = graph.node("Mul", [u, x], f"{where}.times_x")
    u = graph.node("Mul", [u, c(f"{where}.sqrt_2_over_pi", math.sqrt(2.0 / math.pi))], f"{where}.scale")
    t = graph.node("Tanh", [u], f"{where}.tanh")
    t = graph.node("Add", [t, c(f"{where}.one_again", 1.0)], f"{where}.add_one_to_tanh")
    t = graph.node("Mul", [t, x], f"{where}.times_x_again")
    return graph.node("Mul", [t, c(f"{where}.half", 0.5)], where), shape


def _batchnorm(module, graph, x, shape, where, prefix):
    _expect_2d(module, shape, module.num_features, where)
    n, dtype = module.num_features, graph.dtype
    weight = module.weight.data if module.affine else np.ones(n, dtype)
    bias = module.bias.data if module.affine else np.zeros(n, dtype)
    if module.track_running_stats:  # inference form: the running statistics
        inputs = [x, graph.constant(prefix + ("weight" if module.affine else "ones"), weight),
                  graph.constant(prefix + ("bias" if module.affine else "zeros"), bias),
                  graph.constant(prefix + "running_mean", module.running_mean),
                  graph.constant(prefix + "running_var", module.running_var)]
        return graph.node("BatchNormalization", inputs, where, epsilon=module.eps), shape
    # no running statistics: each batch is normalised with its own mean and biased variance
    centred = graph.node("Sub", [x, graph.reduce_mean_over_batch(x, f"{where}.mean")], f"{where}.centre")
    square = graph.node("Mul", [centred, centred], f"{where}.square")
    var = graph.reduce_mean_over_batch(square, f"{where}.var")
    std = graph.node("Sqrt", [graph.node("Add", [var, graph.constant(f"{where}.eps", module.eps)],
                                         f"{where}.add_eps")], f"{where}.std")
    out = graph.node("Div", [centred, std], f"{where}.normalise")
    if module.affine:
        out = graph.node("Mul", [out, graph.constant(prefix + "weight", weight)], f"{where}.scale")
        out = graph.node("Add", [out, graph.constant(prefix + "bias", bias)], where)
    return out, shape


def _flatten(module, graph, x, shape, where, prefix):
    ndim, start, end = len(shape), module.start_dim, module.end_dim
    for name, dim in (("start_dim", start), ("end_dim", end)):
        if not -ndim <= dim < ndim:
            raise _error(module, where, f"has {name}={dim}, out of range for its input of shape "
                                        f"{_describe(shape)}")
    start, end = start % ndim, end % ndim
    if start > end:
        raise _error(module, where, f"has start_dim={module.start_dim} after end_dim={module.end_dim} for "
                                    f"its input of shape {_describe(shape)}")
    merged = shape[start:end + 1]
    size = None if any(not isinstance(d, int) for d in merged) else math.prod(merged)
    out_shape = shape[:start] + (size,) + shape[end + 1:]
    if start == 1 and end == len(shape) - 1:  # the common case, (batch, ...) -> (batch, features)
        return graph.node("Flatten", [x], where, axis=1), out_shape
    # Reshape: 0 copies the input's size at the same position (the batch), -1 is the merged size; the
    # dimensions after end_dim are static (only the first dimension of a tensor is ever dynamic)
    target = [0 if not isinstance(d, int) else d for d in shape[:start]] + [-1] + list(shape[end + 1:])
    return graph.node("Reshape", [x, graph.int64_constant(f"{where}.shape", target)], where), out_shape


def _sequential(module, graph, x, shape, where, prefix):
    for index, child in enumerate(module.children()):
        x, shape = _convert(child, graph, x, shape, f"{where}.{index}", f"{prefix}{index}.")
    return x, shape


def _residual(module, graph, x, shape, where, prefix):
    out, out_shape = _convert(module.block, graph, x, shape, f"{where}.0", f"{prefix}0.")
    if out_shape != shape:
        raise _error(module, where, f"needs a block that keeps the shape of its input {_describe(shape)}, "
                                    f"the block would return {_describe(out_shape)}")
    return graph.node("Add", [x, out], where), shape


def _concat(module, graph, x, shape, where, prefix):
    outputs, width = [], 0
    for index, branch in enumerate(module.children()):
        out, out_shape = _convert(branch, graph, x, shape, f"{where}.{index}", f"{prefix}{index}.")
        if len(out_shape) != 2 or out_shape[0] != shape[0]:
            raise _error(module, where, f"needs branches that return (batch, features); branch {index} "
                                        f"would return {_describe(out_shape)}")
        outputs.append(out)
        width += out_shape[1]
    return graph.node("Concat", outputs, where, axis=1), (shape[0], width)


def _converters():
    return {
        Linear: _linear, ReLU: _elementwise("Relu"), LeakyReLU: _leaky_relu, Tanh: _elementwise("Tanh"),
        Sigmoid: _elementwise("Sigmoid"), GELU: _gelu, Softmax: _softmax, LogSoftmax: _softmax,
        Identity: _elementwise("Identity"),
        Dropout: _elementwise("Identity"), BatchNorm1d: _batchnorm, Flatten: _flatten,
        Sequential: _sequential, Residual: _residual, Concat: _concat,
    }


def exportable_types():
    """The module classes ``export_onnx`` can write (exact classes: a subclass may compute otherwise)."""
    return tuple(_converters())


def _convert(module, graph, x, shape, where, prefix):
    converter = _converters().get(type(module))
    if converter is None:
        known = ", ".join(sorted(cls.__name__ for cls in _converters()))
        raise ValueError(f"export_onnx: cannot export {module.label} at {where}: {type(module).__name__} "
                         f"has no ONNX equivalent here (exportable: {known})")
    return converter(module, graph, x, shape, where, prefix)


def _first_leaf(module):
    while module.children():
        module = module.children()[0]
    return module


def _resolve_input_shape(model, input_shape):
    if input_shape is None:
        first = _first_leaf(model)
        features = getattr(first, "in_features", None) or getattr(first, "num_features", None)
        if not isinstance(features, int):
            raise ValueError(f"input_shape: needed because the model starts with {type(first).__name__}, "
                             f"whose input size cannot be known; give the shape of one sample without "
                             f"the batch, e.g. input_shape=(28, 28) (command line: --input-shape 28,28)")
        return (features,)
    if isinstance(input_shape, int) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in input_shape):
        raise TypeError(f"input_shape: expected a tuple of positive integers (one sample's shape, batch "
                        f"excluded), got {input_shape!r}")
    if any(d < 1 for d in input_shape):
        raise ValueError(f"input_shape: expected positive sizes, got {tuple(input_shape)}")
    return tuple(int(d) for d in input_shape)


def build_onnx_model(model, input_shape=None, opset=DEFAULT_OPSET):
    """The ``onnx.ModelProto`` of ``model`` in inference form (what ``export_onnx`` writes), checked by
    ``onnx.checker``. Arguments as in ``export_onnx``."""
    onnx = _import_onnx()
    if not isinstance(model, Module):
        raise TypeError(f"model: expected an ownnet Module, got {type(model).__name__}")
    opset = DEFAULT_OPSET if opset is None else opset
    max_opset = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= max_opset:
        raise ValueError(f"opset: expected an integer from {MIN_OPSET} to {max_opset} (this onnx package's "
                         f"newest), got {opset!r}")
    input_shape = _resolve_input_shape(model, input_shape)
    dtype = np.dtype(model.dtype)
    elem_type = {np.dtype(np.float32): onnx.TensorProto.FLOAT,
                 np.dtype(np.float64): onnx.TensorProto.DOUBLE}[dtype]

    graph = _Graph(onnx, dtype, opset)
    shape = (BATCH, *input_shape)
    out, out_shape = _convert(model, graph, "input", shape, "model", "")
    if out == "input":  # the model is the identity: ONNX still needs a node between input and output
        out = graph.node("Identity", ["input"], "model.output")
    for node in graph.nodes:  # give the last tensor the public name "output"
        node.input[:] = ["output" if name == out else name for name in node.input]
        node.output[:] = ["output" if name == out else name for name in node.output]

    helper = onnx.helper
    onnx_graph = helper.make_graph(
        graph.nodes, "ownnet",
        [helper.make_tensor_value_info("input", elem_type, list(shape))],
        [helper.make_tensor_value_info("output", elem_type, list(out_shape))],
        initializer=graph.initializers,
        doc_string=f"Exported by ownnet from {type(model).__name__} (inference form)")
    proto = helper.make_model_gen_version(onnx_graph, opset_imports=[helper.make_opsetid("", opset)],
                                          producer_name="ownnet", producer_version=__version__)
    if proto.ByteSize() >= 2**31:
        raise ValueError(f"export_onnx: the model needs {proto.ByteSize() / 2**30:.1f} GiB, above the "
                         f"2 GiB limit of one ONNX (protobuf) file")
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path, input_shape=None, opset=DEFAULT_OPSET):
    """Write ``model`` as an ONNX file; returns the path written (``.onnx`` is added to a path without
    an extension). The write is atomic.

    The file computes what ``model.eval()`` computes (Dropout off, BatchNorm with its running
    statistics); the model's own mode is left unchanged. ``input_shape``: the shape of one sample,
    batch excluded (``(784,)``, ``(28, 28)``); it may be left out when the model starts with
    ``Linear`` or ``BatchNorm1d``. ``opset``: the ONNX operator set version (13 or later; default 17).
    Input ``"input"`` has shape ``(batch, *input_shape)`` with a dynamic ``batch``; output ``"output"``.

    Raises ``ValueError`` naming the layer and its position (``model.2.0``) for a layer with no ONNX
    equivalent or whose input would have the wrong shape; ``ImportError`` without the onnx package.

    Example::

        on.export_onnx(model, "mnist.onnx", input_shape=(784,))
        import onnxruntime as ort
        logits = ort.InferenceSession("mnist.onnx").run(None, {"input": x_test})[0]
    """
    proto = build_onnx_model(model, input_shape, opset)
    return _write(proto, path)


def _write(proto, path):
    path = os.fspath(path)
    if not os.path.splitext(path)[1]:
        path += ".onnx"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: the folder {folder} does not exist")
    with atomic_write(path) as file:
        file.write(proto.SerializeToString())
    return path


def parse_input_shape(text):
    """``"1,28,28"`` -> ``(1, 28, 28)`` (the command line's ``--input-shape``)."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise ValueError(f"--input-shape: expected comma-separated sizes like 1,28,28, "
                         f"got {text!r}") from None
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"--input-shape: expected positive sizes like 1,28,28, got {text!r}")
    return shape


def export_file(model, onnx_path, input_shape=None, opset=DEFAULT_OPSET):
    """``ownnet export MODEL --onnx OUT``: write ``model`` (a Module, or the path of a model file written
    by ``on.save``) as ONNX. ``input_shape`` may be a string like ``"1,28,28"``. Returns a one-line
    description of what was written."""
    if isinstance(input_shape, str):
        input_shape = parse_input_shape(input_shape)
    if not isinstance(model, Module):
        model = load(model)
    proto = build_onnx_model(model, input_shape, opset)
    path = _write(proto, onnx_path)

    def dims(value_info):
        return "(" + ", ".join(d.dim_param or str(d.dim_value) if (d.dim_param or d.dim_value) else "?"
                               for d in value_info.type.tensor_type.shape.dim) + ")"

    graph = proto.graph
    return (f"wrote {path}: input {dims(graph.input[0])} -> output {dims(graph.output[0])}, "
            f"{np.dtype(model.dtype).name}, opset {proto.opset_import[0].version}, {len(graph.node)} nodes, "
            f"{model.num_parameters():,} parameters")
