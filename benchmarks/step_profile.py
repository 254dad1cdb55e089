"""Where a training step's time goes: `fit`'s CPU step taken apart, one timer per part.

    python benchmarks/step_profile.py --net big            # canonical, small or big (ownnet bench's nets)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/step_profile.py --net big

The loop is `fit`'s own step on the CPU (ownnet.train.step.train_step, run by
ownnet.train.runners.CpuRunner) written out: the batch gather of the shuffling DataLoader, each
layer's forward and backward, the loss, the optimizer step and the per-batch accuracy, each between
two `time.perf_counter` calls. Prints microseconds per step, averaged over the
epochs after the first, and the share of the whole step.
"""

import argparse
import sys
import time
from collections import defaultdict

import ownnet as on
from ownnet.apps.bench import NETS, RECIPE
from ownnet.data import DataLoader
from ownnet.datasets import load_mnist


def profile(net="canonical", epochs=3, limit=None):
    """``{part: seconds per step}`` (and ``"total"``), measured over ``epochs - 1`` epochs."""
    (x, y), _ = load_mnist()
    if limit:
        x, y = x[:limit], y[:limit]
    on.manual_seed(0)
    model = on.mlp(NETS[net]["sizes"], activation=NETS[net]["activation"])
    model.needs_input_grad = False  # as in fit: nobody uses dL/dx of the data
    optimizer = on.SGD(model.parameters(), lr=RECIPE["lr"], momentum=RECIPE["momentum"])
    loss = on.CrossEntropyLoss()
    loader = DataLoader(x, y, batch_size=RECIPE["batch_size"], shuffle=True, seed=0, reuse_buffers=True)
    layers = [(f"{type(layer).__name__} {index}", layer) for index, layer in enumerate(model.layers)]
    times, steps, clock = defaultdict(float), 0, time.perf_counter
    for epoch in range(epochs):
        if epoch == 1:  # the first epoch compiles and warms up
            times.clear()
            steps = 0
        batches = iter(loader)
        while True:
            start = clock()
            try:
                x_batch, y_batch = next(batches)
            except StopIteration:
                break
            times["batch gather"] += clock() - start
            out = x_batch
            for name, layer in layers:
                t = clock()
                out = layer.forward(out)
                times[f"{name} forward"] += clock() - t
            t = clock()
            loss.forward(out, y_batch)
            optimizer.zero_grad()
            grad = loss.backward()
            times["loss forward+backward"] += clock() - t
            for name, layer in reversed(layers):
                t = clock()
                grad = layer.backward(grad)
                times[f"{name} backward"] += clock() - t
                if grad is None:
                    break
            t = clock()
            optimizer.step()
            times["optimizer step"] += clock() - t
            t = clock()
            on.metrics.accuracy(y_batch, out)
            times["accuracy"] += clock() - t
            times["total"] += clock() - start
            steps += 1
    return {part: seconds / steps for part, seconds in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default="canonical", choices=sorted(NETS))
    parser.add_argument("--epochs", type=int, default=3, help="the first one is not counted")
    parser.add_argument("--limit", type=int, default=None, help="train on the first LIMIT samples only")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs: at least 2 (the first one is not counted)")
    parts = profile(args.net, args.epochs, args.limit)
    total = parts["total"]
    print(f"{args.net} net {NETS[args.net]['sizes']}, batch {RECIPE['batch_size']}: "
          f"{total * 1e6:.0f} us per step")
    for part, seconds in parts.items():
        if part != "total":
            print(f"  {part:28s} {seconds * 1e6:8.1f} us  {100 * seconds / total:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
