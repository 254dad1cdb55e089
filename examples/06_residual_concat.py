"""Example 6: a network that is not a chain. Skip connections let a deep network learn.

Two networks of the same depth and the same number of weights classify the three spirals: a stem
``Linear(2, 32), Tanh``, eight hidden blocks ``Linear(32, 32), Tanh``, and a ``Linear(32, 3)`` head.
In the plain network the blocks follow each other; in the residual one each block is wrapped in
``Residual``, so it computes ``x + block(x)``.

Why it matters: a plain block multiplies the signal on the way forward, and the gradient on the way
back, by the Jacobian of a Linear-tanh layer. At initialisation eight of them shrink both: the head
sees nearly the same features for every point, every layer's weight gradient is small, and the plain
network sits on a plateau at chance level for many epochs. ``Residual.forward`` adds the block's
output to its input and ``Residual.backward`` returns ``g + block.backward(g)``: the identity path
carries the signal forward and the gradient back unchanged. The script prints both networks' weight
gradient norms at initialisation and trains them with the same SGD settings. (``Concat`` is the
other non-chain container: branches side by side on the same input, their outputs joined, e.g.
``Concat(Linear(2, 16), Sequential(Linear(2, 16), Tanh()))``.)

    python examples/06_residual_concat.py [--quick] [--out DIR]

Saves ``curves.png`` (both runs) and ``boundaries.png`` in ``--out``.
"""

import argparse
import os

import numpy as np

import ownnet as on
from ownnet import plot


def parse_args(argv, name):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run (for the tests)")
    parser.add_argument("--out", default=os.path.join("runs", "examples", name), help="where figures go")
    return parser.parse_args(argv)


def deep_tanh_net(depth, width, residual):
    # Xavier initialisation before tanh (Linear's default, He, is for ReLU); mlp(...) would choose it
    model = on.Sequential(on.Linear(2, width, init="xavier_uniform"), on.Tanh())
    for _ in range(depth):
        block = on.Sequential(on.Linear(width, width, init="xavier_uniform"), on.Tanh())
        model.add(on.Residual(block) if residual else block)
    model.add(on.Linear(width, 3))
    return model


def weight_gradient_norms(model, x, y):
    """||dL/dW|| of every Linear layer, first to last, for one batch."""
    loss = on.CrossEntropyLoss()
    loss.forward(model(x), y)
    model.zero_grad()
    model.backward(loss.backward())
    norms = [float(np.linalg.norm(p.grad)) for name, p in model.named_parameters() if name.endswith("weight")]
    model.zero_grad()
    return norms


def main(argv=None):
    args = parse_args(argv, "06_residual_concat")
    os.makedirs(args.out, exist_ok=True)
    n_samples, epochs = (300, 20) if args.quick else (600, 40)

    x, y = on.datasets.make_spirals(n_samples, n_classes=3, noise=0.1, seed=0)
    models, histories, accuracies = {}, {}, {}
    print("gradient norm of each layer's weights at initialisation (first layer ... last):")
    for name, residual in (("plain", False), ("residual", True)):
        on.manual_seed(0)  # the same initial weights for both
        models[name] = model = deep_tanh_net(depth=8, width=32, residual=residual)
        norms = weight_gradient_norms(model, x, y)
        print(f"  {name:<8} " + " ".join(f"{g:.1e}" for g in norms))
        optimizer = on.SGD(model.parameters(), lr=0.01, momentum=0.9)
        histories[name] = on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=epochs, batch_size=32,
                                 seed=0, verbose=False)
    for name, history in histories.items():
        curve = history["accuracy"]
        accuracies[name] = on.evaluate(models[name], None, x, y)["accuracy"]
        checkpoints = ", ".join(f"epoch {e}: {curve[e - 1]:.3f}"
                                for e in (1, epochs // 4, epochs // 2, epochs))
        print(f"{name:<8} train accuracy {checkpoints}  (final, whole set: {accuracies[name]:.4f})")

    plot.training_curves(histories, path=os.path.join(args.out, "curves.png"))
    titled = {f"{name} (10 Linear layers): {accuracies[name]:.3f}": m for name, m in models.items()}
    plot.decision_boundary(titled, x, y, resolution=80 if args.quick else 200,
                           path=os.path.join(args.out, "boundaries.png"))
    return {"plain_accuracy": accuracies["plain"], "residual_accuracy": accuracies["residual"],
            "curves": {name: history["accuracy"] for name, history in histories.items()}, "out": args.out}


if __name__ == "__main__":
    main()
