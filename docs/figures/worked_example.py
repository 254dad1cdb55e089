"""The 2-2-2 network of docs/layer-contract.md, forward and backward, computed by ownnet in float64.

``python docs/figures/worked_example.py`` prints the table the document shows; the test suite
(tests/nn/test_layer_contract_doc.py) checks that every number in it is in the document.
"""

import numpy as np

import ownnet as on

X = [[1.0, 2.0]]  # one sample, two features
LABEL = 1
W1, B1 = [[0.1, -0.2], [0.3, 0.4]], [0.0, -0.1]  # (in, out): the lesson's W transposed
W2, B2 = [[0.5, -0.5], [0.2, 0.3]], [0.0, 0.0]


def network():
    """``Linear(2, 2) -> Tanh -> Linear(2, 2)`` in float64 with the weights above."""
    model = on.Sequential(on.Linear(2, 2), on.Tanh(), on.Linear(2, 2)).to("float64")
    for layer, weight, bias in ((model[0], W1, B1), (model[2], W2, B2)):
        layer.weight.data[...] = weight
        layer.bias.data[...] = bias
    return model


def rows():
    """``[(quantity, how it is computed, value)]`` through forward and backward, step by step."""
    model, loss = network(), on.CrossEntropyLoss()
    x = np.array(X)
    z1 = model[0].forward(x)
    h = model[1].forward(z1)
    z2 = model[2].forward(h)
    value = loss.forward(z2, np.array([LABEL]))
    p = on.Softmax().to("float64").forward(z2)
    dz2 = loss.backward()
    dh = model[2].backward(dz2)
    dz1 = model[1].backward(dh)
    model[0].backward(dz1)
    return [
        ("z1", "x·W1 + b1", z1), ("h", "tanh(z1)", h), ("z2", "h·W2 + b2", z2), ("p", "softmax(z2)", p),
        ("L", f"−log p[{LABEL}]", np.array([value])),
        ("dL/dz2", "(p − onehot(y)) / 1", dz2), ("dL/dW2", "hᵀ·dL/dz2", model[2].weight.grad),
        ("dL/db2", "Σ dL/dz2", model[2].bias.grad), ("dL/dh", "dL/dz2·W2ᵀ", dh),
        ("dL/dz1", "dL/dh ⊙ (1 − h²)", dz1), ("dL/dW1", "xᵀ·dL/dz1", model[0].weight.grad),
        ("dL/db1", "Σ dL/dz1", model[0].bias.grad),
    ]


def number(value):
    return f"{value:.4f}".replace("-", "−")


def text(array):
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[0] > 1:
        return "[" + ", ".join(text(row) for row in array) + "]"
    return "[" + ", ".join(number(v) for v in array.ravel()) + "]"


def table():
    lines = ["| quantity | computed as | value |", "| --- | --- | --- |"]
    lines += [f"| {name} | {how} | {text(value)} |" for name, how, value in rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
