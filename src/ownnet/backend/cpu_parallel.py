"""Whether an element-wise pass of ``cpu_kernels`` runs on one core or on all of them, decided by
timing both as they run.

An optimizer update or an activation pass reads and writes memory and does little arithmetic; Adam's
update does more. Split over the cores (``cpu_loops``'s ``*_parallel`` loops), such a pass can run
faster: on the project's 2-core AMD EPYC, timed alone (``benchmarks/parallel_kernels.py``), the
SGD-momentum update of the canonical net's first weight matrix (401,408 floats) took 72 us instead of
119 us and Adam's 0.91 ms instead of 1.67 ms. But whether it pays depends on what else holds the cores
at that moment, which no constant threshold and no choice made once per process can know:

- in a training step every such pass follows a matrix product, and OpenBLAS's worker threads keep
  spinning on the other cores for a while after it: there the parallel pass was no faster than the
  serial one (the SGD-momentum update above 365 us against 345 us, inside the step);
- on a busy host (other processes, or another guest, on the cores) a thread may be late to arrive, and
  the pass waits for it: there the parallel pass took 3 to 50 times longer than the serial one.

So ``run`` times both variants as they run:

- below ``MIN_PARALLEL_SIZE`` elements, always the serial loop (starting the threads cannot pay);
- above it, per op and size class (the array's size in bytes, rounded to a power of two), the variant
  with the lower recent time (the median of its last ``KEEP`` calls), retrying the other one
  every ``RETRY_SECONDS`` (less often where it is very slow) so that a host that changes pace is
  followed within about a second.

Both variants give bitwise the same result (``cpu_loops``), so the choice never changes a number.

The parallel loops run only where they are safe:

- Numba's threading layer must be thread-safe (``omp`` or ``tbb``): models may run forwards from
  several Python threads (``ownnet serve``, scikit-learn users). With the ``workqueue`` layer (Numba's
  fallback where neither is installed) every pass stays serial.
- Not in a process forked from one that used the layer (GNU OpenMP cannot run in such a child).
- ``numba.set_num_threads(1)`` (in the calling thread) and ``NUMBA_NUM_THREADS=1`` give the serial loop.
- ``OWNNET_PARALLEL``: ``auto`` (the default: timed as above), ``0`` (always serial) or ``always``
  (parallel above ``MIN_PARALLEL_SIZE``, for benchmarks); ``set_mode`` does the same from Python.
"""

import contextlib
import os
import threading
import time

MIN_PARALLEL_SIZE = 1 << 17
"""Below this many elements a pass is always serial. Measured with ``benchmarks/parallel_kernels.py``
on the project's 2-core AMD EPYC: an SGD-momentum pass over 65,536 float32 elements takes ~17 us on
one core and ~13 us on two, a gain of ~4 us that the timing in ``run`` (~4 us) would eat."""
RETRY_SECONDS = 1.0
"""How often, at most, the variant that lost is run again, to see whether the host changed pace..."""
RETRY_COST = 100
"""...and at most once per this many times its own last time: on a host so busy that the losing
variant takes 30 ms, it runs again after 3 s, so that retrying costs at most ~1% of the time."""
KEEP = 5
"""How many recent times of each variant the choice looks at (their median)."""
THREAD_SAFE_LAYERS = ("omp", "tbb")
MODES = ("auto", "0", "always")

_mode = None  # one of MODES; None: read OWNNET_PARALLEL at the next call
_layer_safe = None  # None: the threading layer is not loaded yet; then whether it is thread-safe
_layer_lock = threading.Lock()
_timings = {}  # (op name, size class) -> _Timings


def set_mode(mode):
    """``"auto"``, ``"0"`` (serial) or ``"always"``, as ``OWNNET_PARALLEL``; None reads the variable again."""
    global _mode
    _mode = None if mode is None else _checked_mode(str(mode), "cpu_parallel.set_mode")


def mode():
    """The mode in force: ``set_mode``'s, else ``OWNNET_PARALLEL``'s, else ``"auto"``."""
    global _mode
    if _mode is None:
        _mode = _checked_mode(os.environ.get("OWNNET_PARALLEL", "auto"), "OWNNET_PARALLEL")
    return _mode


def _checked_mode(value, where):
    if value not in MODES:
        raise ValueError(f"{where}: expected one of {', '.join(MODES)}, got {value!r}")
    return value


def allowed():
    """Whether a parallel loop may run now, from this thread (see the module's docstring)."""
    if mode() == "0":
        return False
    if _layer_safe is None:
        _load_layer()
    if not _layer_safe:
        return False
    import numba

    return numba.get_num_threads() > 1


def _load_layer():
    """Load Numba's threading layer once (under a lock: ``workqueue`` must never start twice at once)
    and note whether it is thread-safe; a layer that cannot load leaves every pass serial."""
    global _layer_safe
    import numba

    with _layer_lock:
        if _layer_safe is not None:
            return
        try:
            with _passive_openmp():
                numba.get_num_threads()  # loads the layer (and its OpenMP runtime) and starts its threads
            _layer_safe = numba.threading_layer() in THREAD_SAFE_LAYERS
        except ValueError:  # NUMBA_THREADING_LAYER names a layer that is not installed
            _layer_safe = False


@contextlib.contextmanager
def _passive_openmp():
    """``OMP_WAIT_POLICY=PASSIVE`` while the OpenMP runtime of Numba's ``omp`` layer starts (it reads the
    variable once, then), unless the user set it or ``GOMP_SPINCOUNT``; the environment is restored
    afterwards, so that no other library or child process sees the change.

    GNU OpenMP's threads otherwise spin for a while after each parallel loop (300,000 rounds): the
    spinning thread holds the core that OpenBLAS's next product needs. Measured here, a 128x784x512
    SGEMM followed by a parallel 401,408-element update took 8.6 ms a pair with the spinning threads
    and 1.1 ms with passive ones (1.3 ms with the serial update), on a loaded machine; passive threads
    sleep at once, so a parallel loop's whole cost, waking them included, is inside the time that
    ``run`` measures."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        yield
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield
    finally:
        del os.environ["OMP_WAIT_POLICY"]


def _after_fork_in_child():
    global _layer_safe
    if _layer_safe:
        _layer_safe = False  # the parent's threads are not in the child


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Timings:
    """The last few seconds per call of one op's serial (0) and parallel (1) loop at one size class."""

    def __init__(self):
        self.recent = ([], [])
        self.last_run = [0.0, 0.0]

    def typical(self, variant):
        """The median of the variant's last ``KEEP`` times (None before its first run): one slow call,
        the thread preempted say, does not flip the choice."""
        times = sorted(self.recent[variant])
        return times[len(times) // 2] if times else None

    def pick(self, now):
        """The variant to run: one never timed, else the slower one if its last run is older than
        ``RETRY_SECONDS`` and ``RETRY_COST`` times its time, else the faster one."""
        typical = [self.typical(0), self.typical(1)]
        for variant in (0, 1):
            if typical[variant] is None:
                return variant
        best = 0 if typical[0] <= typical[1] else 1
        other = 1 - best
        retry = now - self.last_run[other] > max(RETRY_SECONDS, RETRY_COST * typical[other])
        return other if retry else best

    def record(self, variant, seconds, now):
        recent = self.recent[variant]
        if now - self.last_run[variant] > RETRY_SECONDS:  # older times are of another phase: forget them
            recent.clear()
        recent.append(seconds)
        del recent[:-KEEP]
        self.last_run[variant] = now


def run(name, serial, parallel, *args):
    """Run op ``name`` over the whole of ``args[0]`` (flat arrays and scalars, as ``cpu_loops`` takes
    them): ``serial(0, size, *args)`` or ``parallel(*args)``, whichever the mode and the timings pick."""
    first = args[0]
    if first.size < MIN_PARALLEL_SIZE or not allowed():
        serial(0, first.size, *args)
        return
    if _mode == "always":
        parallel(*args)
        return
    key = (name, first.nbytes.bit_length())
    timings = _timings.get(key)
    if timings is None:
        timings = _timings[key] = _Timings()
    now = time.perf_counter()
    variant = timings.pick(now)
    if variant:
        parallel(*args)
    else:
        serial(0, first.size, *args)
    timings.record(variant, time.perf_counter() - now, now)


def timings():
    """``{(op, size class): (serial seconds, parallel seconds)}``: the recent medians ``run`` chooses
    by (None where a variant has not run), for benchmarks and curious users."""
    return {key: (t.typical(0), t.typical(1)) for key, t in _timings.items()}
