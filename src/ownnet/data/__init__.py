"""Feeding data to a model: ``DataLoader`` (mini-batches), ``train_test_split``, ``one_hot`` and
``Standardizer`` (zero mean, unit variance per feature).

Arrays are indexed on their first axis: ``x`` has shape ``(samples, ...)`` and ``y`` ``(samples, ...)``.
Nothing here copies a whole dataset per epoch: a batch is gathered when it is needed.
"""

import math
import numbers

import numpy as np

from ownnet import backend

__all__ = ["DataLoader", "Standardizer", "one_hot", "train_test_split"]


def _as_samples(array, name):
    """``array`` as an array with a first (sample) axis; arrays (and memmaps) are kept, not copied."""
    if not (isinstance(array, np.ndarray) or backend.is_gpu_array(array)):
        try:
            array = np.asarray(array)
        except (ValueError, TypeError) as error:
            raise TypeError(f"{name}: expected an array, could not convert it ({error})") from None
    if array.ndim == 0:
        raise ValueError(f"{name}: expected an array of shape (samples, ...), got a scalar")
    if array.dtype.hasobject:
        raise TypeError(f"{name}: expected numeric data, got dtype {array.dtype}")
    return array


def _check_same_length(x, y, x_name="x", y_name="y"):
    if len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of samples, "
            f"got len({x_name})={len(x)} and len({y_name})={len(y)}"
        )


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _make_rng(seed):
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as error:
        raise TypeError(f"seed: expected None or a non-negative integer, got {seed!r} ({error})") from None


def gather(array, index, out=None):
    """``array[index]`` along the first axis, into ``out`` when given."""
    if isinstance(array, np.ndarray):
        # mode="clip" skips the bounds-check buffering that mode="raise" does with out=; indices are valid
        return np.take(array, index, axis=0, out=out, mode="clip")
    if backend.is_gpu_array(array):  # index: a GPU array too (DataLoader uploads each permutation once)
        taken = backend.xp_of(array).take(array, index, axis=0, out=out)
        return taken if out is None else out  # the buffer itself: a captured graph reads from it
    return array[index]


def batch_buffer(array, batch_size):
    """An empty ``(batch_size, ...)`` array to gather full batches of ``array`` into (None for no array)."""
    if array is None or not (isinstance(array, np.ndarray) or backend.is_gpu_array(array)):
        return None
    return backend.xp_of(array).empty((batch_size,) + array.shape[1:], dtype=array.dtype)


class DataLoader:
    """Mini-batches of ``(x_batch, y_batch)`` (or ``x_batch`` alone when ``y`` is None).

    Every sample appears exactly once per epoch (one ``for`` loop over the loader). With
    ``shuffle=True`` each epoch draws a new permutation from ``np.random.default_rng(seed)``, so the
    whole sequence of epochs is reproducible from ``seed``; ``state_dict()``/``load_state_dict()``
    save and restore that generator (and the position inside an epoch), so a resumed run sees exactly
    the batches an uninterrupted run would have seen. ``len(loader)`` is the number of batches per
    epoch; ``drop_last=True`` drops a last batch smaller than ``batch_size``.

    Shape: ``x`` ``(samples, ...)`` -> batches ``(batch_size, ...)`` (the last may be smaller).
    Without shuffling the batches are views of ``x`` and ``y`` (no copy). With shuffling each batch is
    gathered into a new array; ``reuse_buffers=True`` gathers every full batch into the same
    preallocated array instead (faster, no allocation per step), and then **a yielded batch is only
    valid until the next one is produced** -- use it for a training loop that consumes each batch
    before asking for the next, never for ``list(loader)``.

    Example::

        loader = DataLoader(x_train, y_train, batch_size=64, seed=0)
        for epoch in range(10):
            for x_batch, y_batch in loader:
                ...
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=True, seed=None, drop_last=False,
                 reuse_buffers=False):
        self.x = _as_samples(x, "x")
        if self.x.dtype.kind not in "fiub":
            raise TypeError(f"x: expected numeric data (float, int or bool), got dtype {self.x.dtype}")
        self.y = None if y is None else _as_samples(y, "y")
        if self.y is not None:
            _check_same_length(self.x, self.y)
        if len(self.x) == 0:
            raise ValueError(f"x: expected at least one sample, got shape {tuple(self.x.shape)}")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.reuse_buffers = bool(reuse_buffers)
        self.seed = seed
        self._rng = _make_rng(seed)
        self._buffers = None
        # resuming: where the current epoch's permutation came from and how many batches it has given
        self._epoch_start_state = None
        self._batches_done = 0
        self._in_epoch = False
        self._resume_batches = 0
        self._epoch_token = 0

    @property
    def num_samples(self):
        return len(self.x)

    def __len__(self):
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self):
        # the permutation is drawn here, not lazily, so that state_dict() right after iter() is exact
        self._epoch_start_state = self._rng.bit_generator.state if self.shuffle else None
        order = self._rng.permutation(self.num_samples) if self.shuffle else None
        if order is not None and backend.is_gpu_array(self.x):
            order = self._device_order(order)
        start_batch, self._resume_batches = self._resume_batches, 0
        self._batches_done = start_batch
        self._in_epoch = True
        self._epoch_token += 1
        return self._batches(order, start_batch, self._epoch_token)

    def _batches(self, order, start_batch, token):
        n, size = self.num_samples, self.batch_size
        for index in range(start_batch, len(self)):
            start, stop = index * size, min((index + 1) * size, n)
            if order is None:
                x_batch = self.x[start:stop]
                y_batch = None if self.y is None else self.y[start:stop]
            else:
                rows = order[start:stop]
                full = self.reuse_buffers and stop - start == size
                x_out, y_out = self._batch_buffers() if full else (None, None)
                x_batch = gather(self.x, rows, x_out)
                y_batch = None if self.y is None else gather(self.y, rows, y_out)
            if token == self._epoch_token:
                self._batches_done = index + 1
            yield x_batch if self.y is None else (x_batch, y_batch)
        if token == self._epoch_token:
            self._in_epoch = False

    def _device_order(self, order):
        """The permutation on the GPU, in one array reused every epoch (filled, never reallocated, so
        that a captured CUDA graph that reads batches from it stays valid)."""
        if getattr(self, "_order_buffer", None) is None:
            self._order_buffer = backend.xp_of(self.x).empty(len(order), dtype=order.dtype)
        self._order_buffer.set(order)
        return self._order_buffer

    def _batch_buffers(self):
        if self._buffers is None:
            self._buffers = (batch_buffer(self.x, self.batch_size), batch_buffer(self.y, self.batch_size))
        return self._buffers

    # --- resuming ------------------------------------------------------------------------------
    def state_dict(self):
        """The loader's position, JSON-serialisable: the generator state and, when taken inside an
        epoch, the state that epoch's permutation was drawn from and the number of batches given."""
        inside = self._in_epoch and self._batches_done < len(self)
        if inside and self.shuffle:
            rng_state = self._epoch_start_state
        else:
            rng_state = self._rng.bit_generator.state
        return {
            "rng_state": rng_state,
            "batches_done": self._batches_done if inside else 0,
            "num_samples": self.num_samples,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state):
        """Restore a ``state_dict()``: the next epoch continues exactly where the saved run was."""
        if not isinstance(state, dict):
            raise TypeError(f"DataLoader.load_state_dict: expected a dict, got {type(state).__name__}")
        missing = sorted({"rng_state", "batches_done", "num_samples", "batch_size"} - set(state))
        if missing:
            raise ValueError(f"DataLoader.load_state_dict: missing keys {missing}")
        for key, own in (("num_samples", self.num_samples), ("batch_size", self.batch_size),
                         ("shuffle", self.shuffle), ("drop_last", self.drop_last)):
            if key in state and state[key] != own:
                raise ValueError(
                    f"DataLoader.load_state_dict: the state was saved with {key}={state[key]!r}, "
                    f"this loader has {key}={own!r}; the batches would differ"
                )
        done = state["batches_done"]
        if isinstance(done, bool) or not isinstance(done, numbers.Integral) or not 0 <= done <= len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: batches_done must be an integer in [0, {len(self)}], "
                f"got {done!r}"
            )
        try:
            self._rng.bit_generator.state = state["rng_state"]
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"DataLoader.load_state_dict: invalid rng_state ({error})") from None
        self._resume_batches = int(done)
        self._batches_done = 0
        self._in_epoch = False

    def __repr__(self):
        return (f"DataLoader(samples={self.num_samples}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")


def train_test_split(x, y=None, test_size=0.25, shuffle=True, seed=None, stratify=None):
    """Split ``x`` (and ``y``) into a training and a test part, as scikit-learn does.

    ``test_size``: a float in (0, 1) is a fraction of the samples (the test part gets
    ``ceil(test_size * n)``), an int is a number of samples. ``stratify``: labels (usually ``y``)
    whose class proportions both parts keep. ``shuffle=False`` takes the last samples as the test part.
    Returns ``(x_train, x_test, y_train, y_test)``, or ``(x_train, x_test)`` when ``y`` is None.
    """
    x = _as_samples(x, "x")
    y = None if y is None else _as_samples(y, "y")
    n = len(x)
    if y is not None:
        _check_same_length(x, y)
    n_test = _test_count(test_size, n)
    n_train = n - n_test
    if n_train < 1:
        raise ValueError(
            f"test_size: with {n} samples and test_size={test_size!r} the training part would be empty"
        )
    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify: a stratified split needs shuffle=True")
        stratify = _as_samples(stratify, "stratify")
        _check_same_length(x, stratify, "x", "stratify")
        train, test = _stratified_indices(stratify, n_test, _make_rng(seed))
    elif shuffle:
        order = _make_rng(seed).permutation(n)
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
    labels = _as_samples(labels, "labels")
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
    n_classes = _positive_int(n_classes, "n_classes")
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
        x = _as_samples(x, name)
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
