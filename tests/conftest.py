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
