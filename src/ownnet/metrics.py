"""Metrics, with scikit-learn's argument order ``metric(y_true, y_pred)``.

Classification metrics take ``y_true`` as class labels ``(batch,)`` (one-hot rows ``(batch, classes)``
are turned back into labels; ``(batch, 1)`` 0/1 columns are flattened) and ``y_pred`` as either

- class labels: a 1-D integer (or bool) array, or an integer ``(batch, 1)`` column;
- scores with several columns ``(batch, classes)`` (logits or probabilities): the argmax is taken;
- binary scores: a 1-D float array or a float ``(batch, 1)`` column: class 1 where
  ``score > threshold`` (``threshold=0.5`` for probabilities; pass ``threshold=0.0`` for logits).

Regression metrics take arrays of the same shape (``(batch,)`` and ``(batch, 1)`` are treated alike,
as in scikit-learn). Every metric returns a Python float (or arrays, for the per-class ones); metrics
are computed in float64 on purpose: they are not on the training hot path and sums over a whole
evaluation set lose precision in float32.
"""

import numpy as np

from ownnet import backend
from ownnet.backend.ops import ops_for_device


# --- turning inputs into labels ---------------------------------------------------------------------
def _array(values, metric, arg):
    """``values`` as a NumPy array: metrics are computed on the host (GPU arrays are copied there)."""
    array = backend.to_numpy(values) if backend.is_gpu_array(values) else np.asarray(values)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{metric}: {arg} must be numeric, got dtype {array.dtype}")
    if array.ndim == 0 or array.size == 0:
        raise ValueError(f"{metric}: {arg} must be a non-empty array of shape (batch, ...), "
                         f"got shape {tuple(array.shape)}")
    return array


def _integer_labels(labels, metric, arg):
    """Integral values (3 or 3.0) as an int array; 2.5 or negative values are errors."""
    if labels.dtype.kind == "f":
        integral = np.floor(labels) == labels
        if not bool(integral.all()):
            index = int(np.argmin(integral))
            raise ValueError(f"{metric}: {arg} must be integer class labels, got {labels[index].item()} "
                             f"at index {index}")
    labels = labels.astype(np.int64, copy=False)
    if int(labels.min()) < 0:
        raise ValueError(f"{metric}: {arg} must be class labels >= 0, got {int(labels.min())}")
    return labels


def _true_labels(y_true, metric):
    y_true = _array(y_true, metric, "y_true")
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        return y_true.argmax(axis=1)  # one-hot rows
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_true.ndim != 1:
        raise ValueError(f"{metric}: y_true must be labels (batch,) or one-hot (batch, classes), "
                         f"got shape {tuple(y_true.shape)}")
    return _integer_labels(y_true, metric, "y_true")


def _predicted_labels(y_pred, metric, threshold):
    y_pred = _array(y_pred, metric, "y_pred")
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        return y_pred.argmax(axis=1)  # scores per class
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        y_pred = y_pred[:, 0]
    if y_pred.ndim != 1:
        raise ValueError(f"{metric}: y_pred must be labels (batch,), scores (batch, classes) or binary "
                         f"scores (batch,) / (batch, 1), got shape {tuple(y_pred.shape)}")
    if y_pred.dtype.kind == "f":
        return (y_pred > threshold).astype(np.int64)  # binary scores
    return _integer_labels(y_pred, metric, "y_pred")


def _label_pair(y_true, y_pred, metric, threshold):
    true = _true_labels(y_true, metric)
    pred = _predicted_labels(y_pred, metric, threshold)
    if true.shape[0] != pred.shape[0]:
        raise ValueError(f"{metric}: y_true has {true.shape[0]} samples, y_pred has {pred.shape[0]}; "
                         "they must have the same length")
    return true, pred


# --- classification ---------------------------------------------------------------------------------
def accuracy(y_true, y_pred, threshold=0.5):
    """The fraction of samples whose predicted class equals the true class, in [0, 1]."""
    hits = _counted_hits(y_true, y_pred)
    if hits is not None:
        return hits / len(y_true)
    true, pred = _label_pair(y_true, y_pred, "accuracy", threshold)
    return float((true == pred).mean())


def zero_one_loss(y_true, y_pred, threshold=0.5):
    """The fraction of misclassified samples: ``1 - accuracy``."""
    hits = _counted_hits(y_true, y_pred)
    if hits is not None:
        return (len(y_true) - hits) / len(y_true)
    true, pred = _label_pair(y_true, y_pred, "zero_one_loss", threshold)
    return float((true != pred).mean())


def _counted_hits(y_true, y_pred):
    """The common case — integer labels and a (batch, classes) array of scores, both NumPy — counted by
    the host's ops in one pass (``count_correct``: one compiled loop with ``ownnet[fast]``; ``fit`` asks
    for the accuracy at every step); None where that does not apply (then the checks and the code
    above run, and raise what they raise)."""
    if not (isinstance(y_true, np.ndarray) and y_true.ndim == 1 and y_true.dtype.kind in "iu"
            and isinstance(y_pred, np.ndarray) and y_pred.dtype.kind == "f" and y_pred.ndim == 2
            and y_pred.shape[1] > 1 and y_pred.shape[0] == y_true.shape[0] > 0):
        return None
    hits = ops_for_device("cpu").count_correct(y_true, y_pred)
    return None if hits < 0 else hits  # a negative label: the checks report it


def confusion_matrix(y_true, y_pred, n_classes=None, threshold=0.5):
    """Counts ``(n_classes, n_classes)`` (int64): entry ``[i, j]`` is the number of samples of true class
    ``i`` predicted as class ``j`` (rows = true class, as in scikit-learn).

    ``n_classes`` defaults to the number of score columns of ``y_pred``, else to the largest label + 1.
    """
    return _confusion(y_true, y_pred, n_classes, threshold, "confusion_matrix")


def _confusion(y_true, y_pred, n_classes, threshold, metric):
    true, pred = _label_pair(y_true, y_pred, metric, threshold)
    largest = int(max(true.max(), pred.max()))
    if n_classes is None:  # at least the score columns (2 for binary scores) and the largest label + 1
        n_classes = max(_columns(y_true, binary=1), _columns(y_pred, binary=2), largest + 1)
    elif isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"{metric}: n_classes must be a positive integer, got {n_classes!r}")
    elif largest >= n_classes:
        raise ValueError(f"{metric}: labels must lie in [0, {n_classes}) for n_classes={n_classes}, "
                         f"got label {largest}")
    counts = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64, copy=False)


def _columns(values, binary):
    """The number of classes an input shows by its shape: its columns, ``binary`` for 1-column floats."""
    array = _array(values, "confusion_matrix", "labels")
    if array.ndim == 2 and array.shape[1] > 1:
        return array.shape[1]
    return binary if array.dtype.kind == "f" else 1


def precision_recall_per_class(y_true, y_pred, n_classes=None, threshold=0.5):
    """``(precision, recall)``, two float64 arrays ``(n_classes,)``.

    precision[c] = correct predictions of c / predictions of c; recall[c] = correct predictions of c /
    samples of class c. A class never predicted (or never present) gets 0.0 instead of 0/0, as
    scikit-learn's default.
    """
    matrix = _confusion(y_true, y_pred, n_classes, threshold, "precision_recall_per_class")
    correct = np.diag(matrix).astype(np.float64)
    predicted, present = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, present, out=np.zeros_like(correct), where=present > 0)
    return precision, recall


# --- regression -------------------------------------------------------------------------------------
def _regression_pair(y_true, y_pred, metric):
    true = _array(y_true, metric, "y_true").astype(np.float64)
    pred = _array(y_pred, metric, "y_pred").astype(np.float64)
    true = true.reshape(-1, 1) if true.ndim == 1 else true  # (batch,) and (batch, 1) are alike
    pred = pred.reshape(-1, 1) if pred.ndim == 1 else pred
    if true.shape != pred.shape:
        raise ValueError(f"{metric}: y_true and y_pred must have the same shape, "
                         f"got {tuple(np.shape(y_true))} and {tuple(np.shape(y_pred))}")
    return true, pred


def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|)`` over all elements."""
    true, pred = _regression_pair(y_true, y_pred, "mean_absolute_error")
    return float(np.abs(true - pred).mean())


def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred)**2)`` over all elements."""
    true, pred = _regression_pair(y_true, y_pred, "mean_squared_error")
    return float(((true - pred) ** 2).mean())


def r2_score(y_true, y_pred):
    """Coefficient of determination ``1 - sum((y - y_hat)^2) / sum((y - mean(y))^2)``, per output column
    and averaged over the columns (scikit-learn's default). A constant ``y_true`` scores 1.0 when predicted
    exactly and 0.0 otherwise (scikit-learn's ``force_finite``).
    """
    true, pred = _regression_pair(y_true, y_pred, "r2_score")
    residual = ((true - pred) ** 2).sum(axis=0)
    total = ((true - true.mean(axis=0)) ** 2).sum(axis=0)
    safe_total = np.where(total > 0, total, 1.0)
    scores = np.where(total > 0, 1.0 - residual / safe_total, np.where(residual == 0, 1.0, 0.0))
    return float(scores.mean())
