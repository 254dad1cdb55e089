"""DataLoader: every sample once per epoch, seeded shuffling, batch buffers, resuming mid-epoch, errors."""

import json

import numpy as np
import pytest

from ownnet.data import DataLoader


def _dataset(n=23, features=3):
    x = np.arange(n * features, dtype=np.float32).reshape(n, features)
    y = np.arange(n)
    return x, y


def _epoch(loader):
    return [(xb.copy(), yb.copy()) for xb, yb in loader]


# --- DataLoader ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("reuse_buffers", [True, False])
def test_each_sample_exactly_once_per_epoch(shuffle, reuse_buffers):
    x, y = _dataset()
    loader = DataLoader(x, y, batch_size=5, shuffle=shuffle, seed=0, reuse_buffers=reuse_buffers)
    for _ in range(3):
        seen = []
        for xb, yb in loader:
            np.testing.assert_array_equal(xb, x[yb])  # x and y rows stay paired
            seen.extend(yb.tolist())
        assert sorted(seen) == list(range(23))


def test_len_and_batch_sizes():
    x, y = _dataset(23)
    loader = DataLoader(x, y, batch_size=5)
    assert len(loader) == 5
    assert [len(yb) for _, yb in loader] == [5, 5, 5, 5, 3]
    dropping = DataLoader(x, y, batch_size=5, drop_last=True, seed=1)
    assert len(dropping) == 4
    sizes = [len(yb) for _, yb in dropping]
    assert sizes == [5, 5, 5, 5]
    assert len(DataLoader(x, batch_size=30)) == 1
    assert len(DataLoader(x, batch_size=30, drop_last=True)) == 0


def test_x_only_yields_arrays():
    x, _ = _dataset(10)
    batches = list(DataLoader(x, batch_size=4, shuffle=False))
    assert all(isinstance(b, np.ndarray) for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), x)


def test_no_shuffle_gives_views_in_order():
    x, y = _dataset(10)
    batches = list(DataLoader(x, y, batch_size=4, shuffle=False))
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(np.shares_memory(xb, x) for xb, _ in batches)


def test_shuffle_is_deterministic_given_seed_and_epochs_differ():
    x, y = _dataset(50)
    a = DataLoader(x, y, batch_size=8, seed=7)
    b = DataLoader(x, y, batch_size=8, seed=7)
    epochs_a = [[yb.tolist() for _, yb in a] for _ in range(3)]
    epochs_b = [[yb.tolist() for _, yb in b] for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    assert epochs_a[0] != [yb.tolist() for _, yb in DataLoader(x, y, batch_size=8, seed=8)]
    # the epoch permutations are those of default_rng(seed), advanced once per epoch
    rng = np.random.default_rng(7)
    for epoch in epochs_a:
        assert sum(epoch, []) == rng.permutation(50).tolist()


def test_default_keeps_batches_valid_and_reuse_buffers_reuses():
    x, y = _dataset(20)
    kept = list(DataLoader(x, y, batch_size=4, seed=3))
    expected = _epoch(DataLoader(x, y, batch_size=4, seed=3))
    for (xb, yb), (xe, ye) in zip(kept, expected, strict=True):
        np.testing.assert_array_equal(xb, xe)
        np.testing.assert_array_equal(yb, ye)
    assert len({id(xb) for xb, _ in kept}) == len(kept)

    fast = DataLoader(x, y, batch_size=4, seed=3, reuse_buffers=True)
    pointers = set()
    for (xb, yb), (xe, ye) in zip(fast, expected, strict=True):  # correct when consumed one at a time
        np.testing.assert_array_equal(xb, xe)
        np.testing.assert_array_equal(yb, ye)
        pointers.add(xb.__array_interface__["data"][0])
    assert len(pointers) == 1  # one buffer for every full batch


def test_reuse_buffers_last_partial_batch_is_fresh():
    x, y = _dataset(10)
    batches = list(DataLoader(x, y, batch_size=4, seed=0, reuse_buffers=True))
    assert len(batches[-1][1]) == 2
    assert not np.shares_memory(batches[-1][0], batches[0][0])


def test_dtypes_are_kept():
    x, y = _dataset(9)
    xb, yb = next(iter(DataLoader(x.astype(np.float64), y.astype(np.int32), batch_size=4, seed=0)))
    assert xb.dtype == np.float64 and yb.dtype == np.int32
    xb, _ = next(iter(DataLoader(x, y, batch_size=4, seed=0, reuse_buffers=True)))
    assert xb.dtype == np.float32


def test_state_dict_resume_between_epochs():
    x, y = _dataset(30)
    full = DataLoader(x, y, batch_size=4, seed=11)
    epochs = [[yb.tolist() for _, yb in full] for _ in range(4)]

    first = DataLoader(x, y, batch_size=4, seed=11)
    for _ in range(2):
        list(first)
    state = json.loads(json.dumps(first.state_dict()))  # must survive JSON
    resumed = DataLoader(x, y, batch_size=4, seed=999)  # the seed is replaced by the state
    resumed.load_state_dict(state)
    assert [[yb.tolist() for _, yb in resumed] for _ in range(2)] == epochs[2:]


def test_state_dict_resume_inside_an_epoch():
    x, y = _dataset(30)
    full = DataLoader(x, y, batch_size=4, seed=5)
    epochs = [[yb.tolist() for _, yb in full] for _ in range(3)]

    first = DataLoader(x, y, batch_size=4, seed=5)
    list(first)
    iterator = iter(first)
    taken = [next(iterator)[1].tolist() for _ in range(3)]
    assert taken == epochs[1][:3]
    state = json.loads(json.dumps(first.state_dict()))
    assert state["batches_done"] == 3

    resumed = DataLoader(x, y, batch_size=4)
    resumed.load_state_dict(state)
    assert [yb.tolist() for _, yb in resumed] == epochs[1][3:]
    assert [yb.tolist() for _, yb in resumed] == epochs[2]


def test_state_dict_without_shuffle_resumes_position():
    x, y = _dataset(10)
    loader = DataLoader(x, y, batch_size=3, shuffle=False)
    iterator = iter(loader)
    next(iterator)
    resumed = DataLoader(x, y, batch_size=3, shuffle=False)
    resumed.load_state_dict(loader.state_dict())
    assert [yb.tolist() for _, yb in resumed] == [[3, 4, 5], [6, 7, 8], [9]]


def test_load_state_dict_rejects_another_dataset():
    x, y = _dataset(10)
    state = DataLoader(x, y, batch_size=3, seed=0).state_dict()
    with pytest.raises(ValueError, match="num_samples"):
        DataLoader(x[:9], y[:9], batch_size=3).load_state_dict(state)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(x, y, batch_size=4).load_state_dict(state)
    with pytest.raises(ValueError, match="rng_state"):
        DataLoader(x, y, batch_size=3).load_state_dict({**state, "rng_state": {"bit_generator": "Nope"}})
    with pytest.raises(ValueError, match="batches_done"):
        DataLoader(x, y, batch_size=3).load_state_dict({**state, "batches_done": 99})


def test_loader_errors():
    x, y = _dataset(10)
    with pytest.raises(ValueError, match=r"len\(x\)=10 and len\(y\)=9"):
        DataLoader(x, y[:9])
    for bad in (0, -1, 2.5, True, "4"):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(x, y, batch_size=bad)
    with pytest.raises(ValueError, match="at least one sample"):
        DataLoader(x[:0])
    with pytest.raises(ValueError, match="scalar"):
        DataLoader(np.float32(3.0))
    with pytest.raises(TypeError, match="seed"):
        DataLoader(x, seed="abc")

