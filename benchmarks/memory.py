"""Memory under load: flat memory over many MNIST epochs, and ``predict`` on a million rows in bounded memory.

    python benchmarks/memory.py                          # predict, then 20 epochs of the default MLP
    python benchmarks/memory.py --epochs 5 --hidden 128 --rows 200000   # a quicker version

Reads the process's memory from /proc/self/status (Linux; no psutil): ``VmRSS`` (resident now) and
``VmHWM`` (the peak so far). Part 1 trains with ``fit`` and records both after every epoch from a
callback: the peak after epoch 20 should equal the peak after epoch 1 (no growth per epoch). Part 2
(run first, in a process that has not yet freed memory it could reuse) runs ``predict`` on ``--rows``
float32 rows: the extra peak memory should be the output plus a few batches, not the hidden activations
of every row at once (the peak is reset with /proc/self/clear_refs before the call). Prints the
numbers and exits with status 1 if either check fails.
"""

import argparse
import sys
import time

import numpy as np

import ownnet as on


def memory_mb():
    """``{"VmRSS": MB, "VmHWM": MB, "RssAnon": MB}`` of this process, from /proc/self/status."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon"):
                values[key] = int(rest.split()[0]) / 1024  # kB -> MB
    return values


def reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0); returns False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def train_memory(epochs, hidden, limit, batch_size):
    (x_train, y_train), (x_test, y_test) = on.datasets.load_mnist(verbose=False)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    on.manual_seed(0)
    model = on.mlp([784, *hidden, 10])
    optimizer = on.SGD(model.parameters(), lr=0.05, momentum=0.9)
    records = []

    def on_epoch_end(epoch, logs):
        records.append({"epoch": epoch, **memory_mb(), "loss": logs["loss"],
                        "val_accuracy": logs.get("val_accuracy"), "seconds": logs["seconds"]})
        r = records[-1]
        print(f"epoch {epoch:3d}  RSS {r['VmRSS']:7.1f} MB  peak {r['VmHWM']:7.1f} MB  "
              f"anon {r['RssAnon']:7.1f} MB  loss {r['loss']:.4f}  val_acc {r['val_accuracy']:.4f}  "
              f"{r['seconds']:.1f} s", flush=True)

    reset_peak()  # the peak of what ran before (loading, predict) must not hide training's own peak
    print(f"before training: {memory_mb()}")
    on.fit(model, on.CrossEntropyLoss(), optimizer, x_train, y_train, epochs=epochs, batch_size=batch_size,
           validation_data=(x_test, y_test), seed=0, verbose=False,
           schedule=on.CosineAnnealingLR(optimizer, T_max=epochs),
           callbacks=[on.LambdaCallback(on_epoch_end=on_epoch_end)])
    first, last = records[0], records[-1]
    growth = last["VmHWM"] - first["VmHWM"]
    rss_growth = last["VmRSS"] - first["VmRSS"]
    print(f"peak RSS after epoch 1: {first['VmHWM']:.1f} MB, after epoch {last['epoch']}: "
          f"{last['VmHWM']:.1f} MB (growth {growth:+.1f} MB); RSS {first['VmRSS']:.1f} -> "
          f"{last['VmRSS']:.1f} MB ({rss_growth:+.1f} MB)")
    return growth, rss_growth


def predict_memory(rows, features, hidden, batch_size):
    rng = np.random.default_rng(0)
    x = rng.random((rows, features), dtype=np.float32)
    on.manual_seed(0)
    model = on.mlp([features, *hidden, 10])
    on.predict(model, x[:batch_size], batch_size=batch_size)  # warm up (BLAS buffers, first allocations)
    can_reset = reset_peak()
    before = memory_mb()
    start = time.perf_counter()
    out = on.predict(model, x, batch_size=batch_size)
    seconds = time.perf_counter() - start
    after = memory_mb()
    extra_peak = after["VmHWM"] - (before["VmRSS"] if can_reset else before["VmHWM"])
    output_mb = out.nbytes / 2**20
    input_mb = x.nbytes / 2**20
    all_at_once_mb = rows * max(hidden) * 4 / 2**20
    print(f"predict on {rows:,} rows x {features} features ({input_mb:.0f} MB of float32 input), "
          f"batch_size {batch_size}: {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
    print(f"extra peak memory {extra_peak:.1f} MB for an output of {output_mb:.1f} MB "
          f"(the first hidden layer for all rows at once would take {all_at_once_mb:.0f} MB)"
          + ("" if can_reset else "  [peak could not be reset: an upper bound]"))
    return extra_peak, output_mb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", default="512,256", help="hidden layer sizes")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N samples (0: all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for predict")
    parser.add_argument("--features", type=int, default=100, help="features per row for predict")
    parser.add_argument("--predict-hidden", default="128", help="hidden layer sizes of the predict model")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)
    hidden = [int(size) for size in args.hidden.split(",") if size]
    predict_hidden = [int(size) for size in args.predict_hidden.split(",") if size]
    extra_peak, output_mb = predict_memory(args.rows, args.features, predict_hidden, 1024)
    ok = extra_peak < output_mb + 64
    print(f"predict memory bounded (extra peak < output + 64 MB): {'yes' if ok else 'NO'}")
    if not args.skip_training:
        growth, _ = train_memory(args.epochs, hidden, args.limit, args.batch_size)
        flat = growth < 16
        print(f"training memory flat (peak growth < 16 MB): {'yes' if flat else 'NO'}")
        ok &= flat
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
