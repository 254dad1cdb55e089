"""Data sets: MNIST and Fashion-MNIST (IDX files), and small synthetic problems.

    from ownnet.datasets import load_mnist, make_moons
    (x_train, y_train), (x_test, y_test) = load_mnist()   # (60000, 784) float32, (60000,) int64
    x, y = make_moons(300, noise=0.1, seed=0)             # (300, 2) float32, (300,) int64
"""

from ownnet.data.datasets.idx import IDXFormatError, read_idx, write_idx
from ownnet.data.datasets.mnist import (
    DatasetNotFoundError,
    load_fashion_mnist,
    load_idx_dataset,
    load_mnist,
    mnist_cache_dir,
    verify_mnist,
)
from ownnet.data.datasets.synthetic import (
    make_blobs,
    make_circles,
    make_heteroscedastic,
    make_linearly_separable,
    make_moons,
    make_regression,
    make_sine,
    make_spirals,
    make_xor,
)
from ownnet.data.datasets.tabular import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine

__all__ = [
    "load_breast_cancer", "load_diabetes", "load_digits", "load_iris", "load_wine",
    "DatasetNotFoundError", "IDXFormatError", "load_fashion_mnist", "load_idx_dataset", "load_mnist",
    "make_blobs", "make_circles", "make_heteroscedastic", "make_linearly_separable", "make_moons",
    "make_regression", "make_sine", "make_spirals", "make_xor", "mnist_cache_dir", "read_idx",
    "verify_mnist", "write_idx",
]
