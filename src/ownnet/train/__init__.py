"""``ownnet.train``: the training loop — ``fit``, ``evaluate``, ``predict`` — its callbacks and history."""

from ownnet.train.callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint
from ownnet.train.history import History
from ownnet.train.loop import (
    DivergenceError,
    evaluate,
    fit,
    predict,
    predict_classes,
    predict_proba,
)

__all__ = [
    "Callback", "DivergenceError", "EarlyStopping", "History", "LambdaCallback", "ModelCheckpoint",
    "evaluate",
    "fit", "predict", "predict_classes", "predict_proba",
]
