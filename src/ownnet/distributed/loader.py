"""``ShardedLoader``: each rank's shard of every global batch (``shard_bounds`` rows of it)."""

import numpy as np

from ownnet.data import DataLoader, batch_buffer, gather
from ownnet.data.checks import as_samples, check_same_length, positive_int


def shard_bounds(rows, rank, size):
    """``(start, stop)``: rank ``rank``'s contiguous part of ``rows`` rows split over ``size`` ranks
    (sizes differ by at most one, the first ranks take the extra rows)."""
    base, extra = divmod(rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class ShardedLoader:
    """Rank ``rank``'s shard of every global batch: a ``DataLoader`` for data-parallel training.

    Every rank builds it over the *same* ``(x, y)`` with the same ``seed``; the global batches are
    exactly those of ``DataLoader(x, y, batch_size * size, shuffle, seed)`` (same permutations), and
    rank ``r`` keeps rows ``shard_bounds(len(batch), r, size)`` of each: disjoint, covering the batch,
    deterministic. ``weight`` is this rank's share of the current global batch
    (``len(shard) / len(batch)``); ``DistributedOptimizer`` scales the gradient by it. A last global
    batch with fewer rows than ranks is skipped (a rank would get nothing).

    Shape: ``x`` ``(samples, ...)`` -> shards ``(batch_size, ...)`` (the last may be smaller).
    ``len(loader)`` is the number of steps per epoch; ``state_dict()`` is the global loader's, so a
    checkpoint resumes with any number of ranks that keeps ``batch_size * size``.
    """

    def __init__(self, x, y=None, batch_size=32, rank=0, size=1, shuffle=True, seed=None,
                 reuse_buffers=False):
        size = positive_int(size, "size")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < size:
            raise ValueError(f"rank: expected an integer in [0, {size - 1}], got {rank!r}")
        self.x = as_samples(x, "x")
        self.y = None if y is None else as_samples(y, "y")
        if self.y is not None:
            check_same_length(self.x, self.y)
        self.batch_size = positive_int(batch_size, "batch_size")
        self.rank, self.size = int(rank), size
        self.reuse_buffers = bool(reuse_buffers)
        self.indices = DataLoader(np.arange(len(self.x)), batch_size=self.batch_size * size,
                                  shuffle=shuffle, seed=seed)
        remainder = len(self.x) % (self.batch_size * size)
        self._skip_last = 0 < remainder < size
        self.weight = 1.0 / size
        self._buffers = None

    @property
    def num_samples(self):
        return len(self.x)

    @property
    def global_batch_size(self):
        return self.batch_size * self.size

    @property
    def shuffle(self):
        return self.indices.shuffle

    def __len__(self):
        return len(self.indices) - self._skip_last

    def __iter__(self):
        batches = iter(self.indices)  # draws the permutation now, as DataLoader does (for state_dict)
        return self._shards(batches)

    def _shards(self, batches):
        for rows in batches:
            n = len(rows)
            if n < self.size:
                continue  # keep consuming: the global loader must reach the end of its epoch
            start, stop = shard_bounds(n, self.rank, self.size)
            self.weight = (stop - start) / n
            if not self.indices.shuffle:  # contiguous rows: views, no copy
                first = int(rows[0]) + start
                part = slice(first, first + stop - start)
                yield self.x[part] if self.y is None else (self.x[part], self.y[part])
                continue
            mine = rows[start:stop]
            x_out, y_out = self._batch_buffers() if self.reuse_buffers and len(mine) == self.batch_size \
                else (None, None)
            x_batch = gather(self.x, mine, x_out)
            yield x_batch if self.y is None else (x_batch, gather(self.y, mine, y_out))

    def _batch_buffers(self):
        if self._buffers is None:
            self._buffers = (batch_buffer(self.x, self.batch_size), batch_buffer(self.y, self.batch_size))
        return self._buffers

    def samples_per_epoch(self):
        """Rows this rank sees per epoch."""
        n, global_batch = self.num_samples, self.global_batch_size
        full, remainder = divmod(n, global_batch)
        start, stop = shard_bounds(remainder, self.rank, self.size)
        return full * self.batch_size + (stop - start if remainder >= self.size else 0)

    def state_dict(self):
        return self.indices.state_dict()

    def load_state_dict(self, state):
        self.indices.load_state_dict(state)

    def __repr__(self):
        return (f"ShardedLoader(rank={self.rank}, size={self.size}, samples={self.num_samples}, "
                f"batch_size={self.batch_size} per rank, {self.global_batch_size} per step, "
                f"steps={len(self)})")
