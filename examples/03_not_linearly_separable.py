"""Example 3: classes that no straight line can separate, and the hidden layers that can.

Three intertwined spiral arms, one class each. A linear model (softmax regression, example 2) can
only cut the plane with straight lines and stays near chance (1/3). An MLP with two hidden layers
of 64 ReLU units bends its boundary around the arms and classifies the training set almost
perfectly: each hidden layer maps the points to a space where the next layer's lines work.

    python examples/03_not_linearly_separable.py [--quick] [--out DIR]

Saves ``boundaries.png`` (linear and MLP side by side) and ``curves.png`` in ``--out``.
"""

import argparse
import os

import ownnet as on
from ownnet import plot


def parse_args(argv, name):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run (for the tests)")
    parser.add_argument("--out", default=os.path.join("runs", "examples", name), help="where figures go")
    return parser.parse_args(argv)


def train(model, x, y, epochs):
    return on.fit(model, on.CrossEntropyLoss(), on.Adam(model.parameters(), lr=0.01), x, y, epochs=epochs,
                  batch_size=32, seed=0, verbose=False)


def main(argv=None):
    args = parse_args(argv, "03_not_linearly_separable")
    os.makedirs(args.out, exist_ok=True)
    n_samples, epochs = (300, 30) if args.quick else (600, 300)

    x, y = on.datasets.make_spirals(n_samples, n_classes=3, noise=0.1, seed=0)
    on.manual_seed(0)
    models = {"linear (softmax regression)": on.mlp([2, 3]), "MLP 2-64-64-3 (ReLU)": on.mlp([2, 64, 64, 3])}
    histories, accuracies = {}, {}
    for name, model in models.items():
        histories[name] = train(model, x, y, epochs)
        accuracies[name] = on.evaluate(model, None, x, y)["accuracy"]
        print(f"{name:<28} train accuracy {accuracies[name]:.4f}  ({epochs} epochs, Adam lr 0.01)")
    print(f"chance level: {1 / 3:.4f}")

    titled = {f"{name}: train accuracy {accuracies[name]:.3f}": model for name, model in models.items()}
    plot.decision_boundary(titled, x, y, resolution=80 if args.quick else 250,
                           path=os.path.join(args.out, "boundaries.png"))
    plot.training_curves(histories, path=os.path.join(args.out, "curves.png"))
    linear, deep = accuracies.values()
    return {"linear_accuracy": linear, "mlp_accuracy": deep, "out": args.out}


if __name__ == "__main__":
    main()
