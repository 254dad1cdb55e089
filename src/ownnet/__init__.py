"""ownnet: a neural-network framework from scratch on NumPy.

    import ownnet as on
    model = on.Sequential(on.Linear(784, 128), on.ReLU(), on.Linear(128, 10))
"""

from . import backend
from .backend import get_default_dtype, set_check_finite, set_default_dtype
from .containers import Concat, Residual, Sequential
from .layers.init import manual_seed
from .layers.linear import Linear
from .module import MODULES, Module, Parameter

__version__ = "0.1.0"
