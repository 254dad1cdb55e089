"""``ownnet.train``: the training step, the loop — ``fit``, ``evaluate``, ``predict`` — and the runners,
callbacks and history around it."""

from ownnet.train.callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint
from ownnet.train.checkpoint import CheckpointMismatchError
from ownnet.train.divergence import DivergenceError
from ownnet.train.history import History
from ownnet.train.loop import evaluate, fit, predict, predict_classes, predict_proba
from ownnet.train.step import train_step

__all__ = [
    "Callback", "CheckpointMismatchError", "DivergenceError", "EarlyStopping", "History", "LambdaCallback",
    "ModelCheckpoint", "evaluate", "fit", "predict", "predict_classes", "predict_proba", "train_step",
]
