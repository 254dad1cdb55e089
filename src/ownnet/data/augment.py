"""Data augmentation for image batches: random shifts (the cheap augmentation that helps an MLP)."""

import numpy as np

from ownnet import backend


class RandomShift:
    """Shift each image of a batch by up to ``max_shift`` pixels in x and y (zeros fill in).

    Shape: ``(batch, height * width)`` -> the same shape and dtype. Deterministic given ``seed``.
    Its generator state is saved in checkpoints through ``state_dict``.
    """

    def __init__(self, max_shift=2, image_shape=(28, 28), seed=None):
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"max_shift: expected a non-negative integer, got {max_shift!r}")
        self.max_shift, self.image_shape = max_shift, tuple(image_shape)
        self.rng = np.random.default_rng(seed)

    def __call__(self, x):
        height, width = self.image_shape
        if x.ndim != 2 or x.shape[1] != height * width:
            raise ValueError(f"RandomShift: expected (batch, {height * width}) images, got {tuple(x.shape)}")
        m = self.max_shift
        images = x.reshape(len(x), height, width)
        xp = backend.xp_of(x)
        padded = xp.zeros((len(x), height + 2 * m, width + 2 * m), dtype=x.dtype)
        padded[:, m:m + height, m:m + width] = images
        dy = self.rng.integers(0, 2 * m + 1, size=len(x))
        dx = self.rng.integers(0, 2 * m + 1, size=len(x))
        # One gather for the whole batch: row and column indices per image (drawn on the host, so
        # that both devices shift alike).
        rows = xp.asarray(dy[:, None] + np.arange(height)[None, :])
        cols = xp.asarray(dx[:, None] + np.arange(width)[None, :])
        out = padded[xp.arange(len(x))[:, None, None], rows[:, :, None], cols[:, None, :]]
        return out.reshape(len(x), height * width)

    def state_dict(self):
        return self.rng.bit_generator.state

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state
