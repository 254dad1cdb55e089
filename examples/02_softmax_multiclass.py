"""Example 2: more than two classes with softmax.

One Linear layer again, now with one output per class: ``z = x . W + b`` gives a score (logit) for
each of the 4 classes, softmax turns the scores into probabilities, and the prediction is the class
with the highest score. ``CrossEntropyLoss`` takes the logits and fuses log-softmax with the negative
log-likelihood. Between any two classes the boundary is where their scores are equal, a straight
line, so the plane is cut into convex regions, one per class.

    python examples/02_softmax_multiclass.py [--quick] [--out DIR]

Saves ``boundary.png``, ``confusion.png`` (test set) and ``curves.png`` in ``--out``.
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
    args = parse_args(argv, "02_softmax_multiclass")
    os.makedirs(args.out, exist_ok=True)
    n_samples, epochs = (200, 15) if args.quick else (1000, 40)

    x, y = on.datasets.make_blobs(n_samples, centers=4, cluster_std=1.5, seed=3)
    x_train, x_test, y_train, y_test = on.train_test_split(x, y, test_size=0.25, seed=0, stratify=y)
    scaler = on.Standardizer()  # the blobs' centers lie anywhere in [-10, 10]: bring features to unit scale
    x_train, x_test = scaler.fit_transform(x_train), scaler.transform(x_test)

    on.manual_seed(0)
    model = on.mlp([2, 4])  # softmax regression: Linear(2, 4), no hidden layer
    history = on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1, momentum=0.9),
                     x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_test, y_test),
                     seed=0, verbose=False)

    test = on.evaluate(model, on.CrossEntropyLoss(), x_test, y_test)
    matrix = on.confusion_matrix(y_test, on.predict(model, x_test))
    print(f"test accuracy {test['accuracy']:.4f}, test loss {test['loss']:.4f} ({epochs} epochs)")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(matrix)

    plot.decision_boundary(model, x_test, y_test, title=f"softmax regression: test accuracy "
                           f"{test['accuracy']:.3f}", resolution=80 if args.quick else 200,
                           path=os.path.join(args.out, "boundary.png"))
    plot.confusion_matrix(matrix, path=os.path.join(args.out, "confusion.png"))
    plot.training_curves(history, path=os.path.join(args.out, "curves.png"))
    return {"test_accuracy": test["accuracy"], "confusion_matrix": matrix, "out": args.out}


if __name__ == "__main__":
    main()
