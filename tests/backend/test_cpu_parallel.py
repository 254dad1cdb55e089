"""The parallel element-wise loops (``ownnet.backend.cpu_loops``, chosen by ``ownnet.backend.cpu_parallel``)
give bitwise the serial loops' and the NumPy reference's results, on sizes below and above the
parallel threshold, float32 and float64; the choice between them (by mode, threads, layer, fork, and
by timing) is tested with made-up timings. Skipped where Numba is missing or switched off."""

import os
import threading

import numpy as np
import pytest

from ownnet.backend import cpu_kernels, cpu_parallel
from ownnet.backend.ops import NumbaOps, NumpyOps

REFERENCE = NumpyOps()
CHUNK = 16384
SIZES = [5, CHUNK - 1, 3 * CHUNK + 5, cpu_parallel.MIN_PARALLEL_SIZE + 7, 401408]


@pytest.fixture
def loops():
    pytest.importorskip("numba")
    if os.environ.get("OWNNET_NUMBA") == "0":
        pytest.skip("OWNNET_NUMBA=0 switches the compiled kernels off")
    assert cpu_kernels.available()
    from ownnet.backend import cpu_loops

    assert cpu_loops.CHUNK == CHUNK
    return cpu_loops


@pytest.fixture
def mode():
    """Set ``cpu_parallel``'s mode for one test; the environment's mode comes back afterwards."""
    yield cpu_parallel.set_mode
    cpu_parallel.set_mode(None)


def awkward(rng, size, dtype):
    """Random values with the edge cases of each formula: signed zeros, NaN, infinities, tiny values."""
    x = rng.standard_normal(size).astype(dtype)
    x[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30][: min(size, 6)]
    return x


def update_cases(rng, size, dtype):
    """``(method, args)`` of every update the loops cover, with the options that pick each branch."""
    def state():
        return [rng.standard_normal(size).astype(dtype) for _ in range(3)]

    def squares():
        return np.abs(rng.standard_normal(size)).astype(dtype)

    data, grad, buffer = state()
    return [
        ("sgd_update", (data, grad, buffer, {}, 0.05, 0.0, 0.9, 0.0, False, False)),  # sgd_momentum
        ("sgd_update", (data, grad, buffer, {}, 0.05, 1e-3, 0.9, 0.0, True, False)),
        ("sgd_update", (data, grad, None, {}, 0.05, 0.0, 0.0, 0.0, False, False)),
        ("adam_update", (data, grad, buffer, squares(), None, {}, (0.9, 0.999), 1e-8, 1e-2, 3, 1e-2, True)),
        ("rmsprop_update", (data, grad, squares(), buffer, state()[0], {}, 1e-2, 0.9, 1e-8, 1e-3, 0.9)),
        ("rmsprop_update", (data, grad, squares(), None, None, {}, 1e-2, 0.99, 1e-8, 0.0, 0.0)),
    ]


def run_copy(ops, method, args):
    """The method's result and every array argument after the call, on copies of the arguments."""
    args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    with np.errstate(all="ignore"):
        result = getattr(ops, method)(*args)
    return ([] if result is None else [result]) + [a for a in args if isinstance(a, np.ndarray)]


def assert_bitwise(got, expected):
    """The same bits, -0.0 told from 0.0; a NaN matches any NaN (which of two NaN operands an x86
    instruction passes on, and so the sign of the NaN, depends on operand order, which the compiler may
    swap in a product)."""
    for have, want in zip(got, expected, strict=True):
        assert have.dtype == want.dtype
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(have), nan)
        np.testing.assert_array_equal(have[~nan].view(np.uint8), want[~nan].view(np.uint8))


def cases(size, dtype):
    rng = np.random.default_rng(size)
    x, g = awkward(rng, size, dtype), awkward(rng, size, dtype)
    y = np.maximum(x, 0)
    activations = [("relu", (x,)), ("relu_backward", (g, y)), ("tanh_backward", (g, np.tanh(x))),
                   ("sigmoid_backward", (g, 1 / (1 + np.exp(-np.abs(x)))))]
    return activations + update_cases(rng, size, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", SIZES)
def test_parallel_passes_are_bitwise_the_serial_ones_and_the_reference(loops, mode, size, dtype):
    for method, args in cases(size, dtype):
        expected = run_copy(REFERENCE, method, args)
        mode("0")
        serial = run_copy(NumbaOps(), method, args)
        mode("always")
        parallel = run_copy(NumbaOps(), method, args)
        assert_bitwise(serial, expected)
        assert_bitwise(parallel, expected)


def counting(monkeypatch, loops, name):
    """Count the calls of loop ``name``'s parallel variant."""
    calls = []
    original = getattr(loops, name + "_parallel")
    monkeypatch.setattr(loops, name + "_parallel", lambda *args: calls.append(1) or original(*args))
    return calls


def test_the_mode_and_the_size_decide_whether_the_parallel_loop_runs(loops, mode, monkeypatch):
    calls = counting(monkeypatch, loops, "relu")
    big = np.ones(cpu_parallel.MIN_PARALLEL_SIZE, np.float32)
    mode("always")
    cpu_kernels.relu(big[:-1])  # below the threshold: serial even when asked for parallel loops
    assert calls == []
    mode("0")
    cpu_kernels.relu(big)
    assert calls == [] and not cpu_parallel.allowed()
    mode("always")
    if not cpu_parallel.allowed():
        pytest.skip("no thread-safe threading layer with more than one thread here")
    cpu_kernels.relu(big)
    assert calls == [1]


def test_one_numba_thread_means_serial_loops(loops, mode):
    import numba

    mode("auto")
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert not cpu_parallel.allowed()
    finally:
        numba.set_num_threads(before)


def test_an_unknown_mode_is_refused_with_the_expected_values(monkeypatch, mode):
    monkeypatch.setenv("OWNNET_PARALLEL", "yes")
    mode(None)
    with pytest.raises(ValueError, match=r"OWNNET_PARALLEL: expected one of auto, 0, always, got 'yes'"):
        cpu_parallel.mode()
    with pytest.raises(ValueError, match="set_mode"):
        mode("2")


def test_a_layer_that_is_not_thread_safe_keeps_every_pass_serial(loops, mode, monkeypatch):
    import numba

    mode("always")
    monkeypatch.setattr(cpu_parallel, "_layer_safe", None)
    monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
    assert not cpu_parallel.allowed()
    calls = counting(monkeypatch, loops, "relu")
    x = np.arange(-70000.0, 70000.0, dtype=np.float32)
    np.testing.assert_array_equal(cpu_kernels.relu(x), np.maximum(x, 0))
    assert calls == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork: POSIX only")
def test_a_forked_child_runs_serial_loops(loops, mode):
    mode("auto")
    cpu_parallel.allowed()  # the parent loads the layer
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether parallel loops may run and whether a pass is right
        x = np.arange(-70000.0, 70000.0, dtype=np.float32)
        ok = not cpu_parallel.allowed() and np.array_equal(cpu_kernels.relu(x), np.maximum(x, 0))
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"


def test_concurrent_passes_from_several_threads_give_the_serial_results(loops, mode):
    mode("always")
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal(200_000).astype(np.float32) for _ in range(4)]
    expected = [np.maximum(x, 0) for x in inputs]
    results = [None] * len(inputs)

    def work(index):
        for _ in range(20):
            results[index] = cpu_kernels.relu(inputs[index])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


# --- the choice by timing, on made-up timings --------------------------------------------------------


def test_timings_try_each_variant_then_keep_the_faster():
    timings = cpu_parallel._Timings()
    assert timings.pick(now=0.0) == 0  # never timed: serial first
    timings.record(0, 10e-6, now=0.0)
    assert timings.pick(now=0.1) == 1  # then the parallel loop
    timings.record(1, 6e-6, now=0.1)
    assert timings.pick(now=0.2) == 1  # the faster
    timings.record(1, 300e-6, now=0.2)  # one slow call (preempted): the median of (6, 300) is 300...
    timings.record(1, 6e-6, now=0.25)  # ...of (6, 300, 6) is 6 again
    assert timings.typical(1) == 6e-6 and timings.pick(now=0.3) == 1
    for step in range(4):  # the host slows the parallel loop for good: the last KEEP calls decide
        timings.record(1, 20e-6, now=0.3 + step / 100)
    assert timings.typical(1) == 20e-6 and timings.pick(now=0.4) == 0
    assert len(timings.recent[1]) == cpu_parallel.KEEP


def test_timings_retry_the_slower_variant_after_a_while_and_forget_its_old_times():
    timings = cpu_parallel._Timings()
    timings.record(0, 10e-6, now=0.0)
    timings.record(1, 80e-6, now=0.0)  # a busy host: parallel 8x slower
    for step in range(1, 11):  # up to RETRY_SECONDS after the parallel loop's run
        assert timings.pick(now=step * cpu_parallel.RETRY_SECONDS / 10) == 0
        timings.record(0, 10e-6, now=step * cpu_parallel.RETRY_SECONDS / 10)
    later = 1.05 * cpu_parallel.RETRY_SECONDS
    assert timings.pick(now=later) == 1  # the host may have changed: run the parallel loop again
    timings.record(1, 5e-6, now=later)  # it did: the old 80 us is forgotten
    assert timings.recent[1] == [5e-6]
    assert timings.pick(now=later + 0.01) == 1


def test_a_very_slow_variant_is_retried_less_often():
    timings = cpu_parallel._Timings()
    timings.record(0, 1e-3, now=0.0)
    timings.record(1, 0.03, now=0.0)  # a busy host: 30 ms, retried after RETRY_COST * 30 ms
    wait = cpu_parallel.RETRY_COST * 0.03
    assert wait > cpu_parallel.RETRY_SECONDS
    timings.record(0, 1e-3, now=wait - 0.01)
    assert timings.pick(now=wait - 0.01) == 0
    assert timings.pick(now=wait + 0.01) == 1


def test_run_keeps_timings_per_op_and_size_class(loops, mode, monkeypatch):
    mode("auto")
    if not cpu_parallel.allowed():
        pytest.skip("no thread-safe threading layer with more than one thread here")
    monkeypatch.setattr(cpu_parallel, "_timings", {})
    x = np.ones(cpu_parallel.MIN_PARALLEL_SIZE * 2, np.float32)
    for _ in range(3):
        cpu_kernels.relu(x)
    cpu_kernels.relu(x[:1000])  # below the threshold: not timed
    ((key, (serial, parallel)),) = cpu_parallel.timings().items()
    assert key == ("relu", x.nbytes.bit_length())
    assert serial > 0 and parallel > 0  # each variant was tried


def test_openmp_threads_are_made_passive_while_the_layer_starts_and_the_environment_comes_back(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    with cpu_parallel._passive_openmp():
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice stands
    with cpu_parallel._passive_openmp():
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("GOMP_SPINCOUNT", "1000")
    with cpu_parallel._passive_openmp():
        assert "OMP_WAIT_POLICY" not in os.environ
