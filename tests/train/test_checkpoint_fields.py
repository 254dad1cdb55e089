"""Every field of a checkpoint is validated on load, as the model file's are: a bad one is a
``ModelFormatError`` naming it, and nothing of the run is changed (issue 17)."""

import json

import numpy as np
import pytest

import ownnet as on
from ownnet.io import ModelFormatError, read_tensors, write_tensors
from ownnet.train import checkpoint


def _fit(folder, epochs=2, resume=False):
    on.manual_seed(0)
    model = on.mlp([4, 8, 3])
    optimizer = on.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = on.CosineAnnealingLR(optimizer, T_max=4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=epochs, batch_size=16, seed=1,
                     schedule=schedule, checkpoint_dir=folder, resume=resume, verbose=False,
                     augment=on.RandomShift(1, image_shape=(2, 2), seed=3))
    return model, history


@pytest.fixture
def saved(tmp_path):
    """A valid checkpoint after 2 of 4 epochs; returns a function that rewrites one metadata field."""
    _fit(tmp_path, epochs=2)
    path = tmp_path / checkpoint.CHECKPOINT_NAME
    tensors, metadata = read_tensors(path)

    def rewrite(field, value, as_json=True, drop_tensor=None):
        """Change (or drop) ``field``, keeping the earlier changes; returns the folder."""
        if value is _DROP:
            del metadata[field]
        else:
            metadata[field] = json.dumps(value) if as_json else value
        write_tensors(path, {k: v for k, v in tensors.items() if k != drop_tensor}, metadata)
        return tmp_path

    rewrite.metadata = {key: json.loads(value) if key not in ("format", "epoch") else value
                        for key, value in metadata.items()}  # parsed, as they were saved
    return rewrite


_DROP = object()


def _run_state(metadata, key, **change):
    return {**metadata[key], **change}


BAD_FIELDS = [
    # (field, how to make it bad, words the error must contain)
    ("format", lambda m: ("ownnet", False), "not an ownnet checkpoint"),
    ("run", lambda m: (_DROP, False), "does not record the run's settings"),
    ("run", lambda m: ("oops", True), "field 'run' must be an object"),
    ("run", lambda m: ({**m["run"], "epochs": -1}, True), "'epochs' must be an integer >= 0"),
    ("run", lambda m: ({**m["run"], "model": [["Linear"]]}, True), "'model' must be a list"),
    ("run", lambda m: ({**m["run"], "optimizer": {"type": "SGD"}}, True), "'optimizer' must be"),
    ("run", lambda m: ({**m["run"], "schedule": "cosine"}, True), "'schedule' must be null or"),
    ("run", lambda m: ({**m["run"], "config": [1]}, True), "'config' must be an object or null"),
    ("epoch", lambda m: ("-3", False), "field 'epoch' must be an integer from 0"),
    ("epoch", lambda m: ("1.5", False), "field 'epoch' must be an integer from 0"),
    ("epoch", lambda m: ("5", False), "to the run's epochs (2), got '5'"),
    ("epoch", lambda m: ("9" * 40, False), "field 'epoch'"),
    ("history", lambda m: ("oops", True), "field 'history' must be an object"),
    ("history", lambda m: ({**m["history"], "loss": [1.0, 2.0, 3.0]}, True), "'loss' must be a list of at"),
    ("history", lambda m: ({**m["history"], "loss": [[1.0], 2.0]}, True), "'loss' must be a list"),
    ("history", lambda m: ({**m["history"], "epoch": [1, 5]}, True), "'epoch' must be the epochs 1 to 2"),
    ("history", lambda m: ({}, True), "'epoch' must be the epochs 1 to 2"),
    ("rng", lambda m: ("oops", True), "field 'rng' must be the state of a NumPy bit generator (PCG64)"),
    ("rng", lambda m: ({**m["rng"], "bit_generator": "MT19937"}, True), "(PCG64)"),
    ("rng", lambda m: ({**m["rng"], "state": {"state": 1.5, "inc": 3}}, True), "malformed PCG64 state"),
    ("rng", lambda m: ({**m["rng"], "state": {"state": -1, "inc": 3}}, True), "invalid PCG64 state"),
    ("rng", lambda m: ({**m["rng"], "extra": 1}, True), "malformed PCG64 state"),
    ("augment", lambda m: ({"bit_generator": "PCG64"}, True), "field 'augment': malformed PCG64 state"),
    ("augment", lambda m: (None, True), "field 'augment' does not fit this run"),
    ("loader", lambda m: ([1, 2], True), "field 'loader' must be a JSON object or null"),
    ("loader", lambda m: (_run_state(m, "loader", rng_state="x"), True), "field 'loader' must be the state"),
    ("loader", lambda m: (_run_state(m, "loader", batches_done=-1), True), "field 'loader' does not fit"),
    ("loader", lambda m: (None, True), "field 'loader' does not fit this run"),
    ("schedule", lambda m: ("cosine", True), "field 'schedule' must be a JSON object or null"),
    ("schedule", lambda m: (_run_state(m, "schedule", last_epoch=-2), True), "field 'schedule' does not fit"),
    ("optimizer", lambda m: (None, True), "field 'optimizer' must be a JSON object, got None"),
    ("optimizer", lambda m: (_run_state(m, "optimizer", step_count=-1), True), "field 'optimizer' does not"),
    ("history", lambda m: ("{not json", False), "field 'history' is not valid JSON"),
    ("loader", lambda m: (_DROP, False), "field 'loader' is missing"),
]


@pytest.mark.parametrize("field, make_bad, words", BAD_FIELDS,
                         ids=[f"{field}-{index}" for index, (field, _, _) in enumerate(BAD_FIELDS)])
def test_a_bad_field_is_a_model_format_error_naming_it(saved, field, make_bad, words):
    value, as_json = make_bad(saved.metadata)
    folder = saved(field, value, as_json)
    with pytest.raises(ModelFormatError) as caught:
        _fit(folder, epochs=4, resume=True)
    assert words in str(caught.value)


def test_a_missing_model_tensor_is_named(saved):
    folder = saved("epoch", "2", as_json=False, drop_tensor="model/0.weight")
    with pytest.raises(ModelFormatError, match="field 'model' does not fit this run"):
        _fit(folder, epochs=4, resume=True)


def test_the_unchanged_checkpoint_resumes(saved):
    """The fixture's rewrite keeps a valid checkpoint valid: the failures above are the fields'."""
    folder = saved("epoch", "2", as_json=False)
    _, history = _fit(folder, epochs=4, resume=True)
    assert history.epochs == [1, 2, 3, 4]


def test_epoch_zero_is_a_valid_start(saved):
    m = saved.metadata
    history = {key: [] for key in m["history"]}
    saved("history", history)
    folder = saved("epoch", "0", as_json=False)
    assert checkpoint.read_checkpoint(folder).epoch == 0


def test_a_negative_epoch_is_refused_before_anything_changes(saved):
    """Issue 17, defect 8: epoch -3 ran epochs -2..6 and reported 11."""
    folder = saved("epoch", "-3", as_json=False)
    on.manual_seed(5)
    model = on.mlp([4, 8, 3])
    weights = [p.data.copy() for p in model.parameters()]
    optimizer = on.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ModelFormatError, match="'epoch'"):
        checkpoint.load_checkpoint(folder, model, optimizer, on.History())
    for p, before in zip(model.parameters(), weights):
        np.testing.assert_array_equal(p.data, before)
