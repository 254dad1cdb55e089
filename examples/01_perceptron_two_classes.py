"""Example 1: a one-layer perceptron separates two linearly separable classes.

The lesson's starting point: one Linear layer computes a score ``z = x . w + b`` for each point, and
the sigmoid of that score is P(class 1). ``BCEWithLogitsLoss`` fuses the sigmoid with the binary
cross-entropy, so the model outputs the raw score (a logit). The decision boundary is the straight
line ``z = 0``: one layer can only ever draw a line (a hyperplane in more dimensions).

    python examples/01_perceptron_two_classes.py [--quick] [--out DIR]

Saves ``boundary.png`` (the line and the probability contours) and ``curves.png`` in ``--out``.
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


def main(argv=None):
    args = parse_args(argv, "01_perceptron_two_classes")
    os.makedirs(args.out, exist_ok=True)
    n_samples, epochs = (200, 20) if args.quick else (1000, 50)

    x, y = on.datasets.make_linearly_separable(n_samples, margin=0.3, seed=0)
    x_train, x_test, y_train, y_test = on.train_test_split(x, y, test_size=0.25, seed=0, stratify=y)
    # BCEWithLogitsLoss compares one score per point with a 0/1 target of the same shape, (N, 1)
    t_train, t_test = (t.reshape(-1, 1).astype("float32") for t in (y_train, y_test))

    on.manual_seed(0)
    model = on.Sequential(on.Linear(2, 1))
    history = on.fit(model, on.BCEWithLogitsLoss(), on.SGD(model.parameters(), lr=0.5), x_train, t_train,
                     epochs=epochs, batch_size=32, validation_data=(x_test, t_test), seed=0, verbose=False)

    (w1, w2), b = model[0].weight.data[:, 0], float(model[0].bias.data[0])
    train_acc = on.accuracy(t_train, on.predict(model, x_train), threshold=0.0)
    test_acc = on.accuracy(t_test, on.predict(model, x_test), threshold=0.0)
    print(f"decision boundary: {w1:.3f} * x0 + {w2:.3f} * x1 + {b:.3f} = 0")
    print(f"train accuracy {train_acc:.4f}, test accuracy {test_acc:.4f} ({epochs} epochs)")

    plot.decision_boundary(model, x_test, y_test, title=f"one Linear layer: test accuracy {test_acc:.3f}",
                           resolution=80 if args.quick else 200, path=os.path.join(args.out, "boundary.png"))
    plot.training_curves(history, path=os.path.join(args.out, "curves.png"))
    return {"train_accuracy": train_acc, "test_accuracy": test_acc, "out": args.out}


if __name__ == "__main__":
    main()
