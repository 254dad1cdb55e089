"""ownnet: a neural-network framework from scratch on NumPy.

    import ownnet as on
    model = on.Sequential(on.Linear(784, 128), on.ReLU(), on.Linear(128, 10))
    history = on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     x_train, y_train, epochs=5, batch_size=128)
"""

from . import backend, datasets, distributed, metrics
from .augment import RandomShift
from .backend import (
    get_backend,
    get_default_dtype,
    gpu_available,
    set_check_finite,
    set_default_dtype,
    to_device,
    to_numpy,
    use_backend,
)
from .callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint
from .containers import Concat, Residual, Sequential
from .data import DataLoader, Standardizer, one_hot, train_test_split
from .datasets import DatasetNotFoundError
from .gradcheck import GradcheckResult, gradcheck
from .history import History
from .io import ModelFormatError, load, save
from .layers.activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .layers.init import manual_seed
from .layers.linear import Linear
from .layers.regularization import BatchNorm1d, Dropout
from .layers.shape import Flatten
from .losses import (
    LOSSES,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    Loss,
    MSELoss,
)
from .metrics import (
    accuracy,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_per_class,
    r2_score,
    zero_one_loss,
)
from .models import mlp
from .module import MODULES, Module, Parameter
from .onnx import export_onnx
from .optim import SGD, Adam, AdamW, Optimizer, RMSProp, RMSprop, clip_grad_norm
from .schedules import CosineAnnealingLR, ExponentialLR, LRScheduler, ReduceLROnPlateau, StepLR
from .torch_interop import from_torch, to_torch
from .training import DivergenceError, evaluate, fit, predict, predict_classes, predict_proba

__version__ = "0.1.0"
