"""Property-based tests: random shapes, dtypes and values thrown at every layer and every loss.

Every outcome must be either a correct result -- the right shape, the module's (or pred's) dtype,
finite numbers for finite, moderate input, and a backward pass of the input's shape -- or a
``ValueError``/``TypeError``. Anything else (``IndexError``, ``AttributeError``, a NumPy broadcasting
result of the wrong shape, a NaN from finite input) fails. The layer list comes from
``ownnet.nn.module.MODULES`` and the loss list from ``ownnet.nn.losses.LOSSES``, so a new class is attacked
as soon as it exists (a class whose constructor needs arguments needs an entry in ``BUILDERS``).
"""

import importlib
import inspect
import math
import pkgutil

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import ownnet as on  # noqa: E402
from ownnet.nn.losses import LOSSES  # noqa: E402
from ownnet.nn.module import MODULES  # noqa: E402

for _info in pkgutil.walk_packages(on.__path__, "ownnet."):  # register every Module and Loss subclass
    if not _info.name.rsplit(".", 1)[-1].startswith("_"):
        try:
            importlib.import_module(_info.name)
        except ImportError:  # an optional dependency is missing: that module defines no layer here
            pass

SETTINGS = settings(max_examples=30, deadline=2000, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
MODERATE = 1e4
"""Inputs whose magnitudes stay below this must give finite outputs and gradients."""

DTYPES = [np.float32] * 4 + [np.float64] * 2 + [np.float16, np.int64, np.int8, np.uint8, np.bool_,
                                                  np.complex64, np.dtype("U3")]
SHAPES = st.one_of(*[hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5)] * 2,
                   *[hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)] * 2,
                   hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
SPECIAL = [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, -0.0]


def _elements(dtype, special):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        width = 32 if dtype.itemsize >= 4 else 16
        moderate = st.floats(-MODERATE, MODERATE, width=width)
        if not special:
            return moderate
        # NaN, inf, or values that overflow float16 (and float32 sums)
        return st.one_of(moderate, st.sampled_from(SPECIAL).map(dtype.type))
    return None  # hypothesis's own elements for ints, bools, complex and strings


@st.composite
def arrays(draw, shape=None, dtypes=DTYPES):
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = draw(SHAPES) if shape is None else shape
    special = draw(st.integers(0, 3)) == 0  # a quarter of the float arrays hold special values
    with np.errstate(over="ignore"):
        return draw(hnp.arrays(dtype, shape, elements=_elements(dtype, special)))


def _moderate(*arrays_):
    """True when every array is real, finite and small enough that no float32 computation overflows."""
    for array in arrays_:
        array = np.asarray(array)
        if array.dtype.kind not in "fiub":
            return False
        if array.size and (not np.isfinite(array).all() or np.abs(array.astype(np.float64)).max() > MODERATE):
            return False
    return True


def _feature_size(draw, shape):
    """The input's last dimension most of the time (a valid layer), a random size otherwise."""
    if shape and shape[-1] >= 1 and draw(st.booleans()):
        return shape[-1]
    return draw(st.integers(1, 6))


# --- layers ----------------------------------------------------------------------------------------
def _same(shape, layer):
    return shape


def _linear_shape(shape, layer):
    return (shape[0], layer.out_features)


def _flatten_shape(shape, layer):
    start, end = layer.start_dim % len(shape), layer.end_dim % len(shape)
    return shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]


BUILDERS = {
    # class name: (draw, input shape) -> (layer, expected output shape as a function of the input shape)
    "Linear": lambda draw, shape: (
        on.Linear(_feature_size(draw, shape), draw(st.integers(1, 4)), bias=draw(st.booleans())),
        _linear_shape),
    "BatchNorm1d": lambda draw, shape: (
        on.BatchNorm1d(_feature_size(draw, shape), affine=draw(st.booleans()),
                       track_running_stats=draw(st.booleans())), _same),
    "Dropout": lambda draw, shape: (on.Dropout(draw(st.sampled_from([0.0, 0.3, 0.9]))), _same),
    "LeakyReLU": lambda draw, shape: (on.LeakyReLU(draw(st.sampled_from([0.0, 0.01, 0.5, -1.0]))), _same),
    "GELU": lambda draw, shape: (on.GELU(draw(st.sampled_from(["none", "tanh"]))), _same),
    "Softmax": lambda draw, shape: (on.Softmax(draw(st.integers(-3, 2))), _same),
    "Flatten": lambda draw, shape: (on.Flatten(draw(st.integers(-3, 2)), draw(st.integers(-3, 2))),
                                    _flatten_shape),
    "Sequential": lambda draw, shape: (
        on.Sequential(on.Linear(_feature_size(draw, shape), 3), on.ReLU(), on.Linear(3, 2)),
        lambda shape, layer: (shape[0], 2)),
    "Residual": lambda draw, shape: (
        on.Residual(on.Sequential(on.Linear(_feature_size(draw, shape), 3), on.Tanh(),
                                  on.Linear(3, draw(st.sampled_from([2, 3, 4, 5]))))), None),
    "Concat": lambda draw, shape: (on.Concat(on.Linear(_feature_size(draw, shape), 2), on.Identity()), None),
}
ELEMENTWISE = {"ReLU", "Tanh", "Sigmoid", "Identity"}


def library_modules():
    return sorted(name for name, cls in MODULES.items() if cls.__module__.startswith("ownnet."))


def _builder(name):
    if name in BUILDERS:
        return BUILDERS[name]
    cls = MODULES[name]
    return lambda draw, shape: (cls(), _same if name in ELEMENTWISE else None)


def test_every_library_module_can_be_built():
    for name in library_modules():
        if name in BUILDERS:
            continue
        required = [p for p in inspect.signature(MODULES[name]).parameters.values()
                    if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
        assert not required, f"{name} needs constructor arguments: add it to BUILDERS in {__file__}"


def _check_layer_outcome(layer, expected_shape, x, training):
    layer.train(training)
    try:
        out = layer(x)
    except (ValueError, TypeError) as error:
        assert str(error)
        return "refused"
    converted = np.asarray(x)
    is_array = isinstance(out, np.ndarray) or on.backend.is_gpu_array(out)  # the GPU under OWNNET_BACKEND
    assert is_array and out.dtype == layer.dtype, (out.dtype, layer.dtype)
    if expected_shape is not None:
        assert out.shape == expected_shape(converted.shape, layer), (out.shape, converted.shape)
    if _moderate(converted):
        assert np.isfinite(out).all(), f"non-finite output for finite input {converted!r}"
    try:
        grad = layer.backward(np.ones_like(out))
    except (ValueError, TypeError) as error:
        raise AssertionError(f"backward refused the gradient of its own output: {error}") from error
    assert grad.shape == converted.shape and grad.dtype == out.dtype, (grad.shape, grad.dtype)
    if _moderate(converted):
        assert np.isfinite(grad).all()
    return "ok"


@pytest.mark.parametrize("name", library_modules())
@SETTINGS
@given(data=st.data())
def test_layers_give_a_correct_result_or_a_clear_error(name, data):
    x = data.draw(arrays(), label="x")
    layer, expected_shape = _builder(name)(data.draw, np.shape(x))
    event(_check_layer_outcome(layer, expected_shape, x, training=data.draw(st.booleans(), label="training")))


VALID = {
    # class name: features -> a layer that must accept (batch, features) input (default: cls())
    "Linear": lambda n: on.Linear(n, 3),
    "BatchNorm1d": lambda n: on.BatchNorm1d(n),
    "Sequential": lambda n: on.Sequential(on.Linear(n, 3), on.ReLU(), on.Linear(3, 2)),
    "Residual": lambda n: on.Residual(on.Sequential(on.Linear(n, 3), on.Tanh(), on.Linear(3, n))),
    "Concat": lambda n: on.Concat(on.Linear(n, 2), on.Identity()),
}


@pytest.mark.parametrize("name", library_modules())
@SETTINGS
@given(data=st.data())
def test_layers_on_valid_float_input_always_succeed(name, data):
    """Finite float input of a fitting shape is never refused (the errors above are not too eager)."""
    shape = (data.draw(st.integers(2, 5)), data.draw(st.integers(1, 5)))
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int64, np.bool_]))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-MODERATE, MODERATE, width=32)
                             if dtype in (np.float32, np.float64) else None))
    layer = VALID.get(name, lambda n: MODULES[name]())(shape[1])
    expected = {"Linear": _linear_shape, "Sequential": lambda s, layer: (s[0], 2),
                "Concat": lambda s, layer: (s[0], 2 + s[1])}.get(name, _same)
    assert _check_layer_outcome(layer, expected, x, training=data.draw(st.booleans())) == "ok"


# --- losses ----------------------------------------------------------------------------------------
@st.composite
def loss_inputs(draw):
    pred = draw(arrays(dtypes=[np.float32, np.float32, np.float64, np.float16, np.int32, np.dtype("U2")]))
    shape = np.shape(pred)
    kind = draw(st.sampled_from(["same", "probabilities", "labels", "random"]))
    if kind == "same" and shape:
        target = draw(arrays(shape=shape))
    elif kind == "probabilities" and shape:
        target = draw(hnp.arrays(np.float32, shape, elements=st.floats(0, 1, width=32)))
    elif kind == "labels" and shape:
        classes = shape[1] if len(shape) > 1 else 2
        labels = st.integers(-1, classes)
        target = draw(hnp.arrays(draw(st.sampled_from([np.int64, np.int32, np.float32])), shape[:1],
                                 elements=labels))
    else:
        target = draw(arrays())
    if draw(st.booleans()):  # BCELoss and friends need values in [0, 1] to get past their checks
        with np.errstate(invalid="ignore"):
            pred = np.clip(pred, 0, 1) if pred.dtype.kind == "f" else pred
    return pred, target


@pytest.mark.parametrize("name", sorted(LOSSES))
@SETTINGS
@given(inputs=loss_inputs(), reduction=st.sampled_from(["mean", "sum"]))
def test_losses_give_a_correct_result_or_a_clear_error(name, inputs, reduction):
    pred, target = inputs
    loss = LOSSES[name](reduction=reduction)
    try:
        value = loss(pred, target)
    except (ValueError, TypeError) as error:
        assert str(error)
        event("refused")
        return
    event("ok")
    assert isinstance(value, float)
    fair = pred.dtype in (np.float32, np.float64) and _moderate(pred, target)
    if fair:
        assert math.isfinite(value), f"{name} gave {value} for finite pred and target"
    grad = loss.backward()
    assert grad.shape == pred.shape and grad.dtype == pred.dtype, (grad.shape, grad.dtype)
    if fair:
        assert np.isfinite(grad).all()
