"""Example 8: the same code on the GPU.

The two-layer MNIST perceptron of example 5, trained on the CPU (NumPy) and, where CuPy sees an
NVIDIA GPU, on the GPU: once step by step and once with the whole training step recorded as a CUDA
graph and replayed (``fit``'s default on the GPU). Nothing in the model changes but one line,
``model.to("gpu")``; the same seed gives the same initial weights and batches on both devices, so
the accuracies agree. Without a GPU the script says so and trains on the CPU alone.

    pip install 'ownnet[gpu]'                 # CuPy (for CUDA 12), on a machine with an NVIDIA GPU
    python examples/08_gpu.py [--quick] [--out DIR]

Saves ``curves.png`` (the runs side by side) and ``comparison.json`` (seconds per epoch, accuracy).
"""

import argparse
import json
import os

import ownnet as on
from ownnet import plot


def parse_args(argv, name):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run (for the tests)")
    parser.add_argument("--out", default=os.path.join("runs", "examples", name), help="where figures go")
    return parser.parse_args(argv)


def train(device, cuda_graph, data, epochs, verbose):
    (x_train, y_train), (x_test, y_test) = data
    on.manual_seed(0)
    model = on.mlp([784, 256, 10]).to(device)  # the one line that picks the device
    optimizer = on.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x_train, y_train, epochs=epochs,
                     batch_size=128, validation_data=(x_test, y_test), seed=0, verbose=verbose,
                     cuda_graph=cuda_graph if device == "gpu" else None)
    seconds = history.history["seconds"]
    return history, {"device": device, "cuda_graph": cuda_graph,
                     "seconds_per_epoch": min(seconds[1:] or seconds),
                     "test_accuracy": history.history["val_accuracy"][-1]}


def main(argv=None):
    args = parse_args(argv, "08_gpu")
    os.makedirs(args.out, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = on.datasets.load_mnist()
    epochs = 3
    if args.quick:
        (x_train, y_train), (x_test, y_test), epochs = (x_train[:3000], y_train[:3000]), \
            (x_test[:500], y_test[:500]), 2
    data = ((x_train, y_train), (x_test, y_test))
    runs = [("CPU", "cpu", None)]
    if on.gpu_available():
        runs += [("GPU, step by step", "gpu", False), ("GPU, captured step", "gpu", True)]
    else:
        print("no GPU here (CuPy with an NVIDIA GPU): training on the CPU only")
    histories, results = {}, {}
    for label, device, cuda_graph in runs:
        histories[label], results[label] = train(device, cuda_graph, data, epochs, verbose=not args.quick)
        print(f"{label}: {results[label]['seconds_per_epoch']:.3f} s/epoch, "
              f"test accuracy {results[label]['test_accuracy']:.4f}")
    plot.training_curves(histories, path=os.path.join(args.out, "curves.png"))
    with open(os.path.join(args.out, "comparison.json"), "w") as file:
        json.dump(results, file, indent=1)
    return results


if __name__ == "__main__":
    main()
