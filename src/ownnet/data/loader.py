"""``DataLoader``: mini-batches of ``(x, y)``, shuffled by a seeded generator, resumable mid-epoch.

Arrays are indexed on their first axis: ``x`` has shape ``(samples, ...)`` and ``y`` ``(samples, ...)``.
Nothing here copies a whole dataset per epoch: a batch is gathered when it is needed (``gather``),
into a preallocated array when asked (``batch_buffer``).
"""

import math
import numbers

import numpy as np

from ownnet import backend
from ownnet.data.checks import as_samples, check_same_length, make_rng, positive_int

__all__ = ["DataLoader", "batch_buffer", "gather"]


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
        self.x = as_samples(x, "x")
        if self.x.dtype.kind not in "fiub":
            raise TypeError(f"x: expected numeric data (float, int or bool), got dtype {self.x.dtype}")
        self.y = None if y is None else as_samples(y, "y")
        if self.y is not None:
            check_same_length(self.x, self.y)
        if len(self.x) == 0:
            raise ValueError(f"x: expected at least one sample, got shape {tuple(self.x.shape)}")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.reuse_buffers = bool(reuse_buffers)
        self.seed = seed
        self._rng = make_rng(seed)
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
