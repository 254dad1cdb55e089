"""ownnet: a neural-network framework from scratch on NumPy.

    import ownnet as on
    model = on.Sequential(on.Linear(784, 128), on.ReLU(), on.Linear(128, 10))
    history = on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     x_train, y_train, epochs=5, batch_size=128)
"""

from ownnet import backend, datasets, distributed, metrics
from ownnet._version import __version__
from ownnet.backend import (
    get_backend,
    get_default_dtype,
    gpu_available,
    set_check_finite,
    set_default_dtype,
    to_device,
    to_numpy,
    use_backend,
)
from ownnet.data import DataLoader, Standardizer, one_hot, train_test_split
from ownnet.data.augment import RandomShift
from ownnet.data.datasets import DatasetNotFoundError
from ownnet.io import ModelFormatError, load, save
from ownnet.io.onnx import export_onnx
from ownnet.io.torch_interop import from_torch, to_torch
from ownnet.metrics import (
    accuracy,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_per_class,
    r2_score,
    zero_one_loss,
)
from ownnet.nn import (
    GELU,
    LOSSES,
    MODULES,
    BatchNorm1d,
    BCELoss,
    BCEWithLogitsLoss,
    Concat,
    CrossEntropyLoss,
    DoubleSoftmaxWarning,
    Dropout,
    Flatten,
    GradcheckResult,
    HuberLoss,
    Identity,
    L1Loss,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Loss,
    LossInputWarning,
    Module,
    MSELoss,
    NLLLoss,
    Parameter,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    gradcheck,
    manual_seed,
    mlp,
)
from ownnet.optim import SGD, Adam, AdamW, Optimizer, RMSProp, RMSprop, clip_grad_norm
from ownnet.optim.schedules import CosineAnnealingLR, ExponentialLR, LRScheduler, ReduceLROnPlateau, StepLR
from ownnet.train import (
    Callback,
    CheckpointMismatchError,
    DivergenceError,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    evaluate,
    fit,
    predict,
    predict_classes,
    predict_proba,
)
