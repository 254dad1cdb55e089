"""Optimizers (``SGD``, ``Adam``, ``AdamW``, ``RMSProp``), ``clip_grad_norm`` and the learning-rate
schedules (``ownnet.optim.schedules``).

- ``optimizer.py``: ``Optimizer``, the base class (state, how a step runs, saving and loading);
- ``sgd.py``, ``adam.py`` (``Adam``, ``AdamW``), ``rmsprop.py``: one optimizer each, its rule in the
  docstring and its arguments;
- ``flat.py``: ``FlatParameters``, the flat arrays of the GPU's one-launch step;
- ``clip.py``: ``clip_grad_norm``; ``arguments.py``: the argument checks.

Example::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        optimizer.zero_grad()
        ...                           # forward, loss, backward: fills every parameter.grad
        clip_grad_norm(model.parameters(), max_norm=1.0)   # optional
        optimizer.step()
"""

from ownnet.optim.adam import Adam, AdamW
from ownnet.optim.clip import clip_grad_norm
from ownnet.optim.flat import FlatParameters
from ownnet.optim.optimizer import Optimizer
from ownnet.optim.rmsprop import RMSProp, RMSprop
from ownnet.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "FlatParameters", "Optimizer", "RMSProp", "RMSprop", "clip_grad_norm"]
