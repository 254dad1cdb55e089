"""Loss functions: ``MSELoss``, ``L1Loss``, ``HuberLoss``, ``CrossEntropyLoss``, ``NLLLoss``,
``BCEWithLogitsLoss``, ``BCELoss``.

A loss is not a layer: ``forward(pred, target)`` returns the loss as a Python float and keeps what
``backward()`` needs; ``backward()`` takes no argument and returns dL/dpred (same shape and dtype as
``pred``), which starts the model's backward pass::

    loss_fn = CrossEntropyLoss()
    loss = loss_fn(model(x), y)          # a float
    model.backward(loss_fn.backward())   # dL/dlogits, (batch, classes)

Argument names, defaults and formulas are PyTorch's (``torch.nn.*Loss``), so results compare 1:1.
``reduction="mean"`` averages (over all elements, or over the batch for ``CrossEntropyLoss``),
``reduction="sum"`` adds up. ``backward()`` may be called once per ``forward()``.

- ``base.py``: ``Loss`` (reductions, the forward/backward state, the input checks), ``LossInputWarning``;
- ``regression.py``: ``MSELoss``, ``L1Loss``, ``HuberLoss``;
- ``classification.py``: ``CrossEntropyLoss``, ``NLLLoss``, ``BCEWithLogitsLoss``, ``BCELoss``;
- ``double_softmax.py``: ``warn_if_double_softmax``, what ``fit`` and ``evaluate`` call before they start.

A classification loss looks at its first batch once (never again, so the training step pays nothing)
and warns (``LossInputWarning``) when it is given the wrong kind of input: ``CrossEntropyLoss`` rows
of probabilities (``DoubleSoftmaxWarning``: a ``Softmax`` before it, softmax twice), ``NLLLoss`` rows
that are not log-probabilities.

Everything is computed in ``pred``'s dtype (float targets are cast to it): a float32 model gets float32
gradients, with no float64 intermediate.
"""

from ownnet.nn.losses.base import LOSSES, DoubleSoftmaxWarning, Loss, LossInputWarning
from ownnet.nn.losses.classification import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from ownnet.nn.losses.double_softmax import warn_if_double_softmax
from ownnet.nn.losses.regression import HuberLoss, L1Loss, MSELoss

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "DoubleSoftmaxWarning", "HuberLoss", "L1Loss",
           "LOSSES", "Loss", "LossInputWarning", "MSELoss", "NLLLoss", "warn_if_double_softmax"]
