"""Feeding data to a model: ``DataLoader`` (mini-batches), ``train_test_split``, ``one_hot`` and
``Standardizer`` (zero mean, unit variance per feature); ``augment`` and the ``datasets``.

    loader.py         DataLoader (shuffled by a seeded generator, resumable mid-epoch), gather, batch_buffer
    preprocessing.py  train_test_split, one_hot, Standardizer
    checks.py         the argument checks they share
    augment.py        RandomShift
    datasets/         MNIST and Fashion-MNIST (IDX files), scikit-learn's small tables, synthetic problems

Arrays are indexed on their first axis: ``x`` has shape ``(samples, ...)`` and ``y`` ``(samples, ...)``.
Nothing here copies a whole dataset per epoch: a batch is gathered when it is needed.
"""

from ownnet.data.loader import DataLoader, batch_buffer, gather
from ownnet.data.preprocessing import Standardizer, one_hot, train_test_split

__all__ = ["DataLoader", "Standardizer", "batch_buffer", "gather", "one_hot", "train_test_split"]
