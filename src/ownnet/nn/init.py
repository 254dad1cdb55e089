"""Weight initialisation schemes for ``Linear``: He/Kaiming and Xavier/Glorot, uniform and normal.

He keeps the variance of activations constant through ReLU-like layers (gain sqrt(2)); Xavier keeps
it constant through symmetric ones such as tanh (averaging fan-in and fan-out). ``Linear`` draws He
uniform unless told otherwise; ``mlp`` asks its activation (``preferred_init``: Xavier for tanh and
sigmoid) when it builds the layers. ``"auto"``, the default name saved by older versions, means He
uniform, so their model files still load.
"""

import contextlib
import math

import numpy as np

from ownnet import backend

_ALIASES = {
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
    "glorot_uniform": "xavier_uniform",
    "glorot_normal": "xavier_normal",
    "auto": "he_uniform",  # older versions' default (a Sequential could then switch it to Xavier)
}
SCHEMES = ("he_uniform", "he_normal", "xavier_uniform", "xavier_normal", "zeros")

_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator that initialises weights (and Dropout masks): same seed, same model."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng():
    return _rng


@contextlib.contextmanager
def seeded(seed):
    """Seed the generator for the duration of a ``with`` block, then put the previous one back (what
    ``gradcheck`` does around a forward pass, so that Dropout draws the same mask every time)."""
    global _rng
    previous = _rng
    manual_seed(seed)
    try:
        yield
    finally:
        _rng = previous


def resolve_scheme(init):
    name = _ALIASES.get(init, init)
    if name not in SCHEMES:
        raise ValueError(f"init: expected one of {SCHEMES + tuple(_ALIASES)}, got {init!r}")
    return name


def initial_weight(scheme, in_features, out_features, dtype=None):
    """A new ``(in_features, out_features)`` weight drawn with ``scheme``."""
    scheme = resolve_scheme(scheme)
    shape = (in_features, out_features)
    if scheme == "zeros":
        weight = np.zeros(shape)
    elif scheme.startswith("he"):
        std = math.sqrt(2.0 / in_features)
    else:
        std = math.sqrt(2.0 / (in_features + out_features))
    if scheme.endswith("_uniform"):
        bound = math.sqrt(3.0) * std  # a uniform on [-a, a] has standard deviation a / sqrt(3)
        weight = _rng.uniform(-bound, bound, size=shape)
    elif scheme.endswith("_normal"):
        weight = _rng.normal(0.0, std, size=shape)
    return backend.xp.asarray(weight, dtype=backend.resolve_dtype(dtype))
