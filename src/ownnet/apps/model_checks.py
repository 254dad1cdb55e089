"""Does a model fit what a command feeds it? One message naming the model's inputs and outputs.

``ownnet evaluate``, ``predict`` and ``serve`` give a model 28x28 images flattened to 784 pixels and
read one output per class (10 for MNIST and Fashion-MNIST). A model trained on another data set
(``ownnet train --dataset moons`` takes 2 inputs and gives 2 outputs) cannot be used there; this
module says so before anything else runs, instead of a shape error from deep inside a layer.
"""

import numpy as np

from ownnet.train import predict

N_PIXELS = 784
N_CLASSES = 10


def input_size(model):
    """The number of input features the model's first layer declares (``in_features``), else None."""
    for module in model.modules():
        config = module.get_config()
        if "in_features" in config:
            return config["in_features"]
    return None


def check_image_classifier(model, path, command, n_pixels=N_PIXELS, n_classes=N_CLASSES):
    """Raise ``ValueError`` unless ``model`` maps ``(batch, n_pixels)`` to at least ``n_classes``
    outputs; the message names the model's sizes and what ``ownnet COMMAND`` needs."""
    needs = (f"ownnet {command} needs a model on 28x28 images ({n_pixels} inputs) with {n_classes} "
             "outputs, one per class, such as one written by `ownnet train` on mnist or fashion-mnist")
    try:
        outputs = predict(model, np.zeros((1, n_pixels), dtype=model.dtype))
    except ValueError:
        n_inputs = input_size(model)
        takes = f"takes {n_inputs} inputs" if n_inputs is not None else f"does not take {n_pixels} inputs"
        raise ValueError(f"{path}: this model {takes}; {needs}") from None
    n_outputs = outputs.shape[1] if outputs.ndim == 2 else 1
    if n_outputs < n_classes:
        raise ValueError(f"{path}: this model gives {n_outputs} output{'s' * (n_outputs != 1)}; {needs}")
    return n_outputs
