"""train_test_split (scikit-learn's sizes, stratified), one_hot and Standardizer."""

import numpy as np
import pytest

from ownnet.data import Standardizer, one_hot, train_test_split


def _dataset(n=23, features=3):
    x = np.arange(n * features, dtype=np.float32).reshape(n, features)
    y = np.arange(n)
    return x, y


# --- train_test_split --------------------------------------------------------------------------------
def test_split_sizes_follow_sklearn():
    x, y = _dataset(10)
    x_train, x_test, y_train, y_test = train_test_split(x, y, seed=0)
    assert (len(x_train), len(x_test)) == (7, 3)  # test = ceil(0.25 * 10)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(10))
    np.testing.assert_array_equal(x_train, x[y_train])
    assert [len(p) for p in train_test_split(x, y, test_size=4, seed=0)] == [6, 4, 6, 4]
    assert [len(p) for p in train_test_split(x, y, test_size=0.33, seed=0)] == [6, 4, 6, 4]


def test_split_is_deterministic_and_shuffle_false_takes_the_tail():
    x, y = _dataset(40)
    a = train_test_split(x, y, seed=3)
    b = train_test_split(x, y, seed=3)
    c = train_test_split(x, y, seed=4)
    for part_a, part_b in zip(a, b, strict=True):
        np.testing.assert_array_equal(part_a, part_b)
    assert not np.array_equal(a[3], c[3])
    _, _, y_train, y_test = train_test_split(x, y, test_size=0.25, shuffle=False)
    assert y_train.tolist() == list(range(30)) and y_test.tolist() == list(range(30, 40))
    assert len(train_test_split(x, test_size=0.5, seed=0)) == 2


def test_stratified_split_keeps_proportions():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    x = np.arange(100).reshape(100, 1)
    x_train, x_test, y_train, y_test = train_test_split(x, labels, test_size=0.2, seed=0, stratify=labels)
    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]
    np.testing.assert_array_equal(labels[x_test[:, 0]], y_test)
    # rounding: 7 classes' shares must still add up to the requested size
    labels = np.repeat(np.arange(7), [5, 4, 3, 3, 3, 3, 3])
    _, x_test, _, y_test = train_test_split(np.zeros((24, 1)), labels, test_size=10, seed=1, stratify=labels)
    assert len(y_test) == 10 and set(y_test.tolist()) == set(range(7))


def test_split_errors():
    x, y = _dataset(10)
    for bad in (0.0, 1.0, 1.5, 0, 10, -1, True, "a"):
        with pytest.raises(ValueError, match="test_size"):
            train_test_split(x, y, test_size=bad)
    with pytest.raises(ValueError, match=r"len\(x\)=10 and len\(y\)=3"):
        train_test_split(x, y[:3])
    with pytest.raises(ValueError, match="shuffle"):
        train_test_split(x, y, stratify=y % 2, shuffle=False)
    with pytest.raises(ValueError, match="at least 2 samples"):
        train_test_split(x, y, stratify=y)
    with pytest.raises(ValueError, match="stratify"):
        train_test_split(x, y, stratify=y[:5] % 2)


# --- one_hot -------------------------------------------------------------------------------------------
def test_one_hot_values_and_dtype():
    encoded = one_hot([2, 0, 1, 2])
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert one_hot(np.array([1]), n_classes=4, dtype="float64").tolist() == [[0, 1, 0, 0]]
    assert one_hot(np.array([1]), n_classes=4, dtype="float64").dtype == np.float64
    assert one_hot(np.array([1.0, 0.0])).tolist() == [[0, 1], [1, 0]]
    assert one_hot(np.array([], dtype=np.int64), n_classes=3).shape == (0, 3)


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        one_hot([0, 3], n_classes=3)
    with pytest.raises(ValueError, match="labels"):
        one_hot([-1, 0])
    with pytest.raises(ValueError, match="whole numbers"):
        one_hot([0.5, 1.0])
    with pytest.raises(ValueError, match="shape"):
        one_hot([[0, 1]])
    with pytest.raises(TypeError, match="labels"):
        one_hot(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="n_classes"):
        one_hot([0, 1], n_classes=0)
    with pytest.raises(TypeError, match="dtype"):
        one_hot([0, 1], dtype="int32")


# --- Standardizer ----------------------------------------------------------------------------------------
def test_standardizer_statistics_and_round_trip():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(500, 4)).astype(np.float32)
    x[:, 2] = 7.0  # a constant feature
    scaler = Standardizer()
    z = scaler.fit_transform(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(scaler.mean_, x.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.scale_[[0, 1, 3]], x.astype(np.float64).std(axis=0)[[0, 1, 3]])
    assert scaler.scale_[2] == 1.0
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, [0, 1, 3]].std(axis=0), 1, rtol=1e-4)
    assert np.all(z[:, 2] == 0)
    np.testing.assert_allclose(scaler.inverse_transform(z), x, rtol=1e-5)
    assert scaler.transform(x.astype(np.float64)).dtype == np.float64
    assert scaler.transform(np.ones((2, 4), dtype=np.int64)).dtype == np.float32


def test_standardizer_chunked_fit_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(1e4, 2.0, size=(Standardizer._CHUNK * 2 + 17, 3))
    scaler = Standardizer().fit(x)
    np.testing.assert_allclose(scaler.mean_, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(scaler.scale_, x.std(axis=0), rtol=1e-10)


def test_standardizer_state_round_trip():
    x = np.random.default_rng(2).normal(size=(50, 3))
    scaler = Standardizer().fit(x)
    state = scaler.get_state()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    restored = Standardizer.from_state(state)
    np.testing.assert_array_equal(restored.transform(x), scaler.transform(x))
    with pytest.raises(ValueError, match="positive"):
        Standardizer.from_state({**state, "scale": np.zeros(3)})
    with pytest.raises(ValueError, match="shape"):
        Standardizer.from_state({**state, "scale": np.ones(2)})


def test_standardizer_errors():
    scaler = Standardizer()
    with pytest.raises(ValueError, match="fit"):
        scaler.transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        scaler.fit(np.array([[1.0, np.nan]]))
    scaler.fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        scaler.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="eps"):
        Standardizer(eps=-1)
