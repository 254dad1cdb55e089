"""``ownnet.nn``: the model side of the lesson — ``Module`` and ``Parameter``, the layers (each owns its
forward and its backward pass), the containers, the losses, ``mlp(...)``, ``summary`` and ``gradcheck``."""

from ownnet.nn.activations import GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ownnet.nn.containers import Concat, Residual, Sequential
from ownnet.nn.gradcheck import GradcheckResult, gradcheck
from ownnet.nn.init import manual_seed
from ownnet.nn.linear import Linear
from ownnet.nn.losses import (
    LOSSES,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    DoubleSoftmaxWarning,
    HuberLoss,
    L1Loss,
    Loss,
    LossInputWarning,
    MSELoss,
    NLLLoss,
)
from ownnet.nn.mlp import mlp
from ownnet.nn.module import MODULES, Module, Parameter
from ownnet.nn.regularization import BatchNorm1d, Dropout
from ownnet.nn.shape import Flatten

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "Concat", "CrossEntropyLoss", "DoubleSoftmaxWarning",
    "Dropout", "Flatten", "GELU", "GradcheckResult", "HuberLoss", "Identity", "L1Loss", "LOSSES", "LeakyReLU",
    "Linear", "LogSoftmax", "Loss", "LossInputWarning", "MODULES", "MSELoss", "Module", "NLLLoss",
    "Parameter", "ReLU", "Residual", "Sequential", "Sigmoid", "Softmax", "Tanh", "gradcheck", "manual_seed",
    "mlp",
]
