"""Preparing arrays before training: ``train_test_split``, ``one_hot`` and ``Standardizer`` (zero mean,
unit variance per feature), as scikit-learn names them.

Arrays are indexed on their first axis: ``x`` has shape ``(samples, ...)`` and ``y`` ``(samples, ...)``.
"""

import math
import numbers

import numpy as np

from ownnet import backend
from ownnet.data.checks import as_samples, check_same_length, make_rng, positive_int

__all__ = ["Standardizer", "one_hot", "train_test_split"]


def train_test_split(x, y=None, test_size=0.25, shuffle=True, seed=None, stratify=None):
    """Split ``x`` (and ``y``) into a training and a test part, as scikit-learn does.

    ``test_size``: a float in (0, 1) is a fraction of the samples (the test part gets
    ``ceil(test_size * n)``), an int is a number of samples. ``stratify``: labels (usually ``y``)
    whose class proportions both parts keep. ``shuffle=False`` takes the last samples as the test part.
    Returns ``(x_train, x_test, y_train, y_test)``, or ``(x_train, x_test)`` when ``y`` is None.
    """
    x = as_samples(x, "x")
    y = None if y is None else as_samples(y, "y")
    n = len(x)
    if y is not None:
        check_same_length(x, y)
    n_test = _test_count(test_size, n)
    n_train = n - n_test
    if n_train < 1:
        raise ValueError(
            f"test_size: with {n} samples and test_size={test_size!r} the training part would be empty"
        )
    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify: a stratified split needs shuffle=True")
        stratify = as_samples(stratify, "stratify")
        check_same_length(x, stratify, "x", "stratify")
        train, test = _stratified_indices(stratify, n_test, make_rng(seed))
    elif shuffle:
        order = make_rng(seed).permutation(n)
        train, test = order[:n_train], order[n_train:]
    else:
        train, test = slice(0, n_train), slice(n_train, n)
    parts = [x[train], x[test]]
    if y is not None:
        parts += [y[train], y[test]]
    return tuple(parts)


def _test_count(test_size, n):
    if isinstance(test_size, bool):
        raise ValueError(f"test_size: expected a float in (0, 1) or an int, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size < n:
            raise ValueError(f"test_size: an int must be in [1, {n - 1}] for {n} samples, got {test_size}")
        return int(test_size)
    if isinstance(test_size, numbers.Real):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size: a float must be in (0, 1), got {test_size}")
        return math.ceil(test_size * n)
    raise ValueError(f"test_size: expected a float in (0, 1) or an int, got {test_size!r}")


def _stratified_indices(labels, n_test, rng):
    """Train and test indices with each class's share of the test part proportional to its size
    (largest-remainder rounding, so the shares sum to ``n_test``)."""
    if labels.ndim != 1:
        labels = labels.reshape(len(labels), -1)
        _, codes = np.unique(labels, axis=0, return_inverse=True)
    else:
        _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    counts = np.bincount(codes)
    n, n_classes = len(codes), len(counts)
    if counts.min() < 2:
        raise ValueError(
            f"stratify: every class needs at least 2 samples, the smallest class has {counts.min()}"
        )
    if n_test < n_classes or n - n_test < n_classes:
        raise ValueError(
            f"stratify: both parts need at least one sample per class ({n_classes} classes), "
            f"got a test part of {n_test} and a training part of {n - n_test}"
        )
    exact = counts * n_test / n
    per_class = np.floor(exact).astype(np.int64)
    remainder = n_test - int(per_class.sum())
    if remainder:
        # ties between equal remainders are broken at random, not always in favour of the first class
        keys = np.lexsort((rng.random(n_classes), -(exact - per_class)))
        per_class[keys[:remainder]] += 1
    train, test = [], []
    for code in range(n_classes):
        members = rng.permutation(np.flatnonzero(codes == code))
        test.append(members[:per_class[code]])
        train.append(members[per_class[code]:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def one_hot(labels, n_classes=None, dtype=None):
    """Integer class labels ``(samples,)`` -> one-hot rows ``(samples, n_classes)`` of ``dtype``
    (the default float dtype unless given). ``n_classes`` defaults to ``max(labels) + 1``.

    Example: ``one_hot([2, 0])`` -> ``[[0, 0, 1], [1, 0, 0]]``.
    """
    dtype = backend.resolve_dtype(dtype)
    labels = as_samples(labels, "labels")
    if labels.ndim != 1:
        raise ValueError(f"labels: expected shape (samples,), got {tuple(labels.shape)}")
    if labels.dtype.kind == "f":
        if not bool(np.all(np.isfinite(labels))) or not bool(np.all(labels == np.round(labels))):
            raise ValueError("labels: expected whole numbers (class indices), got fractional or NaN values")
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    if n_classes is None:
        if labels.size == 0:
            raise ValueError("n_classes: cannot be inferred from empty labels; pass n_classes")
        n_classes = int(labels.max()) + 1
    n_classes = positive_int(n_classes, "n_classes")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels: expected values in [0, {n_classes - 1}], got values in "
            f"[{labels.min()}, {labels.max()}]"
        )
    xp = backend.xp_of(labels)
    out = xp.zeros((labels.shape[0], n_classes), dtype=dtype)
    out[xp.arange(labels.shape[0]), labels] = 1
    return out


class Standardizer:
    """Per-feature standardisation: ``(x - mean_) / scale_``, statistics from ``fit(x)``.

    Shape: ``x`` ``(samples, ...)``; ``mean_`` and ``scale_`` have shape ``x.shape[1:]`` and are
    float64 (computed in float64, in chunks, without copying ``x``). ``transform`` returns the input's
    float dtype (integer input: the default float dtype), never an upcast. A feature whose standard
    deviation is below ``eps * max(1, |mean|)`` is constant: its scale is 1 (it becomes 0, not NaN).

    Example::

        scaler = Standardizer()
        x_train = scaler.fit_transform(x_train)
        x_test = scaler.transform(x_test)          # with the training statistics
    """

    _CHUNK = 8192

    def __init__(self, eps=1e-8):
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"eps: expected a non-negative number, got {eps!r}")
        self.eps = float(eps)
        self.mean_ = None
        self.scale_ = None

    def _check_input(self, x, name="x"):
        x = as_samples(x, name)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{name}: expected numeric data (float, int or bool), got dtype {x.dtype}")
        if len(x) == 0:
            raise ValueError(f"{name}: expected at least one sample, got shape {tuple(x.shape)}")
        return x

    def fit(self, x):
        """Compute ``mean_`` and ``scale_`` (the population standard deviation) of ``x``."""
        x = self._check_input(x)
        xp, n = backend.xp_of(x), len(x)
        total = xp.zeros(x.shape[1:], dtype=np.float64)
        for start in range(0, n, self._CHUNK):
            chunk = x[start:start + self._CHUNK]
            if not bool(xp.isfinite(chunk).all()):
                raise ValueError("x: contains NaN or inf values; expected finite numbers")
            total += chunk.sum(axis=0, dtype=np.float64)
        mean = total / n
        squares = xp.zeros_like(mean)
        for start in range(0, n, self._CHUNK):  # second pass: sum of squared deviations (stable)
            squares += ((x[start:start + self._CHUNK] - mean) ** 2).sum(axis=0)
        std = xp.sqrt(squares / n)
        self.mean_ = mean
        self.scale_ = xp.where(std < self.eps * xp.maximum(1.0, xp.abs(mean)), 1.0, std)
        return self

    def _fitted(self, x, name):
        if self.mean_ is None:
            raise ValueError("Standardizer: call fit(x) before transform or inverse_transform")
        x = self._check_input(x, name)
        if tuple(x.shape[1:]) != tuple(self.mean_.shape):
            raise ValueError(
                f"{name}: expected samples of shape {tuple(self.mean_.shape)} (as in fit), "
                f"got {tuple(x.shape[1:])}"
            )
        if backend.get_check_finite() and not backend.all_finite(x):
            raise ValueError(f"{name}: contains NaN or inf values; expected finite numbers")
        dtype = x.dtype if x.dtype.kind == "f" else backend.get_default_dtype()
        return x, dtype

    def transform(self, x):
        """``(x - mean_) / scale_`` in ``x``'s float dtype."""
        x, dtype = self._fitted(x, "x")
        return (x.astype(dtype, copy=False) - self.mean_.astype(dtype)) / self.scale_.astype(dtype)

    def inverse_transform(self, x):
        """``x * scale_ + mean_``: undo ``transform``."""
        x, dtype = self._fitted(x, "x")
        return x.astype(dtype, copy=False) * self.scale_.astype(dtype) + self.mean_.astype(dtype)

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    # --- saving --------------------------------------------------------------------------------
    def get_state(self):
        """``{"mean": array, "scale": array, "eps": 0-d array}``: arrays only, for ``io.write_tensors``."""
        if self.mean_ is None:
            raise ValueError("Standardizer: call fit(x) before get_state")
        return {"mean": self.mean_.copy(), "scale": self.scale_.copy(),
                "eps": np.asarray(self.eps, dtype=np.float64)}

    @classmethod
    def from_state(cls, state):
        """Rebuild a fitted ``Standardizer`` from ``get_state()``."""
        if not isinstance(state, dict) or not {"mean", "scale"} <= set(state):
            raise ValueError("Standardizer.from_state: expected a dict with 'mean' and 'scale' arrays")
        mean = np.array(state["mean"], dtype=np.float64)
        scale = np.array(state["scale"], dtype=np.float64)
        if mean.shape != scale.shape:
            raise ValueError(
                f"Standardizer.from_state: mean has shape {mean.shape} but scale has shape {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("Standardizer.from_state: mean must be finite and scale finite and positive")
        standardizer = cls(float(state.get("eps", 1e-8)))
        standardizer.mean_ = backend.xp.asarray(mean)
        standardizer.scale_ = backend.xp.asarray(scale)
        return standardizer

    def __repr__(self):
        shape = None if self.mean_ is None else tuple(self.mean_.shape)
        return f"Standardizer(eps={self.eps}, features={shape})"
