"""Every method of every ops class against the NumPy reference (``NumpyOps``), on random inputs in
float32 and float64.

- ``NumbaOps`` (where Numba is installed and not switched off): bitwise the reference for the
  activations, the updates and the accuracy count, to a few ulps for the cross-entropy (its row sums run
  in another order); arrays a kernel does not take (not C-contiguous, float16) give the reference's
  result itself.
- ``CupyOps``, on the CPU: CuPy replaced by NumPy and each CUDA kernel by a NumPy stand-in that binds
  its arguments by the names the kernel declares (so a wrapper that passes them in another order
  fails), cuBLAS by a stand-in that takes the arguments ``gemm_arguments`` computes; the optimizers'
  one-launch step over flat arrays runs through it. ``tests/backend/test_gpu.py`` runs the real
  kernels where there is a GPU.
"""

import copy
import inspect
import os
import sys
import types

import numpy as np
import pytest

import ownnet as on
import ownnet.optim.optimizer as optimizer_module
from ownnet.backend import cpu_kernels, ops_for, ops_for_device
from ownnet.backend.cuda import cublas, kernels
from ownnet.backend.ops import CupyOps, NumbaOps, NumpyOps, cupy_ops

DTYPES = ["float32", "float64"]
REFERENCE = NumpyOps()


# --- the cases: every method, with the arguments it is called with -------------------------------------


def arrays(rng, dtype, *shapes):
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def update_state(rng, dtype, shape=(6, 5)):
    data, grad = arrays(rng, dtype, shape, shape)
    return data, grad, np.abs(rng.standard_normal(shape)).astype(dtype)  # a state that must stay >= 0


def cases(rng, dtype):
    """``[(method, args, kwargs, bitwise under Numba)]``: every public method of ``NumpyOps``."""
    a, b, c = arrays(rng, dtype, (7, 5), (5, 3), (7, 3))
    x, g = arrays(rng, dtype, (33, 17), (33, 17))
    x[0, :3] = [0.0, -0.0, 1e-30]  # ties at zero and a tiny value
    relu_out, tanh_out, sigmoid_out = np.maximum(x, 0), np.tanh(x), 1 / (1 + np.exp(-x))
    logits = (rng.standard_normal((37, 10)) * 8).astype(dtype)
    logits[0] = [1e4, -1e4] + [0.0] * 8
    labels = rng.integers(0, 10, 37)
    scores = rng.integers(0, 3, (40, 4)).astype(dtype)  # ties: the first largest wins
    data, grad, square = update_state(rng, dtype)
    buffer, m, v_max = arrays(rng, dtype, data.shape, data.shape, data.shape)
    v_max = np.abs(v_max) + square
    scale = np.dtype(dtype).type(1 / 37)
    result = [
        ("matmul", (a, b), {}, True),
        ("matmul", (a, b, c.copy(), True), {}, True),
        ("column_sum_into", (g, np.zeros(17, dtype), False), {}, True),
        ("column_sum_into", (g, c[0, :1].repeat(17).astype(dtype), True), {}, True),
        ("relu", (x,), {}, True),
        ("relu_backward", (g, relu_out), {}, True),
        ("tanh", (x,), {}, True),
        ("tanh_backward", (g, tanh_out), {}, True),
        ("sigmoid", (x,), {}, True),
        ("sigmoid_backward", (g, sigmoid_out), {}, True),
        ("erf", (x,), {}, True),
        ("softmax_cross_entropy", (logits, labels, 0.0, scale), {}, False),
        ("softmax_cross_entropy", (logits, labels.astype(np.int32), 0.1, np.dtype(dtype).type(1)), {}, False),
        ("count_correct", (rng.integers(0, 4, 40), scores), {}, True),
        ("count_correct", (np.array([0, -1, 2, 1]), scores[:4]), {}, True),
        ("adam_update", (data, grad, m, square, None, {}, (0.9, 0.999), 1e-8, 1e-2, 3, 0.0, False), {}, True),
        ("adam_update", (data, grad, m, square, None, {}, (0.8, 0.99), 1e-6, 1e-2, 1, 1e-3, False), {}, True),
        ("adam_update", (data, grad, m, square, None, {}, (0.9, 0.999), 1e-8, 1e-2, 7, 0.1, True), {}, True),
        ("adam_update", (data, grad, m, square, v_max, {}, (0.9, 0.99), 1e-8, 1e-2, 2, 0.0, False), {}, True),
        ("rmsprop_update", (data, grad, square, None, None, {}, 1e-2, 0.99, 1e-8, 0.0, 0.0), {}, True),
        ("rmsprop_update", (data, grad, square, m, buffer, {}, 1e-2, 0.9, 1e-8, 1e-3, 0.9), {}, True),
    ]
    for momentum, dampening, nesterov, weight_decay, first in [
        (0.0, 0.0, False, 0.0, False), (0.0, 0.0, False, 1e-2, False), (0.9, 0.0, False, 0.0, False),
        (0.9, 0.0, False, 0.0, True), (0.9, 0.0, True, 1e-3, False), (0.5, 0.3, False, 0.0, False),
    ]:
        arguments = (0.07, weight_decay, momentum, dampening, nesterov, first)
        result.append(("sgd_update", (data, grad, buffer if momentum else None, {}, *arguments), {}, True))
    return result


def case_ids():
    return [f"{name}-{index}" for index, (name, *_) in enumerate(cases(np.random.default_rng(0), "float64"))]


def run(ops, name, args, kwargs):
    """The method's result and every array argument after the call (the updates work in place)."""
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    result = getattr(ops, name)(*args, **kwargs)
    results = result if isinstance(result, tuple) else (result,)
    return [np.asarray(r) for r in results if r is not None] + [a for a in args if isinstance(a, np.ndarray)]


def assert_same(got, expected, bitwise, dtype):
    assert len(got) == len(expected)
    for have, want in zip(got, expected):
        assert have.shape == want.shape and have.dtype == want.dtype
        if bitwise:
            np.testing.assert_array_equal(have, want)
        else:
            tol = 1e-5 if dtype == "float32" else 1e-12
            np.testing.assert_allclose(have, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max())))


def test_the_cases_cover_every_method_of_the_reference():
    methods = inspect.getmembers(NumpyOps, inspect.isfunction)
    public = {name for name, _ in methods if not name.startswith("_")}
    assert {name for name, *_ in cases(np.random.default_rng(0), "float64")} == public


# --- Numba -------------------------------------------------------------------------------------------


def require_numba():
    pytest.importorskip("numba")
    if os.environ.get("OWNNET_NUMBA") == "0":
        pytest.skip("OWNNET_NUMBA=0 switches the compiled kernels off")
    assert cpu_kernels.available()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(len(case_ids())), ids=case_ids())
def test_numba_ops_give_the_reference_results(index, dtype):
    require_numba()
    name, args, kwargs, bitwise = cases(np.random.default_rng(index), dtype)[index]
    expected = run(REFERENCE, name, args, kwargs)
    assert_same(run(NumbaOps(), name, args, kwargs), expected, bitwise, dtype)


@pytest.mark.parametrize("index", range(len(case_ids())), ids=case_ids())
def test_numba_ops_fall_back_to_the_reference_for_other_layouts(index):
    """Fortran-ordered arrays (not C-contiguous) and float16: the reference's own code runs."""
    require_numba()
    for dtype, layout in (("float64", np.asfortranarray), ("float16", np.asarray)):
        name, args, kwargs, _ = cases(np.random.default_rng(index), dtype)[index]
        args = tuple(layout(a) if isinstance(a, np.ndarray) and a.ndim == 2 else a for a in args)
        with np.errstate(all="ignore"):
            assert_same(run(NumbaOps(), name, args, kwargs), run(REFERENCE, name, args, kwargs), True, dtype)


def test_each_device_has_one_ops_object_and_the_cpu_follows_the_switch():
    x = np.zeros(3)
    assert ops_for(x) is ops_for_device("cpu") is ops_for_device("numpy")
    cpu_kernels.set_enabled(False)
    try:
        assert type(ops_for(x)) is NumpyOps and type(ops_for_device("cpu")) is NumpyOps
        assert type(on.Linear(2, 2).to("cpu").ops) is NumpyOps  # a module takes its ops when built
    finally:
        cpu_kernels.set_enabled(True)
    expected = NumbaOps if cpu_kernels.available() else NumpyOps
    assert type(ops_for(x)) is expected and type(on.Linear(2, 2).weight.ops) is expected


# --- CuPy on the CPU: NumPy stand-ins for CuPy, its kernels and cuBLAS ---------------------------------


class FakeCupy:
    """NumPy in CuPy's place, with an ``ElementwiseKernel`` that runs the kernel's NumPy stand-in."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def ElementwiseKernel(inputs, outputs, body, name):  # noqa: N802 (CuPy's name)
        return StandInKernel(inputs, outputs, name)


def declared_names(parameters):
    return [declaration.split()[-1] for declaration in parameters.split(",")]


class StandInKernel:
    """Binds the call's arguments to the names the kernel declares, in order; outputs not passed are
    new arrays like the first input array; returns the output(s), as CuPy does."""

    def __init__(self, inputs, outputs, name):
        self.inputs, self.outputs = declared_names(inputs), declared_names(outputs)
        self.body = STAND_INS[name.removeprefix("ownnet_")]

    def __call__(self, *args, size=None):
        values = dict(zip(self.inputs + self.outputs, args))
        like = next(value for value in args if isinstance(value, np.ndarray))
        given = {name: values[name] for name in self.outputs if name in values}
        for name, value in self.body(values, size).items():
            if name in given:
                given[name][...] = value
            else:
                given[name] = np.asarray(value, dtype=like.dtype if name != "hit" else np.float64)
        out = [given[name] for name in self.outputs]
        return out[0] if len(out) == 1 else tuple(out)


def stand_in_sgd_momentum(a, size):
    d = a["g"] + a["wd"] * a["p"] if a["wd"] != 0 else a["g"]
    b = d if a["first"] else a["momentum"] * a["b"] + (1 - a["dampening"]) * d
    return {"b": b, "p": a["p"] - a["lr"] * (d + a["momentum"] * b if a["nesterov"] else b)}


def stand_in_adam(a, size):
    p = a["p"] * a["decay"]
    d = a["g"] + a["wd"] * p if a["wd"] != 0 else a["g"]
    m = a["beta1"] * a["m"] + (1 - a["beta1"]) * d
    v = a["beta2"] * a["v"] + (1 - a["beta2"]) * d * d
    return {"m": m, "v": v, "p": p - a["step_size"] * (m / (np.sqrt(v) / a["bias2_sqrt"] + a["eps"]))}


def stand_in_softmax_cross_entropy(a, size):
    z, labels, classes, eps = a["z"], a["labels"], a["C"], a["eps"]
    shifted = z - z.max(axis=1, keepdims=True)
    log_s = np.log(np.exp(shifted).sum(axis=1))
    target = np.full(z.shape, eps / classes)
    target[np.arange(len(z)), labels] += 1 - eps
    row_loss = log_s - (target * shifted).sum(axis=1)
    return {"row_loss": row_loss, "grad": (np.exp(shifted - log_s[:, None]) - target) * a["scale"]}


STAND_INS = {
    "relu_backward": lambda a, size: {"dx": np.where(a["y"] > 0, a["g"], 0)},
    "tanh_backward": lambda a, size: {"dx": a["g"] * (1 - a["y"] * a["y"])},
    "sigmoid_backward": lambda a, size: {"dx": a["g"] * a["y"] * (1 - a["y"])},
    "sgd": lambda a, size: {"p": a["p"] - a["lr"] * (a["g"] + a["wd"] * a["p"] if a["wd"] != 0 else a["g"])},
    "sgd_momentum": stand_in_sgd_momentum,
    "adam": stand_in_adam,
    "softmax_cross_entropy": stand_in_softmax_cross_entropy,
    "argmax_equals": lambda a, size: {"hit": (a["z"].argmax(axis=1) == a["labels"])[:size]},
}
assert set(STAND_INS) == set(kernels._ELEMENTWISE) | set(kernels._ROWWISE)


class StandInCublas:
    def gemm(self, a, b, c, accumulate):
        cublas.gemm_arguments(a, b, c)  # the layouts cuBLAS would be given exist (else it raises)
        c[...] = a @ b + (c if accumulate else 0)


@pytest.fixture
def gpu_ops(monkeypatch):
    """``CupyOps`` on NumPy arrays: CuPy, its kernels and cuBLAS replaced by the stand-ins above."""
    fake = FakeCupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    special = types.ModuleType("cupyx.scipy.special")
    special.erf = REFERENCE.erf
    for name in ("cupyx", "cupyx.scipy"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "cupyx.scipy.special", special)
    monkeypatch.setattr(kernels, "_cupy", lambda: fake)
    monkeypatch.setattr(cublas, "_cublas", StandInCublas)
    monkeypatch.setattr(cublas, "check_device", lambda *args: None)
    monkeypatch.setattr(cupy_ops, "ones_row", lambda n, dtype: np.ones((1, n), dtype))
    kernels._kernel.cache_clear()
    yield CupyOps(cupy=fake)
    kernels._kernel.cache_clear()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(len(case_ids())), ids=case_ids())
def test_cupy_ops_give_the_reference_results_with_stand_ins(gpu_ops, index, dtype):
    name, args, kwargs, _ = cases(np.random.default_rng(index), dtype)[index]
    if name == "count_correct" and (args[0] < 0).any():
        pytest.skip("on the GPU labels are checked once by fit, not by the count")
    expected = run(REFERENCE, name, args, kwargs)
    got = run(gpu_ops, name, args, kwargs)
    assert_same([g.astype(e.dtype) for g, e in zip(got, expected)], expected, False, dtype)


OPTIMIZERS = [
    lambda p: on.SGD(p, lr=0.1),
    lambda p: on.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: on.SGD(p, lr=0.07, momentum=0.5, dampening=0.3),
    lambda p: on.Adam(p, lr=1e-2, weight_decay=1e-3),
    lambda p: on.AdamW(p, lr=1e-2),
    lambda p: on.Adam(p, lr=1e-2, amsgrad=True),  # no kernel: the reference, on the flat arrays
    lambda p: on.RMSProp(p, lr=1e-2, momentum=0.9, centered=True),
]


def trajectory(make, ops, monkeypatch, steps=12):
    monkeypatch.setattr(optimizer_module, "ops_for_device", lambda device: ops)
    rng = np.random.default_rng(4)
    on.manual_seed(0)
    model = on.Sequential(on.Linear(6, 4, dtype="float64"), on.Linear(4, 3, dtype="float64")).to("cpu")
    optimizer = make(model.parameters())
    for _ in range(steps):
        for p in model.parameters():
            p.grad[...] = rng.standard_normal(p.shape)
        optimizer.step()
    return model.parameters(), optimizer


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_the_one_launch_step_over_flat_arrays_follows_the_reference(gpu_ops, make, monkeypatch):
    expected, reference = trajectory(make, REFERENCE, monkeypatch)
    got, flat = trajectory(make, gpu_ops, monkeypatch)
    assert flat._flat is not None and all(np.shares_memory(p.data, flat._flat.data) for p in got)
    for p, q in zip(got, expected):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)
    state, reference_state = flat.state_dict()["state"], reference.state_dict()["state"]
    assert state.keys() == reference_state.keys()
    for key, array in state.items():
        np.testing.assert_allclose(array, reference_state[key], rtol=1e-12, atol=1e-14, err_msg=key)


def test_the_flat_step_gives_way_when_the_parameters_stop_sharing_a_dtype(gpu_ops, monkeypatch):
    params, optimizer = trajectory(lambda p: on.SGD(p, lr=0.1), gpu_ops, monkeypatch, steps=2)
    assert optimizer._step == optimizer._step_flat
    params[0].data = params[0].data.astype(np.float32)  # what model.layers[0].to("float32") does
    params[0].grad = np.ones(params[0].shape, np.float32)
    before = params[0].data.copy()
    optimizer.step()
    assert optimizer._step == optimizer._step_each and params[0].data.dtype == np.float32
    np.testing.assert_allclose(params[0].data, before - np.float32(0.1))
