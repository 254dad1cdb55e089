"""``Predictor``: one model behind the web page — probabilities and hidden activations for a 28x28 input.

The layers of a model keep what ``backward`` needs in ``forward``, so two requests must not run the
same model at once: every forward pass here holds ``Predictor.lock``. The model runs in eval mode
(Dropout off, BatchNorm running statistics).
"""

import threading

import numpy as np

from ownnet import backend
from ownnet.nn.containers import Sequential

N_PIXELS = 784
"""A 28x28 image, row by row, white ink on black in [0, 1] as in MNIST."""


def _is_activation(module):
    return type(module).__module__ == "ownnet.nn.activations"


def _softmax(logits):
    """``(batch, classes)`` logits -> probabilities; one column is a sigmoid (two classes), as in
    ``on.predict_proba``."""
    logits = logits.astype(np.float64)
    if logits.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-logits))
        return np.concatenate([1.0 - p, p], axis=1)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _layer_name(module):
    """``'Linear 784→128'`` for a layer with in/out sizes, else the class name."""
    config = module.get_config()
    if "in_features" in config and "out_features" in config:
        return f"{type(module).__name__} {config['in_features']}→{config['out_features']}"
    return type(module).__name__


class Predictor:
    """Wrap ``model`` (a module taking ``(batch, 784)``) for the page; ``set_model`` swaps it (the
    training dashboard hands over a copy after every epoch).

    Raises ``ValueError`` if the model does not accept ``(1, 784)`` inputs.
    """

    def __init__(self, model):
        self.lock = threading.Lock()
        self.model = None
        self.n_classes = 0
        self.set_model(model)

    def set_model(self, model):
        with self.lock:
            model.eval()
            try:
                probe = np.zeros((1, N_PIXELS), dtype=model.dtype)
                out = model.forward(backend.to_device(probe, model.device))
            except ValueError as error:
                raise ValueError(f"model: the page sends 28x28 = {N_PIXELS} pixels, and this model does not "
                                 f"take them ({error})") from None
            if out.ndim != 2:
                raise ValueError(f"model: expected outputs of shape (batch, classes), got {out.shape}")
            self.model, self.n_classes = model, max(2, out.shape[1])

    def describe(self):
        """``{"layers": [...], "parameters": n, "classes": k, "text": repr}`` for the page's header."""
        with self.lock:
            model = self.model
            children = model.children() if isinstance(model, Sequential) else [model]
            return {"layers": [_layer_name(child) for child in children],
                    "parameters": int(model.num_parameters()), "classes": self.n_classes,
                    "text": repr(model)}

    def predict(self, pixels):
        """``pixels``: ``(784,)`` in [0, 1] -> ``{"prediction", "probabilities", "activations"}``.

        ``activations`` has one entry per hidden layer (the output of each activation function of a
        ``Sequential`` except the last layer): ``{"index", "name", "values"}``.
        """
        with self.lock:  # only the forward pass: the rounding and JSON work happen outside
            model = self.model
            x = backend.as_float_array(np.asarray(pixels).reshape(1, N_PIXELS), name="pixels",
                                       dtype=model.dtype, device=model.device)
            hidden = []
            if isinstance(model, Sequential):
                children = model.children()
                for index, child in enumerate(children):
                    x = child.forward(x)
                    if _is_activation(child) and index < len(children) - 1:
                        hidden.append((index, type(child).__name__, backend.to_numpy(x[0]).copy()))
            else:
                x = model.forward(x)
            logits = backend.to_numpy(x).copy()
        probabilities = _softmax(logits)[0]
        activations = [{"index": index, "name": name,
                        "values": np.round(values.astype(np.float64), 4).tolist()}
                       for index, name, values in hidden]
        return {"prediction": int(probabilities.argmax()),
                "probabilities": [float(p) for p in probabilities],
                "activations": activations}

    def classify(self, images):
        """``(n, 784)`` -> ``(labels (n,), confidences (n,))``, in one batch."""
        with self.lock:
            model = self.model
            logits = model.forward(backend.as_float_array(images, name="images", dtype=model.dtype,
                                                      device=model.device))
        probabilities = _softmax(backend.to_numpy(logits))
        return probabilities.argmax(axis=1), probabilities.max(axis=1)
