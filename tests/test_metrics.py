"""Tests of ownnet.metrics: small examples checked by hand, thresholds, errors, and scikit-learn."""

import numpy as np
import pytest

from ownnet.metrics import (
    accuracy,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_per_class,
    r2_score,
    zero_one_loss,
)

Y_TRUE = np.array([0, 1, 2, 2, 1, 0])
Y_PRED = np.array([0, 2, 2, 2, 1, 1])  # right, wrong, right, right, right, wrong


# --- accuracy and the forms of y_pred ---------------------------------------------------------------
def test_accuracy_from_labels():
    assert accuracy(Y_TRUE, Y_PRED) == 4 / 6
    assert zero_one_loss(Y_TRUE, Y_PRED) == pytest.approx(2 / 6)
    assert accuracy([1, 0], [1, 0]) == 1.0
    assert type(accuracy(Y_TRUE, Y_PRED)) is float


def test_accuracy_from_scores_takes_the_argmax():
    scores = np.eye(3)[Y_PRED] * 2.0 - 0.5  # the largest score sits at Y_PRED
    assert accuracy(Y_TRUE, scores) == 4 / 6
    assert accuracy(np.eye(3)[Y_TRUE], scores) == 4 / 6  # one-hot y_true works too


def test_binary_scores_are_thresholded():
    y_true = np.array([1, 0, 1, 0])
    probabilities = np.array([0.9, 0.4, 0.3, 0.6])  # > 0.5 -> 1, 0, 0, 1: two right
    assert accuracy(y_true, probabilities) == 0.5
    assert accuracy(y_true, probabilities, threshold=0.8) == 0.75  # 1, 0, 0, 0
    assert accuracy(y_true, probabilities.reshape(-1, 1)) == 0.5  # a (batch, 1) column
    logits = np.array([2.0, -1.0, 0.5, -0.2])  # > 0 -> 1, 0, 1, 0
    assert accuracy(y_true, logits, threshold=0.0) == 1.0
    assert accuracy(y_true.reshape(-1, 1).astype(np.float32), logits, threshold=0.0) == 1.0
    assert accuracy(y_true, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5  # exactly the threshold: class 0


def test_integer_column_is_labels_not_scores():
    assert accuracy(Y_TRUE, Y_PRED.reshape(-1, 1)) == 4 / 6  # label 2 is not thresholded to 1


def test_integral_float_labels_are_accepted_fractional_are_not():
    assert accuracy(Y_TRUE.astype(np.float64), Y_PRED) == 4 / 6
    with pytest.raises(ValueError, match="accuracy: y_true must be integer class labels, got 0.5 at index 1"):
        accuracy(np.array([1.0, 0.5]), np.array([1, 0]))
    with pytest.raises(ValueError, match="y_true must be class labels >= 0, got -1"):
        accuracy(np.array([1, -1]), np.array([1, 0]))


def test_length_and_shape_errors():
    with pytest.raises(ValueError, match="accuracy: y_true has 6 samples, y_pred has 5"):
        accuracy(Y_TRUE, Y_PRED[:5])
    with pytest.raises(ValueError, match=r"zero_one_loss: y_pred must be labels .*got shape \(6, 2, 2\)"):
        zero_one_loss(Y_TRUE, np.zeros((6, 2, 2)))
    with pytest.raises(ValueError, match=r"y_true must be a non-empty array"):
        accuracy([], [])
    with pytest.raises(TypeError, match="y_pred must be numeric"):
        accuracy([1, 0], ["a", "b"])


# --- confusion matrix, precision and recall ---------------------------------------------------------
def test_confusion_matrix_by_hand():
    expected = np.array([
        [1, 1, 0],  # true 0: predicted 0 once, 1 once
        [0, 1, 1],  # true 1: predicted 1 once, 2 once
        [0, 0, 2],  # true 2: predicted 2 twice
    ])
    matrix = confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.dtype == np.int64
    padded = confusion_matrix(Y_TRUE, Y_PRED, n_classes=4)
    assert padded.shape == (4, 4) and padded.sum() == 6
    np.testing.assert_array_equal(padded[:3, :3], expected)


def test_confusion_matrix_size_from_scores_and_errors():
    scores = np.zeros((2, 5))
    scores[:, 1] = 1.0  # predicts class 1 for both
    assert confusion_matrix([0, 1], scores).shape == (5, 5)
    assert confusion_matrix([0, 0], np.array([0.2, 0.7])).tolist() == [[1, 1], [0, 0]]  # binary: 2x2
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\) for n_classes=2, got label 2"):
        confusion_matrix(Y_TRUE, Y_PRED, n_classes=2)
    with pytest.raises(ValueError, match="n_classes must be a positive integer, got 0"):
        confusion_matrix(Y_TRUE, Y_PRED, n_classes=0)


def test_precision_recall_by_hand():
    precision, recall = precision_recall_per_class(Y_TRUE, Y_PRED)
    # predicted 0 once (right), 1 twice (1 right), 2 three times (2 right)
    np.testing.assert_allclose(precision, [1.0, 1 / 2, 2 / 3])
    # class 0: 2 samples, 1 found; class 1: 2 samples, 1 found; class 2: 2 samples, 2 found
    np.testing.assert_allclose(recall, [1 / 2, 1 / 2, 1.0])


def test_precision_recall_of_absent_classes_are_zero():
    precision, recall = precision_recall_per_class([0, 0, 1], [0, 0, 0], n_classes=3)
    np.testing.assert_allclose(precision, [2 / 3, 0.0, 0.0])  # 1 and 2 never predicted
    np.testing.assert_allclose(recall, [1.0, 0.0, 0.0])  # class 2 never present


# --- regression -------------------------------------------------------------------------------------
def test_regression_metrics_by_hand():
    y_true, y_pred = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 4.5])  # errors .5, 0, -1, .5
    assert mean_absolute_error(y_true, y_pred) == 0.5
    assert mean_squared_error(y_true, y_pred) == pytest.approx(1.5 / 4)
    # total sum of squares around the mean 2.5: 2.25 + 0.25 + 0.25 + 2.25 = 5
    assert r2_score(y_true, y_pred) == pytest.approx(1 - 1.5 / 5)
    assert r2_score(y_true, y_true) == 1.0


def test_regression_column_and_vector_are_alike_but_shapes_must_match():
    y_true, y_pred = np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [4.0]])
    assert mean_squared_error(y_true, y_pred) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r"mean_absolute_error: y_true and y_pred must have the same shape, "
                                         r"got \(3,\) and \(3, 2\)"):
        mean_absolute_error(y_true, np.zeros((3, 2)))


def test_r2_of_constant_target_and_multioutput():
    assert r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert r2_score([2.0, 2.0], [2.0, 3.0]) == 0.0
    y_true = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 2.0]])
    y_pred = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])  # column 0 perfect, column 1 all zero
    # column 1: residual 4, total around 2/3: (4/9 + 4/9 + 16/9) = 8/3 -> 1 - 1.5 = -0.5
    assert r2_score(y_true, y_pred) == pytest.approx((1.0 - 0.5) / 2)


# --- against scikit-learn ---------------------------------------------------------------------------
def test_against_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true, scores = rng.integers(0, 4, size=50), rng.normal(size=(50, 4))
    y_pred = scores.argmax(axis=1)
    assert accuracy(y_true, scores) == pytest.approx(sklearn_metrics.accuracy_score(y_true, y_pred))
    assert zero_one_loss(y_true, y_pred) == pytest.approx(sklearn_metrics.zero_one_loss(y_true, y_pred))
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, n_classes=4),
                                  sklearn_metrics.confusion_matrix(y_true, y_pred, labels=range(4)))
    precision, recall = precision_recall_per_class(y_true, y_pred, n_classes=4)
    np.testing.assert_allclose(precision, sklearn_metrics.precision_score(
        y_true, y_pred, average=None, labels=range(4), zero_division=0))
    np.testing.assert_allclose(recall, sklearn_metrics.recall_score(
        y_true, y_pred, average=None, labels=range(4), zero_division=0))
    targets, predictions = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    for ours, theirs in ((mean_absolute_error, sklearn_metrics.mean_absolute_error),
                         (mean_squared_error, sklearn_metrics.mean_squared_error),
                         (r2_score, sklearn_metrics.r2_score)):
        assert ours(targets, predictions) == pytest.approx(theirs(targets, predictions))
