"""The small real data sets shipped inside scikit-learn, in ownnet's (x, y) conventions."""

import sys

import numpy as np
import pytest

from ownnet.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine

CLASSIFICATION = {  # loader -> (samples, features, samples per class)
    load_breast_cancer: (569, 30, [212, 357]),
    load_wine: (178, 13, [59, 71, 48]),
    load_iris: (150, 4, [50, 50, 50]),
    load_digits: (1797, 64, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
}


@pytest.fixture(autouse=True)
def needs_sklearn():
    pytest.importorskip("sklearn")


@pytest.mark.parametrize("loader", list(CLASSIFICATION), ids=lambda f: f.__name__)
def test_classification_sets_shapes_dtypes_and_classes(loader):
    n, features, counts = CLASSIFICATION[loader]
    x, y = loader()
    assert x.shape == (n, features) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == counts
    assert np.isfinite(x).all()
    assert loader(dtype="float64")[0].dtype == np.float64


def test_the_values_are_scikit_learns():
    import sklearn.datasets

    x, y = load_wine(dtype="float64")
    bunch = sklearn.datasets.load_wine()
    np.testing.assert_array_equal(x, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_diabetes_is_regression_with_a_column_target():
    x, y = load_diabetes()
    assert x.shape == (442, 10) and y.shape == (442, 1)
    assert x.dtype == y.dtype == np.float32
    assert 25 <= y.min() and y.max() <= 346
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-6)  # scaled=True: centred, unit norm
    np.testing.assert_allclose(np.linalg.norm(x, axis=0), 1.0, rtol=1e-5)
    raw, _ = load_diabetes(scaled=False)
    assert raw[:, 0].min() >= 19 and raw[:, 0].max() <= 79  # ages in years
    with pytest.raises(TypeError, match="scaled"):
        load_diabetes(scaled="no")


def test_digits_are_normalised_like_mnist():
    x, y = load_digits()
    assert x.min() == 0.0 and x.max() == 1.0
    raw, _ = load_digits(normalize=False)
    assert raw.max() == 16.0
    np.testing.assert_allclose(raw / 16, x)
    images, _ = load_digits(flatten=False)
    assert images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(images[5].ravel(), x[5])
    with pytest.raises(TypeError, match="flatten"):
        load_digits(flatten=1)


def test_a_bad_dtype_is_named():
    with pytest.raises(TypeError, match="dtype"):
        load_iris(dtype="int32")


def test_missing_sklearn_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"ownnet\[sklearn\]"):
        load_wine()
