"""Shared test setup: point OWNNET_DATA at the repository's shared MNIST copy when it exists.

The folder is ``<repository root>/../shared/data/mnist`` (next to the checkout); a user's own
OWNNET_DATA is left alone. Tests that need the real MNIST files take the ``mnist_dir`` fixture, which
skips them when no such folder exists.
"""

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
    """The folder holding the four real MNIST IDX files (OWNNET_DATA); skips the test if there is none."""
    folder = Path(os.environ.get("OWNNET_DATA") or SHARED_MNIST)
    if not _has_mnist(folder):
        pytest.skip(f"the real MNIST files are not available (looked in {folder}; set OWNNET_DATA)")
    return folder
