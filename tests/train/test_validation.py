"""Every public entry point against the input-validation list of issue 7.

Each bad input must raise ``ValueError`` or ``TypeError`` (or a documented ownnet subclass of them:
``ModelFormatError``, ``IDXFormatError``, ``DatasetNotFoundError``) whose message names the argument,
what was expected and what was given -- never an ``IndexError``, an ``AttributeError``, a NumPy
broadcasting surprise or a silent NaN. Inputs that are fine but unusual (int/bool data, lists,
non-contiguous or read-only arrays, a single sample) must work and are converted to the model's dtype.
"""

import numpy as np
import pytest

import ownnet as on
from ownnet.apps.cli import main
from ownnet.datasets import IDXFormatError, load_mnist, read_idx

X = np.random.default_rng(0).random((10, 4)).astype(np.float32)
Y = np.arange(10) % 3


def _model():
    on.manual_seed(0)
    return on.Sequential(on.Linear(4, 3))


def _fit(x=X, y=Y, **kwargs):
    model = _model()
    kwargs.setdefault("verbose", False)
    return on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, **kwargs)


def _after_forward(layer, x):
    layer(x)
    return layer


def _with_nan(array, value=np.nan):
    array = np.array(array, dtype=np.float64)
    array.flat[1] = value
    return array


def check(fn, error, *fragments):
    """``fn()`` raises ``error`` (or a subclass) and the message holds every fragment."""
    with pytest.raises(error) as caught:
        fn()
    assert isinstance(caught.value, (ValueError, TypeError, on.DatasetNotFoundError)), type(caught.value)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# --- layers ----------------------------------------------------------------------------------------
LAYER_CASES = {
    # wrong rank / feature count / empty / 0-d / non-numeric / NaN, at the layer's entry (__call__)
    "linear 1-d input": (lambda: on.Linear(4, 3)(np.ones(4)), ValueError,
                         "Linear", "(batch, 4)", "(4,)", "reshape(1, -1)"),
    "linear 3-d input": (lambda: on.Linear(4, 3)(np.ones((2, 4, 1))), ValueError, "(batch, 4)", "(2, 4, 1)"),
    "linear wrong features": (lambda: on.Linear(4, 3)(np.ones((2, 5))), ValueError, "(batch, 4)", "(2, 5)"),
    "linear empty": (lambda: on.Linear(4, 3)(np.ones((0, 4))), ValueError, "input to Linear", "non-empty",
                     "(0, 4)"),
    "linear 0-d": (lambda: on.Linear(4, 3)(np.float32(1)), ValueError, "input to Linear", "(batch, ...)",
                   "scalar"),
    "linear nan": (lambda: on.Linear(4, 3)(_with_nan(X)), ValueError, "input to Linear", "1 NaN or inf",
                   "finite"),
    "linear inf": (lambda: on.Linear(4, 3)(_with_nan(X, np.inf)), ValueError, "NaN or inf", "finite"),
    "linear strings": (lambda: on.Linear(4, 3)(np.array([["a"] * 4])), TypeError, "input to Linear",
                       "numeric", "<U1"),
    "linear complex": (lambda: on.Linear(4, 3)(np.ones((2, 4), complex)), TypeError, "numeric",
                       "complex128"),
    "linear ragged list": (lambda: on.Linear(4, 3)([[1, 2], [1]]), TypeError, "input to Linear",
                           "numeric array", "could not convert"),
    "linear object array": (lambda: on.Linear(4, 3)(np.array([[1, None, 2, 3]], dtype=object)),
                            TypeError, "numeric", "object"),
    "linear backward before forward": (lambda: on.Linear(4, 3).backward(np.ones((2, 3))), ValueError,
                                       "backward() called before forward()"),
    "linear backward wrong shape": (lambda: _after_forward(on.Linear(4, 3), X).backward(np.ones((10, 4))),
                                    ValueError, "grad_out", "(10, 3)", "(10, 4)"),
    "linear backward list": (lambda: _after_forward(on.Linear(4, 3), X).backward([[0.0] * 3] * 10),
                             TypeError, "grad_out", "array of shape (10, 3)", "list"),
    # absurd hyperparameters
    "linear in_features 0": (lambda: on.Linear(0, 3), ValueError, "in_features", "positive integer", "0"),
    "linear hidden size 0": (lambda: on.Linear(4, 0), ValueError, "out_features", "positive integer", "0"),
    "linear float size": (lambda: on.Linear(4.0, 3), ValueError, "in_features", "positive integer", "4.0"),
    "linear bool size": (lambda: on.Linear(True, 3), ValueError, "in_features", "positive integer", "True"),
    "linear init": (lambda: on.Linear(4, 3, init="magic"), ValueError, "init", "he_uniform", "'magic'"),
    "linear dtype": (lambda: on.Linear(4, 3, dtype="int32"), TypeError, "dtype", "float32", "int32"),
    "dropout p=1": (lambda: on.Dropout(1.0), ValueError, "Dropout", "p", "[0, 1)", "1.0"),
    "dropout p<0": (lambda: on.Dropout(-0.1), ValueError, "p", "[0, 1)", "-0.1"),
    "dropout p nan": (lambda: on.Dropout(float("nan")), ValueError, "p", "[0, 1)", "nan"),
    "dropout p str": (lambda: on.Dropout("0.5"), ValueError, "p", "[0, 1)", "'0.5'"),
    "batchnorm 0 features": (lambda: on.BatchNorm1d(0), ValueError, "num_features", "positive integer", "0"),
    "batchnorm eps 0": (lambda: on.BatchNorm1d(3, eps=0), ValueError, "eps", "positive", "0"),
    "batchnorm eps inf": (lambda: on.BatchNorm1d(3, eps=float("inf")), ValueError, "eps", "finite", "inf"),
    "batchnorm momentum": (lambda: on.BatchNorm1d(3, momentum=2), ValueError, "momentum", "[0, 1]", "2"),
    "batchnorm one sample": (lambda: on.BatchNorm1d(4)(X[:1]), ValueError, "BatchNorm1d",
                             "more than 1 sample", "(1, 4)", "eval mode"),
    "batchnorm wrong features": (lambda: on.BatchNorm1d(3)(X), ValueError, "(batch, 3)", "(10, 4)"),
    "flatten dim type": (lambda: on.Flatten("1"), TypeError, "start_dim", "integer", "'1'"),
    "flatten dim range": (lambda: on.Flatten()(np.ones(3)), ValueError, "Flatten", "dim 1", "out of range",
                          "(3,)"),
    "flatten start after end": (lambda: on.Flatten(2, 1)(np.ones((2, 3, 4))), ValueError, "start_dim=2",
                                "end_dim=1", "(2, 3, 4)"),
    "leakyrelu slope": (lambda: on.LeakyReLU("x"), TypeError, "negative_slope", "number", "'x'"),
    "leakyrelu slope nan": (lambda: on.LeakyReLU(float("nan")), ValueError, "negative_slope", "finite",
                            "nan"),
    "softmax dim": (lambda: on.Softmax(dim=2)(X), ValueError, "Softmax", "dim=2", "out of range", "(10, 4)"),
    "softmax dim type": (lambda: on.Softmax(dim=1.0), TypeError, "dim", "integer", "1.0"),
    "gelu approximate": (lambda: on.GELU("fast"), ValueError, "approximate", "'tanh'", "'fast'"),
    "relu backward wrong shape": (lambda: _after_forward(on.ReLU(), X).backward(np.ones((10, 3))),
                                  ValueError, "ReLU.backward", "(10, 4)", "(10, 3)"),
    "relu backward before forward": (lambda: on.ReLU().backward(np.ones((2, 3))), ValueError,
                                     "backward() called before forward()"),
    "sequential non-module": (lambda: on.Sequential(on.Linear(4, 3), "relu"), TypeError, "Module", "str"),
    "residual shape": (lambda: on.Residual(on.Linear(4, 3))(X), ValueError, "Residual", "(10, 4)",
                       "(10, 3)"),
    "mlp hidden 0": (lambda: on.mlp([4, 0, 3]), ValueError, "sizes", "positive integer", "[4, 0, 3]"),
    "mlp dropout 1": (lambda: on.mlp([4, 8, 3], dropout=1), ValueError, "dropout", "[0, 1)", "1"),
    "mlp dropout str": (lambda: on.mlp([4, 8, 3], dropout="a"), ValueError, "dropout", "[0, 1)", "'a'"),
    "mlp activation": (lambda: on.mlp([4, 8, 3], activation="swish"), ValueError, "activation", "relu",
                       "'swish'"),
    "set_default_dtype": (lambda: on.set_default_dtype("float16"), TypeError, "dtype", "float32", "float16"),
}


@pytest.mark.parametrize("case", LAYER_CASES.values(), ids=LAYER_CASES.keys())
def test_layers_refuse_bad_input(case):
    check(*case)


# --- losses ----------------------------------------------------------------------------------------
LOGITS = np.zeros((3, 4), np.float32)
PRED = np.zeros((3, 1), np.float32)
LOSS_CASES = {
    "labels negative": (lambda: on.CrossEntropyLoss()(LOGITS, [0, -1, 2]), ValueError, "labels",
                        "[0, 4)", "-1"),
    "labels too large": (lambda: on.CrossEntropyLoss()(LOGITS, [0, 4, 2]), ValueError, "[0, 4)", "4"),
    "labels fractional": (lambda: on.CrossEntropyLoss()(LOGITS, [0, 1.5, 2]), ValueError, "integers",
                          "1.5"),
    "labels strings": (lambda: on.CrossEntropyLoss()(LOGITS, ["a", "b", "c"]), TypeError, "target",
                       "numeric", "<U1"),
    "labels nan": (lambda: on.CrossEntropyLoss()(LOGITS, [0, np.nan, 2]), ValueError, "target",
                   "NaN or inf", "finite"),
    "labels bool": (lambda: on.CrossEntropyLoss()(LOGITS, np.array([True, False, True])), TypeError,
                    "labels", "integers", "bool"),
    "labels length": (lambda: on.CrossEntropyLoss()(LOGITS, [0, 1]), ValueError, "batch size",
                      "3 samples", "2"),
    "labels 0-d": (lambda: on.CrossEntropyLoss()(LOGITS, 1), ValueError, "target", "scalar"),
    "labels column": (lambda: on.CrossEntropyLoss()(LOGITS, np.zeros((3, 1))), ValueError, "(3, 4)",
                      "(3, 1)", "ravel"),
    "probabilities nan": (lambda: on.CrossEntropyLoss()(LOGITS, _with_nan(np.full((3, 4), 0.25))),
                          ValueError, "target", "NaN or inf"),
    "logits 1-d": (lambda: on.CrossEntropyLoss()(np.zeros(4, np.float32), [0]), ValueError,
                   "(batch, classes)", "(4,)"),
    "logits integer": (lambda: on.CrossEntropyLoss()(np.zeros((3, 4), int), [0, 1, 2]), TypeError,
                       "pred", "float", "int64"),
    "logits empty": (lambda: on.CrossEntropyLoss()(np.zeros((0, 4), np.float32), []), ValueError,
                     "pred", "non-empty", "(0, 4)"),
    "mse (N,) vs (N, 1)": (lambda: on.MSELoss()(PRED, np.zeros(3)), ValueError, "target", "(3, 1)", "(3,)",
                           "no broadcasting"),
    "mse target nan": (lambda: on.MSELoss()(PRED, _with_nan(np.zeros((3, 1)))), ValueError, "MSELoss",
                       "target", "NaN or inf"),
    "l1 target inf": (lambda: on.L1Loss()(PRED, _with_nan(np.zeros((3, 1)), np.inf)), ValueError,
                      "L1Loss", "NaN or inf"),
    "huber delta 0": (lambda: on.HuberLoss(delta=0), ValueError, "delta", "> 0.0", "0.0"),
    "huber delta inf": (lambda: on.HuberLoss(delta=float("inf")), ValueError, "delta", "finite", "inf"),
    "bce target out of range": (lambda: on.BCEWithLogitsLoss()(PRED, np.full((3, 1), 2.0)), ValueError,
                                "targets", "[0, 1]", "2.0"),
    "bce probabilities out of range": (lambda: on.BCELoss()(PRED - 1, np.zeros((3, 1))), ValueError,
                                       "pred (probabilities)", "[0, 1]", "-1.0"),
    "reduction none": (lambda: on.MSELoss(reduction="none"), ValueError, "reduction", "'mean' or 'sum'",
                       "'none'"),
    "label_smoothing": (lambda: on.CrossEntropyLoss(label_smoothing=-0.1), ValueError, "label_smoothing",
                        "[0.0, 1.0]", "-0.1"),
    "backward before forward": (lambda: on.MSELoss().backward(), ValueError,
                                "backward() called before forward()"),
}


@pytest.mark.parametrize("case", LOSS_CASES.values(), ids=LOSS_CASES.keys())
def test_losses_refuse_bad_input(case):
    check(*case)


# --- fit / evaluate / predict / predict_proba --------------------------------------------------------
def _other_optimizer():
    model, other = _model(), on.Linear(4, 3)
    return on.fit(model, on.CrossEntropyLoss(), on.SGD(other.parameters(), lr=0.1), X, Y, verbose=False)


TRAINING_CASES = {
    "wrong feature count": (lambda: _fit(X[:, :3]), ValueError, "(batch, 4)", "(10, 3)"),
    "x 3-d": (lambda: _fit(X[:, :, None]), ValueError, "(batch, 4)", "(10, 4, 1)"),
    "x empty": (lambda: _fit(X[:0], Y[:0]), ValueError, "x", "non-empty", "(0, 4)"),
    "x 0-d": (lambda: _fit(np.float32(1), Y), ValueError, "x", "scalar"),
    "x nan": (lambda: _fit(_with_nan(X)), ValueError, "x", "NaN or inf", "finite"),
    "x strings": (lambda: _fit(X.astype(str)), TypeError, "x", "numeric", "<U"),
    "mismatched lengths": (lambda: _fit(X, Y[:5]), ValueError, "y", "10 targets", "(5,)"),
    "y 0-d": (lambda: _fit(X, np.int64(1)), ValueError, "y", "10 targets", "()"),
    "labels negative": (lambda: _fit(X, Y - 1), ValueError, "labels", "[0, 3)", "-1"),
    "labels too large": (lambda: _fit(X, Y + 1), ValueError, "labels", "[0, 3)", "3"),
    "labels fractional": (lambda: _fit(X, Y + 0.5), ValueError, "integers", ".5"),
    "labels strings": (lambda: _fit(X, Y.astype(str)), TypeError, "y", "numeric", "<U"),
    "labels nan": (lambda: _fit(X, _with_nan(Y)), ValueError, "y", "NaN or inf"),
    "batch size 0": (lambda: _fit(batch_size=0), ValueError, "batch_size", "positive integer", "0"),
    "batch size float": (lambda: _fit(batch_size=2.5), ValueError, "batch_size", "positive integer", "2.5"),
    "epochs 0": (lambda: _fit(epochs=0), ValueError, "epochs", "positive integer", "0"),
    "validation_split 1": (lambda: _fit(validation_split=1.0), ValueError, "validation_split", "(0, 1)",
                           "1.0"),
    "validation_split str": (lambda: _fit(validation_split="0.1"), TypeError, "validation_split",
                             "(0, 1)", "'0.1'"),
    "validation_data": (lambda: _fit(validation_data=(X,)), TypeError, "validation_data",
                        "(x_val, y_val)"),
    "validation_data shape": (lambda: _fit(validation_data=(X[:, :3], Y)), ValueError, "(batch, 4)",
                              "(10, 3)"),
    "metrics unknown": (lambda: _fit(metrics=["acc"]), ValueError, "metrics", "accuracy", "'acc'"),
    "metrics string": (lambda: _fit(metrics="accuracy"), TypeError, "metrics", "list", "'accuracy'"),
    "callbacks non-callback": (lambda: _fit(callbacks=[1]), TypeError, "callbacks[0]", "Callback", "int"),
    "callbacks not a list": (lambda: _fit(callbacks=on.EarlyStopping()), TypeError, "callbacks",
                             "list", "EarlyStopping"),
    "augment": (lambda: _fit(augment=3), TypeError, "augment", "function", "int"),
    "seed": (lambda: _fit(seed=-1), TypeError, "seed", "non-negative integer", "-1"),
    "model not a module": (lambda: on.fit("model", on.CrossEntropyLoss(), None, X, Y), TypeError,
                           "model", "Module", "str"),
    "loss not a loss": (lambda: on.fit(_model(), "ce", None, X, Y), TypeError, "loss",
                        "forward(pred, target)", "str"),
    "optimizer missing": (lambda: on.fit(_model(), on.CrossEntropyLoss(), None, X, Y), TypeError,
                          "optimizer", "step()", "NoneType"),
    "optimizer of another model": (_other_optimizer, ValueError, "optimizer", "model.parameters()",
                                   "none of the model's parameters"),
    "learning rate negative": (lambda: on.SGD(_model().parameters(), lr=-0.1), ValueError, "lr", "> 0",
                               "-0.1"),
    "learning rate nan": (lambda: on.Adam(_model().parameters(), lr=float("nan")), ValueError, "lr",
                          "> 0", "nan"),
    "momentum 1": (lambda: on.SGD(_model().parameters(), lr=0.1, momentum=1.0), ValueError, "momentum",
                   "[0, 1)", "1.0"),
    "evaluate labels too large": (lambda: on.evaluate(_model(), on.CrossEntropyLoss(), X, Y + 5),
                                  ValueError, "labels", "[0, 3)", "7"),
    "evaluate mismatched lengths": (lambda: on.evaluate(_model(), on.CrossEntropyLoss(), X, Y[:3]),
                                    ValueError, "y", "10 targets", "(3,)"),
    "evaluate batch size": (lambda: on.evaluate(_model(), None, X, Y, batch_size=0), ValueError,
                            "batch_size", "positive integer", "0"),
    "predict 1-d": (lambda: on.predict(_model(), X[0]), ValueError, "(batch, 4)", "(4,)", "reshape(1, -1)"),
    "predict empty": (lambda: on.predict(_model(), X[:0]), ValueError, "x", "non-empty", "(0, 4)"),
    "predict nan": (lambda: on.predict(_model(), _with_nan(X)), ValueError, "x", "NaN or inf"),
    "predict 0-d": (lambda: on.predict(_model(), 3.0), ValueError, "x", "scalar"),
    "predict strings": (lambda: on.predict(_model(), X.astype(str)), TypeError, "x", "numeric", "<U"),
    "predict batch size": (lambda: on.predict(_model(), X, batch_size=-1), ValueError, "batch_size",
                           "positive integer", "-1"),
    "predict not a model": (lambda: on.predict(None, X), TypeError, "model", "Module", "NoneType"),
    "predict_proba wrong features": (lambda: on.predict_proba(_model(), X[:, :2]), ValueError,
                                     "(batch, 4)", "(10, 2)"),
    "predict_classes not a model": (lambda: on.predict_classes("m", X), TypeError, "model", "str"),
}


@pytest.mark.parametrize("case", TRAINING_CASES.values(), ids=TRAINING_CASES.keys())
def test_training_entry_points_refuse_bad_input(case):
    check(*case)


def test_checkpoint_dir_that_is_a_file_fails_before_training(tmp_path):
    path = tmp_path / "file"
    path.write_text("not a folder")
    check(lambda: _fit(checkpoint_dir=str(path)), ValueError, "checkpoint_dir", "folder", str(path))


# --- data: DataLoader, train_test_split, one_hot, Standardizer ---------------------------------------
DATA_CASES = {
    "loader batch size 0": (lambda: on.DataLoader(X, Y, batch_size=0), ValueError, "batch_size",
                            "positive integer", "0"),
    "loader lengths": (lambda: on.DataLoader(X, Y[:3]), ValueError, "same number of samples",
                       "len(x)=10", "len(y)=3"),
    "loader empty": (lambda: on.DataLoader(X[:0]), ValueError, "x", "at least one sample", "(0, 4)"),
    "loader 0-d": (lambda: on.DataLoader(np.float32(1)), ValueError, "x", "(samples, ...)", "scalar"),
    "loader strings": (lambda: on.DataLoader(np.array(["a", "b"])), TypeError, "x", "numeric", "<U1"),
    "loader objects": (lambda: on.DataLoader(np.array([1, "a"], dtype=object)), TypeError, "x", "numeric",
                       "object"),
    "loader seed": (lambda: on.DataLoader(X, seed=-3), TypeError, "seed", "non-negative integer", "-3"),
    "loader state": (lambda: on.DataLoader(X).load_state_dict([]), TypeError, "load_state_dict", "dict",
                     "list"),
    "split test_size 0": (lambda: on.train_test_split(X, Y, test_size=0), ValueError, "test_size",
                          "[1, 9]", "0"),
    "split test_size 1.0": (lambda: on.train_test_split(X, Y, test_size=1.0), ValueError, "test_size",
                            "(0, 1)", "1.0"),
    "split test_size str": (lambda: on.train_test_split(X, Y, test_size="a"), ValueError, "test_size",
                            "float in (0, 1) or an int", "'a'"),
    "split test_size nan": (lambda: on.train_test_split(X, Y, test_size=float("nan")), ValueError,
                            "test_size", "(0, 1)", "nan"),
    "split lengths": (lambda: on.train_test_split(X, Y[:3]), ValueError, "same number of samples",
                      "len(y)=3"),
    "split one sample": (lambda: on.train_test_split(X[:1], Y[:1]), ValueError, "test_size",
                         "1 samples", "empty"),
    "split stratify tiny class": (lambda: on.train_test_split(X, np.r_[Y[:9], 7], stratify=np.r_[Y[:9], 7]),
                                  ValueError, "stratify", "at least 2 samples", "1"),
    "one_hot negative": (lambda: on.one_hot([0, -1], n_classes=3), ValueError, "labels", "[0, 2]", "-1"),
    "one_hot too large": (lambda: on.one_hot([5], n_classes=3), ValueError, "labels", "[0, 2]", "5"),
    "one_hot fractional": (lambda: on.one_hot([0, 1.5]), ValueError, "labels", "whole numbers",
                           "fractional"),
    "one_hot strings": (lambda: on.one_hot(["a"]), TypeError, "labels", "integer", "<U1"),
    "one_hot n_classes 0": (lambda: on.one_hot([0], n_classes=0), ValueError, "n_classes",
                            "positive integer", "0"),
    "one_hot 2-d": (lambda: on.one_hot([[1]]), ValueError, "labels", "(samples,)", "(1, 1)"),
    "one_hot 0-d": (lambda: on.one_hot(3), ValueError, "labels", "(samples, ...)", "scalar"),
    "one_hot empty": (lambda: on.one_hot([]), ValueError, "n_classes", "cannot be inferred", "empty"),
    "standardizer nan": (lambda: on.Standardizer().fit(_with_nan(X)), ValueError, "x", "NaN or inf"),
    "standardizer transform nan": (lambda: on.Standardizer().fit(X).transform(_with_nan(X)), ValueError,
                                   "x", "NaN or inf"),
    "standardizer strings": (lambda: on.Standardizer().fit(np.array([["a"]])), TypeError, "x", "numeric",
                             "<U1"),
    "standardizer empty": (lambda: on.Standardizer().fit(X[:0]), ValueError, "x", "at least one sample",
                           "(0, 4)"),
    "standardizer 0-d": (lambda: on.Standardizer().fit(3.0), ValueError, "x", "(samples, ...)", "scalar"),
    "standardizer features": (lambda: on.Standardizer().fit(X).transform(X[:, :2]), ValueError, "x",
                              "(4,)", "(2,)"),
    "standardizer not fitted": (lambda: on.Standardizer().transform(X), ValueError, "Standardizer",
                                "fit(x)"),
    "standardizer eps": (lambda: on.Standardizer(eps=-1), ValueError, "eps", "non-negative", "-1"),
    "metric lengths": (lambda: on.accuracy([0, 1, 2], [0, 1]), ValueError, "accuracy", "3 samples", "2"),
    "metric strings": (lambda: on.accuracy(["a"], [0]), TypeError, "y_true", "numeric", "<U1"),
}


@pytest.mark.parametrize("case", DATA_CASES.values(), ids=DATA_CASES.keys())
def test_data_helpers_refuse_bad_input(case):
    check(*case)


# --- data sets: IDX files and MNIST -------------------------------------------------------------------
IDX_HEADER = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")
IDX_CASES = {
    "bad magic": (b"\x01\x00\x08\x01" + IDX_HEADER[4:] + b"abc", "two zero bytes", "01 00 08 01"),
    "unknown type": (bytes([0, 0, 0x42, 1]) + IDX_HEADER[4:] + b"abc", "type code", "0x42"),
    "zero dimensions": (bytes([0, 0, 0x08, 0]), "at least 1", "0 dimensions"),
    "truncated header": (bytes([0, 0, 0x08, 3]) + b"\x00" * 5, "16-byte header", "9 bytes"),
    "truncated data": (IDX_HEADER + b"ab", "truncated data", "shape (3,)", "10 bytes"),
    "trailing bytes": (IDX_HEADER + b"abcd", "trailing bytes", "shape (3,)", "12 bytes"),
    "too short": (b"\x00\x00", "at least 4 bytes", "2"),
}


@pytest.mark.parametrize("case", IDX_CASES.values(), ids=IDX_CASES.keys())
def test_read_idx_refuses_corrupt_files(tmp_path, case):
    content, *fragments = case
    path = tmp_path / "file-idx1-ubyte"
    path.write_bytes(content)
    check(lambda: read_idx(path), IDXFormatError, str(path), *fragments)


def test_read_idx_wrong_ndim_and_mnist_sources(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(IDX_HEADER + b"abc")
    check(lambda: read_idx(path, ndim=3), IDXFormatError, str(path), "3 dimension(s)", "declares 1")
    check(lambda: load_mnist(path=tmp_path / "nowhere"), on.DatasetNotFoundError, "nowhere", "does not exist")
    check(lambda: load_mnist(path=tmp_path), on.DatasetNotFoundError, "missing", "train-images-idx3-ubyte")
    check(lambda: load_mnist(dtype="int8"), TypeError, "dtype", "float32", "int8")


# --- model files -----------------------------------------------------------------------------------------
def test_model_files_refuse_bad_arguments_and_content(tmp_path):
    model = _model()
    check(lambda: on.save("model", tmp_path / "m"), TypeError, "save", "Module", "str")
    check(lambda: on.save(model, tmp_path / "m", format="pickle"), ValueError, "format", "'safetensors'",
          "'pickle'")
    check(lambda: on.save(model, tmp_path / "m", metadata={"a": 1}), TypeError, "metadata", "str to str")
    check(lambda: on.save(model, tmp_path / "m", metadata={"format": "x"}), ValueError, "metadata",
          "reserved", "format")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"hello world, not a model")
    check(lambda: on.load(junk), on.ModelFormatError, str(junk), "not a model file")
    junk.write_bytes(b"\x80\x04\x95 a pickle")
    check(lambda: on.load(junk), on.ModelFormatError, str(junk), "pickle", "never unpickles")
    with pytest.raises(FileNotFoundError):
        on.load(tmp_path / "missing.safetensors")


# --- unusual but valid input: converted, never refused ---------------------------------------------------
def test_integer_and_boolean_inputs_are_converted_to_the_model_dtype():
    model = _model()
    for x in (np.arange(8).reshape(2, 4), np.arange(8).reshape(2, 4) > 3, np.float64(X)):
        out = model(x)
        assert out.dtype == np.float32 and np.isfinite(out).all()
        np.testing.assert_array_equal(out, model(np.asarray(x, np.float32)))
        assert on.predict(model, x).dtype == np.float32
    model64 = on.mlp([4, 3], dtype="float64")
    assert model64(np.arange(8).reshape(2, 4)).dtype == np.float64
    assert model64(X).dtype == np.float64  # a float64 model computes in float64, whatever it is fed


def test_lists_noncontiguous_and_readonly_arrays_work_and_are_not_modified():
    model = _model()
    expected = on.predict(model, X)
    wide = np.zeros((10, 8), np.float32)
    wide[:, ::2] = X  # a non-contiguous view with the same values
    readonly = X.copy()
    readonly.flags.writeable = False
    fortran = np.asfortranarray(X)
    for x in (X.tolist(), wide[:, ::2], readonly, fortran):
        np.testing.assert_allclose(on.predict(model, x), expected, rtol=1e-6)
        np.testing.assert_allclose(on.predict_proba(model, x).sum(axis=1), 1, rtol=1e-5)
    before = readonly.copy()
    history = _fit(readonly, Y.tolist(), epochs=2)
    assert len(history) == 2 and np.isfinite(history["loss"]).all()
    np.testing.assert_array_equal(readonly, before)
    std = on.Standardizer().fit(readonly)
    assert std.transform(wide[:, ::2]).dtype == np.float32


def test_a_single_sample_is_a_batch_of_one():
    model = _model()
    assert on.predict(model, X[:1]).shape == (1, 3)
    assert len(_fit(X[:1], Y[:1])) == 1
    assert on.evaluate(model, on.CrossEntropyLoss(), X[:1], Y[:1])["accuracy"] in (0.0, 1.0)
    assert [len(b) for b, _ in on.DataLoader(X[:1], Y[:1], batch_size=4)] == [1]


def test_integer_numpy_scalars_are_accepted_as_sizes():
    layer = on.Linear(np.int64(4), np.int32(3))
    assert layer.get_config()["in_features"] == 4 and type(layer.get_config()["in_features"]) is int
    assert len(on.mlp(np.array([4, 8, 3]))) == 3
    assert len(_fit(epochs=np.int64(1), batch_size=np.int64(4))) == 1


# --- the command line ---------------------------------------------------------------------------------------
CLI_CASES = {
    "limit 0": (["--limit", "0"], "--limit", "positive integer", "'0'"),
    "batch size 0": (["--batch-size", "0"], "--batch-size", "positive integer", "'0'"),
    "epochs text": (["--epochs", "abc"], "--epochs", "positive integer", "'abc'"),
    "lr negative": (["--lr", "-1"], "--lr", "non-negative", "'-1'"),
    "lr nan": (["--lr", "nan"], "--lr", "'nan'"),
    "hidden 0": (["--hidden", "16,0"], "--hidden", "positive", "'16,0'"),
    "hidden text": (["--hidden", "big"], "--hidden", "512,256", "'big'"),
    "dropout 1": (["--dropout", "1"], "--dropout", "[0, 1)", "'1'"),
    "dropout negative": (["--dropout", "-0.1"], "--dropout", "non-negative", "'-0.1'"),
    "momentum nan": (["--momentum", "nan"], "--momentum", "'nan'"),
    "seed text": (["--seed", "abc"], "--seed", "int", "'abc'"),
    "dtype": (["--dtype", "float16"], "--dtype", "float32", "'float16'"),
    "dataset": (["--dataset", "cifar"], "--dataset", "mnist", "'cifar'"),
    "optimizer": (["--optimizer", "lbfgs"], "--optimizer", "sgd", "'lbfgs'"),
    "activation": (["--activation", "swishy"], "activation", "relu", "'swishy'"),
    "resume without out": (["--resume"], "--resume", "--out"),
}
# Values that pass the parser but reach a constructor: a traceback and exit code 1 today; cli.py must check
# them (finite, momentum < 1, seed >= 0, --out a folder). strict: the marks must go once cli.py is fixed.
CLI_GAPS = {
    "lr inf": (["--lr", "inf"], "--lr", "'inf'"),
    "momentum 1.5": (["--momentum", "1.5"], "--momentum", "1.5"),
    "weight decay inf": (["--weight-decay", "inf"], "--weight-decay", "'inf'"),
    "seed negative": (["--seed", "-1"], "--seed", "-1"),
}


def _train(argv, capsys):
    base = ["train", "--dataset", "moons", "--epochs", "1", "--hidden", "4", "--quiet"]
    code = main(base + argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_train_refuses_bad_options(case, capsys):
    argv, *fragments = case
    code, err = _train(argv, capsys)
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


@pytest.mark.parametrize("case", CLI_GAPS.values(), ids=CLI_GAPS.keys())
def test_cli_train_refuses_values_the_parser_lets_through(case, capsys):
    argv, *fragments = case
    code, err = _train(argv, capsys)
    assert code == 2 and all(fragment in err for fragment in fragments), err


def test_cli_out_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    code, err = _train(["--out", str(path)], capsys)
    assert code == 2 and str(path) in err
