"""Small real data sets that ship inside scikit-learn (no download): diabetes, breast cancer, wine,
iris and the 8x8 digits, in ownnet's ``(x, y)`` conventions.

scikit-learn is an optional extra (``pip install 'ownnet[sklearn]'``); it is imported only when a
loader is called. Every loader returns the whole set (split it with ``ownnet.train_test_split``):

- classification: ``x`` ``(n_samples, n_features)`` in ``dtype`` (default: ``get_default_dtype()``,
  float32), ``y`` ``(n_samples,)`` int64 class indices;
- regression: ``x`` as above, ``y`` ``(n_samples, 1)`` in ``dtype`` (the shape of a
  ``Linear(n_features, 1)`` output, as ``make_regression``).

    x, y = load_wine()                   # (178, 13) float32, (178,) int64 in 0..2
    x, y = load_diabetes()               # (442, 10) float32, (442, 1) float32
"""

import numpy as np

from ownnet import backend


def _sklearn_datasets():
    try:
        import sklearn.datasets
    except ImportError:
        raise ImportError("this data set ships inside scikit-learn: pip install 'ownnet[sklearn]'") from None
    return sklearn.datasets


def _classification(bunch, dtype):
    dtype = backend.resolve_dtype(dtype)
    return np.asarray(bunch.data, dtype=np.float64).astype(dtype), np.asarray(bunch.target, dtype=np.int64)


def load_diabetes(scaled=True, dtype=None):
    """Diabetes progression one year after baseline (regression): 442 patients, 10 features (age, sex,
    body mass index, blood pressure, six blood serum measurements); the target ranges over 25..346.

    ``scaled=True`` (scikit-learn's default): each feature centred and scaled to unit norm; ``False``:
    the original values. Shape: ``x`` ``(442, 10)``, ``y`` ``(442, 1)``, both in ``dtype``.
    """
    dtype = backend.resolve_dtype(dtype)
    if not isinstance(scaled, bool):
        raise TypeError(f"scaled: expected True or False, got {scaled!r}")
    bunch = _sklearn_datasets().load_diabetes(scaled=scaled)
    return bunch.data.astype(dtype), bunch.target.reshape(-1, 1).astype(dtype)


def load_breast_cancer(dtype=None):
    """Breast cancer Wisconsin (diagnostic), two classes: 0 malignant (212), 1 benign (357); 30
    features of cell nuclei. Shape: ``x`` ``(569, 30)`` in ``dtype``, ``y`` ``(569,)`` int64."""
    return _classification(_sklearn_datasets().load_breast_cancer(), dtype)


def load_wine(dtype=None):
    """Wine recognition: 178 wines from three cultivars (classes 0, 1, 2 with 59, 71, 48 wines), 13
    chemical measurements of very different scales (standardise them). Shape: ``x`` ``(178, 13)``,
    ``y`` ``(178,)`` int64."""
    return _classification(_sklearn_datasets().load_wine(), dtype)


def load_iris(dtype=None):
    """Fisher's iris: 150 flowers, three species (50 each), 4 measurements in cm.
    Shape: ``x`` ``(150, 4)``, ``y`` ``(150,)`` int64."""
    return _classification(_sklearn_datasets().load_iris(), dtype)


def load_digits(normalize=True, flatten=True, dtype=None):
    """Handwritten digits 0..9 as 8x8 images (1797 of them, about 180 per digit): a small MNIST.

    Pixels are in [0, 1] with ``normalize=True`` (as ``load_mnist``) or the raw 0..16 otherwise.
    Shape: ``x`` ``(1797, 64)`` (``(1797, 8, 8)`` with ``flatten=False``) in ``dtype``, ``y`` ``(1797,)``
    int64.
    """
    for name, value in (("normalize", normalize), ("flatten", flatten)):
        if not isinstance(value, bool):
            raise TypeError(f"{name}: expected True or False, got {value!r}")
    x, y = _classification(_sklearn_datasets().load_digits(), dtype)
    if normalize:
        x /= x.dtype.type(16)
    return (x if flatten else x.reshape(-1, 8, 8)), y
