"""The lesson's silent mistake, caught: a model that ends in ``Softmax`` trained with ``CrossEntropyLoss``.

The lesson's network ends in a ``Softmax`` layer and its loss takes probabilities. ownnet's
``CrossEntropyLoss`` takes logits and applies softmax itself (fused with the log, stable), so the
lesson's model with ownnet's loss applies softmax twice: it still trains, slower and worse, and its
probabilities never approach 1. ``fit`` and ``evaluate`` call ``warn_if_double_softmax`` once,
before anything runs; the loss itself looks at its first batch (``CrossEntropyLoss._input_problem``)
for a model this check cannot see into.

A warning, not an error: the model is valid and the numbers are computable, only not what was meant;
make it an error with ``warnings.simplefilter("error", ownnet.DoubleSoftmaxWarning)``.
"""

import warnings

from ownnet.nn.activations import Softmax
from ownnet.nn.containers import Sequential
from ownnet.nn.losses.base import DoubleSoftmaxWarning
from ownnet.nn.losses.classification import CrossEntropyLoss


def final_layer(model):
    """The layer that computes ``model``'s output: the last layer of a ``Sequential``, nested ones
    followed down; any other module is its own final layer."""
    while isinstance(model, Sequential) and len(model):
        model = model[len(model) - 1]
    return model


def warn_if_double_softmax(model, loss, caller):
    """Warn (``DoubleSoftmaxWarning``, naming the layer) if ``model`` ends in ``Softmax`` and ``loss`` is
    a ``CrossEntropyLoss``; returns True if it warned. ``caller`` ("fit", "evaluate") starts the
    message. The loss's own first-batch check is then skipped: one warning for one mistake."""
    last = final_layer(model)
    if not (isinstance(loss, CrossEntropyLoss) and isinstance(last, Softmax)):
        return False
    warnings.warn(
        f"{caller}: the model ends in {last.label} and the loss is CrossEntropyLoss, which takes logits "
        "and applies softmax itself: softmax is applied twice (training is slower, accuracy lower, and "
        "the predicted probabilities never approach 1). Remove the final Softmax and train on logits "
        "(predict_proba gives the probabilities); or keep the lesson's two steps in their stable form: "
        "end the model with LogSoftmax() and use NLLLoss()",
        DoubleSoftmaxWarning, stacklevel=3)
    loss._input_checked = True
    return True
