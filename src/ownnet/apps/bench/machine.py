"""What the bench records about the machine: the CPU model, the BLAS library and the kernel it picked
(threadpoolctl), the OpenBLAS overrides in the environment, the SGEMM peak, a process's peak memory."""

import os
import platform
import resource
import sys
import time

import numpy as np

from ownnet.apps.bench.nets import gemm_shapes

OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def cpu_model():
    """The CPU as /proc/cpuinfo names it, with its vendor, family and model numbers (a virtual
    machine's name can be as short as "AMD EPYC": the numbers tell the generation)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if not line.strip():
                    break  # the first processor is enough
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    numbers = ", ".join(f"{key} {fields[key]}" for key in ("cpu family", "model") if key in fields)
    name = fields.get("model name", platform.processor() or platform.machine())
    return f"{name} ({fields.get('vendor_id', 'unknown vendor')}{', ' + numbers if numbers else ''})"


def machine_report():
    """One line about the machine: architecture, CPU model, cores, OS."""
    return f"{platform.machine()}, {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}"


def openblas_overrides(env):
    """``{variable: value or None}`` for OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in ``env``."""
    return {name: env.get(name) for name in OPENBLAS_OVERRIDES}


def blas_info():
    """The BLAS pools of this process as threadpoolctl sees them; ``architecture`` is the kernel that
    OpenBLAS picked (or was told to pick by OPENBLAS_CORETYPE)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed: pip install threadpoolctl"}]
    keep = ("internal_api", "version", "num_threads", "architecture", "threading_layer", "filepath")
    return [{k: pool.get(k) for k in keep} for pool in threadpool_info() if pool.get("user_api") == "blas"]


def limit_threads(threads):
    """Hold the BLAS pools to ``threads`` for as long as the returned object lives (None without
    threadpoolctl; the parent sets OPENBLAS_NUM_THREADS too)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def sgemm_peak(seconds=3.0):
    """The best float32 GEMM rate (GFLOP/s) of NumPy's BLAS on the shapes of these nets' training
    steps, now: what a perfect framework, spending all its time in those products, would reach."""
    best = 0.0
    rng = np.random.default_rng(0)
    shapes = gemm_shapes()
    for m, k, n in shapes:
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        out = np.empty((m, n), dtype=np.float32)
        np.matmul(a, b, out=out)
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(shapes):
            np.matmul(a, b, out=out)
            reps += 1
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9)
    return best


def peak_rss_mib():
    """This process's peak resident memory: VmHWM (reset at exec), else ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def numba_loaded():
    """Numba's version when this process has loaded it, else None. In the ownnet and ceiling workers
    only ownnet's compiled kernels load Numba, so this says which element-wise code ran, whatever
    module of ownnet holds those kernels."""
    numba = sys.modules.get("numba")
    return None if numba is None else numba.__version__
