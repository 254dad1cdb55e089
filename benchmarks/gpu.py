"""ownnet on the GPU against PyTorch on the same GPU, in one run: the canonical MNIST recipe
(784-512-256-10 ReLU, softmax cross-entropy, SGD lr 0.05 momentum 0.9, float32, data resident on the
GPU) trained by

- ownnet-CuPy through ``fit`` without capture (``cuda_graph=False``) and with the whole step
  captured once as a CUDA graph and replayed (``cuda_graph=True``),
- PyTorch eager and PyTorch with the whole step captured (``torch.cuda.graph``), the same loop,
- ownnet on the CPU (NumPy), for the accuracy the GPU must match,

at batch 128 (and batch 1024 for the eager ones). Every system starts from the same initial weights
(ownnet's, copied into PyTorch) and keeps the loss and accuracy sums on the device (one read per
epoch). Prints seconds per epoch (median of epochs 2..N, the first compiles and captures), test
accuracy and the ratios; writes gpu.json and gpu.md into ``--out``.

    python benchmarks/gpu.py                    # needs an NVIDIA GPU, CuPy and PyTorch (under 3 minutes)
    python benchmarks/gpu.py --cpu-check        # dry run on the CPU, 2048 samples: tests the script

PyTorch's graph variant trains on the full batches only (468 of 469 at batch 128): a second graph
for the last, smaller batch is not worth its capture.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

SIZES = [784, 512, 256, 10]
LR, MOMENTUM = 0.05, 0.9


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per system (default 4)")
    parser.add_argument("--data", default=None, help="folder with the MNIST IDX files (default: OWNNET_DATA, "
                                                     "then ownnet's cache)")
    parser.add_argument("--out", default="benchmarks/results", help="where gpu.json and gpu.md go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu-check", action="store_true",
                        help="dry run on the CPU with 2048 training samples (the GPU systems are skipped)")
    return parser.parse_args(argv)


def load_data(args):
    import ownnet as on

    (x_train, y_train), (x_test, y_test) = on.datasets.load_mnist(path=args.data, verbose=False)
    if args.cpu_check:
        x_train, y_train, x_test, y_test = x_train[:2048], y_train[:2048], x_test[:1000], y_test[:1000]
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


def initial_model(seed):
    import ownnet as on

    on.manual_seed(seed)
    return on.mlp(SIZES)


def summarize(seconds):
    later = seconds[1:] or seconds
    return {"seconds_per_epoch": statistics.median(later), "min": min(later), "max": max(later),
            "epoch_seconds": seconds}


def run_ownnet(data, device, batch, epochs, cuda_graph, seed):
    import ownnet as on

    x_train, y_train, x_test, y_test = data
    model = initial_model(seed).to(device)
    if device == "gpu":  # resident on the GPU for the whole run
        x_train, y_train = on.to_device(x_train, "gpu"), on.to_device(y_train, "gpu")
    optimizer = on.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    from ownnet.backend.cuda.graph import STATS

    replays = STATS["replays"]
    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x_train, y_train, epochs=epochs,
                     batch_size=batch, seed=seed, verbose=False, cuda_graph=cuda_graph)
    result = summarize(history.history["seconds"])
    result["graph_replays"] = STATS["replays"] - replays  # proof that the captured step ran
    result["test_accuracy"] = on.evaluate(model, None, x_test, y_test)["accuracy"]
    result["dtype"] = str(model.parameters()[0].data.dtype)
    return result


def run_torch(data, device, batch, epochs, graph, seed):
    import torch

    import ownnet as on

    x_train, y_train, x_test, y_test = data
    dev = torch.device("cuda" if device == "gpu" else "cpu")
    model = on.to_torch(initial_model(seed)).to(dev)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x = torch.from_numpy(x_train).to(dev)
    y = torch.from_numpy(y_train).to(dev)
    n = len(x)
    steps = n // batch if graph else math.ceil(n / batch)
    totals = torch.zeros(2, dtype=torch.float64, device=dev)
    rng = np.random.default_rng(seed)

    def step(xb, yb):
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        optimizer.step()
        totals[0] += loss.detach() * len(xb)
        totals[1] += (out.argmax(1) == yb).sum()

    static_x = torch.empty((batch, 784), device=dev)
    static_y = torch.empty(batch, dtype=torch.int64, device=dev)
    cuda_graph, warmup, side = None, 3, (torch.cuda.Stream() if graph else None)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        totals.zero_()
        order = torch.from_numpy(rng.permutation(n)).to(dev)
        for i in range(steps):
            index = order[i * batch:(i + 1) * batch]
            if not graph:
                optimizer.zero_grad(set_to_none=True)
                step(x[index], y[index])
                continue
            torch.index_select(x, 0, index, out=static_x)
            torch.index_select(y, 0, index, out=static_y)
            if cuda_graph is None and warmup > 0:  # real steps, on a side stream as capture requires
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    optimizer.zero_grad(set_to_none=True)
                    step(static_x, static_y)
                torch.cuda.current_stream().wait_stream(side)
                warmup -= 1
                continue
            if cuda_graph is None:
                optimizer.zero_grad(set_to_none=True)
                cuda_graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(cuda_graph):
                    step(static_x, static_y)
            cuda_graph.replay()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        totals.cpu()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        predicted = model(torch.from_numpy(x_test).to(dev)).argmax(1).cpu().numpy()
    result = summarize(seconds)
    result["test_accuracy"] = float((predicted == y_test).mean())
    return result


def gpu_name():
    import cupy

    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def versions():
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for module in ("cupy", "torch"):
        try:
            found[module] = __import__(module).__version__
        except ImportError:
            found[module] = None
    return found


SYSTEMS = [
    # (name, library, device, batch, graph)
    ("ownnet-CuPy eager", "ownnet", "gpu", 128, False),
    ("ownnet-CuPy graph", "ownnet", "gpu", 128, True),
    ("PyTorch eager", "torch", "gpu", 128, False),
    ("PyTorch graph", "torch", "gpu", 128, True),
    ("ownnet-CuPy eager", "ownnet", "gpu", 1024, False),
    ("PyTorch eager", "torch", "gpu", 1024, False),
    ("ownnet-NumPy (CPU)", "ownnet", "cpu", 128, False),
]

RATIOS = [
    # (label, numerator, denominator, batch, target: time ratio at most)
    ("ownnet-CuPy eager / PyTorch eager, batch 128", "ownnet-CuPy eager", "PyTorch eager", 128, 1.0),
    ("ownnet-CuPy eager / PyTorch eager, batch 1024", "ownnet-CuPy eager", "PyTorch eager", 1024, 1.1),
    ("ownnet-CuPy graph / PyTorch graph, batch 128", "ownnet-CuPy graph", "PyTorch graph", 128, 1.0),
]


def run_all(args):
    data = load_data(args)
    rows = []
    for name, library, device, batch, graph in SYSTEMS:
        if args.cpu_check and device == "gpu":
            if graph:
                rows.append({"system": name, "batch": batch, "skipped": "needs a GPU (--cpu-check)"})
                continue
            device, name = "cpu", name + " [on the CPU: --cpu-check]"  # the eager code paths
        if library == "torch":
            try:
                import torch  # noqa: F401
            except ImportError:
                rows.append({"system": name, "batch": batch, "skipped": "PyTorch is not installed"})
                continue
        runner = run_ownnet if library == "ownnet" else run_torch
        print(f"{name}, batch {batch} ...", flush=True)
        result = runner(data, device, batch, args.epochs, graph, args.seed)
        rows.append({"system": name, "batch": batch, "device": device, **result})
        print(f"  {result['seconds_per_epoch']:.4f} s/epoch, test accuracy {result['test_accuracy']:.4f}",
              flush=True)
    return rows


def ratios(rows):
    found = []
    by_key = {(row["system"].split(" [")[0], row["batch"]): row for row in rows if "seconds_per_epoch" in row}
    for label, top, bottom, batch, target in RATIOS:
        a, b = by_key.get((top, batch)), by_key.get((bottom, batch))
        if a and b:
            ratio = a["seconds_per_epoch"] / b["seconds_per_epoch"]
            found.append({"ratio": label, "time_ratio": ratio, "target_at_most": target,
                          "met": ratio <= target})
    return found


def markdown(report):
    lines = [f"GPU: {report['gpu']}, {report['date']}, {report['epochs']} epochs, "
             f"versions {report['versions']}",
             "", "| system | batch | s/epoch (median of epochs 2..N) | min–max | test accuracy |",
             "| --- | --- | --- | --- | --- |"]
    for row in report["rows"]:
        if "skipped" in row:
            lines.append(f"| {row['system']} | {row['batch']} | skipped: {row['skipped']} | | |")
        else:
            lines.append(f"| {row['system']} | {row['batch']} | {row['seconds_per_epoch']:.4f} | "
                         f"{row['min']:.4f}–{row['max']:.4f} | {row['test_accuracy'] * 100:.2f}% |")
    lines += ["", "| ratio (time, lower is faster) | value | target | met |", "| --- | --- | --- | --- |"]
    for ratio in report["ratios"]:
        lines.append(f"| {ratio['ratio']} | {ratio['time_ratio']:.3f}x | ≤ {ratio['target_at_most']}x | "
                     f"{'yes' if ratio['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    if not args.cpu_check:
        import ownnet as on

        if not on.gpu_available():
            sys.exit("benchmarks/gpu.py: no GPU (CuPy with a CUDA device); use --cpu-check for a dry run")
    started = time.perf_counter()
    rows = run_all(args)
    report = {"gpu": "none (--cpu-check)" if args.cpu_check else gpu_name(),
              "date": datetime.date.today().isoformat(), "epochs": args.epochs, "versions": versions(),
              "rows": rows, "ratios": ratios(rows), "wall_seconds": time.perf_counter() - started}
    text = markdown(report)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    stem = "gpu-cpu-check" if args.cpu_check else "gpu"
    with open(os.path.join(args.out, stem + ".json"), "w") as file:
        json.dump(report, file, indent=1)
    with open(os.path.join(args.out, stem + ".md"), "w") as file:
        file.write(text)
    return report


if __name__ == "__main__":
    main()
