"""Serial against parallel element-wise loops (``ownnet.backend.cpu_loops``), paired and interleaved.

    python benchmarks/parallel_kernels.py                       # every op, sizes 2**12 .. 2**22
    python benchmarks/parallel_kernels.py --ops sgd_momentum --sizes 65536,401408 --rounds 41
    python benchmarks/parallel_kernels.py --after-gemm          # each pass between two matrix products
    python benchmarks/parallel_kernels.py --steps canonical     # whole training steps, by mode

Each round times the serial loop and the parallel loop on the same arrays, one right after the other,
in an order that alternates from round to round, and takes their ratio (serial seconds / parallel
seconds: above 1, the parallel loop is faster); the table gives the median ratio over the rounds and its
range. A drifting machine moves both turns of a round alike, so the ratio holds where the seconds do not.

``--after-gemm`` puts a float32 product of the canonical net's first layer (128x784 @ 784x512, on
OpenBLAS's threads) before every pass and times the pair: what a pass costs in a training step, where
OpenBLAS's threads may still be spinning when the pass starts, and the pass's threads when the next
product starts. This is how ``cpu_parallel.MIN_PARALLEL_SIZE`` was chosen.

``--steps NET`` times whole training steps of ``ownnet bench``'s net NET (``train_step``: forward,
loss, backward, update, batch 128, SGD with momentum) in each ``cpu_parallel`` mode in turn — ``0``
(serial loops), ``auto`` (the default) and ``always`` — the order alternating from round to round, and
gives each mode's step time over the serial mode's in the same round.
"""

import argparse
import statistics
import sys
import time

import numpy as np

from ownnet.backend import cpu_loops

SIZES = [1 << k for k in range(12, 23, 2)] + [401408]


def arguments(op, size, dtype, rng):
    """The loop's arguments after (start, stop): fresh arrays of ``size`` elements and the scalars."""
    t = np.dtype(dtype).type
    a, b, c, d, e = (rng.standard_normal(size).astype(dtype) for _ in range(5))
    c, d = np.abs(c), np.abs(d)  # state that stays >= 0 (Adam's and RMSProp's averages of squares)
    return {
        "sgd_momentum": (a, b, c, t(0.05), t(0.9)),
        "sgd": (a, b, c, t(0.05), t(1e-4), t(0.9), t(1.0), False, True, False),
        "adam": (a, b, e, c, t(0.9), t(0.1), t(0.999), t(0.001), t(1e-8), t(1e-3), t(0.5), t(0.0), t(1.0),
                 False),
        "rmsprop": (a, b, c, d, e, t(1e-2), t(0.99), t(0.01), t(1e-8), t(0.0), t(0.9), True),
        "relu": (e, a, t(0)),
        "relu_backward": (e, a, b, t(1)),
        "tanh_backward": (e, a, b, t(1)),
        "sigmoid_backward": (e, a, b, t(1)),
    }[op]


def repeated(turn, repeats):
    for _ in range(repeats):
        turn()


def timed(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def compare(op, size, dtype="float32", rounds=21, after_gemm=False, repeats=None):
    """``(serial seconds, parallel seconds, ratios)``: medians per call, and the per-round ratios."""
    rng = np.random.default_rng(0)
    args = arguments(op, size, dtype, rng)
    serial, parallel = getattr(cpu_loops, op), getattr(cpu_loops, op + "_parallel")
    x, w = rng.random((128, 784), np.float32), rng.random((784, 512), np.float32)
    product = np.empty((128, 512), np.float32)

    def serial_turn():
        if after_gemm:
            np.matmul(x, w, out=product)
        serial(0, size, *args)

    def parallel_turn():
        if after_gemm:
            np.matmul(x, w, out=product)
        parallel(*args)

    for turn in (serial_turn, parallel_turn):  # compile and warm up
        turn()
    repeats = repeats or max(5, min(2000, int(2e6 / size)))
    times = {serial_turn: [], parallel_turn: []}
    ratios = []
    for index in range(rounds):
        order = (serial_turn, parallel_turn) if index % 2 == 0 else (parallel_turn, serial_turn)
        for turn in order:
            times[turn].append(timed(repeated, turn, repeats) / repeats)
        ratios.append(times[serial_turn][-1] / times[parallel_turn][-1])
    return statistics.median(times[serial_turn]), statistics.median(times[parallel_turn]), ratios


MODES = ("0", "auto", "always")


def compare_steps(net, rounds=15, steps=40):
    """``{mode: [per-round speedup over mode "0"]}`` and ``{mode: [seconds per step]}``."""
    import ownnet as on
    from ownnet.apps.bench import NETS, RECIPE
    from ownnet.backend import cpu_parallel
    from ownnet.train.step import train_step

    rng = np.random.default_rng(0)
    x = rng.random((steps * RECIPE["batch_size"], NETS[net]["sizes"][0]), np.float32)
    y = rng.integers(0, NETS[net]["sizes"][-1], len(x))
    on.manual_seed(0)
    model = on.mlp(NETS[net]["sizes"], activation=NETS[net]["activation"])
    model.needs_input_grad = False
    optimizer = on.SGD(model.parameters(), lr=1e-6, momentum=RECIPE["momentum"])
    loss = on.CrossEntropyLoss()
    batches = [(x[i:i + RECIPE["batch_size"]], y[i:i + RECIPE["batch_size"]])
               for i in range(0, len(x), RECIPE["batch_size"])]

    def turn(mode):
        cpu_parallel.set_mode(mode)
        start = time.perf_counter()
        for xb, yb in batches:
            train_step(model, loss, optimizer, xb, yb)
        return (time.perf_counter() - start) / len(batches)

    for mode in MODES:  # compile and warm up
        turn(mode)
    seconds = {mode: [] for mode in MODES}
    for index in range(rounds):
        for mode in (MODES if index % 2 == 0 else MODES[::-1]):
            seconds[mode].append(turn(mode))
    cpu_parallel.set_mode(None)
    speedups = {mode: [s / p for s, p in zip(seconds["0"], seconds[mode])] for mode in MODES[1:]}
    return speedups, seconds


def main_steps(net, rounds):
    speedups, seconds = compare_steps(net, rounds)
    print(f"{net} net, training steps (batch 128), {rounds} rounds, modes alternated")
    print("| OWNNET_PARALLEL | us per step (median, min-max) | speed over serial (median, min-max) |")
    print("| --- | --- | --- |")
    for mode in MODES:
        times = seconds[mode]
        ratio = speedups.get(mode)
        cell = "1" if ratio is None else (f"**{statistics.median(ratio):.3f}x** "
                                          f"({min(ratio):.2f}-{max(ratio):.2f})")
        print(f"| {mode} | {statistics.median(times) * 1e6:.0f} ({min(times) * 1e6:.0f}-"
              f"{max(times) * 1e6:.0f}) | {cell} |")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default="sgd_momentum,adam,rmsprop,relu,relu_backward,tanh_backward")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--after-gemm", action="store_true")
    parser.add_argument("--steps", choices=["canonical", "small", "big"], help="whole training steps")
    args = parser.parse_args(argv)
    if args.steps:
        return main_steps(args.steps, args.rounds)
    import numba

    print(f"Numba {numba.__version__}, threading layer {numba.threading_layer() if _started() else '?'}, "
          f"{numba.get_num_threads()} threads; {args.dtype}; {args.rounds} rounds, order alternated"
          f"{'; each pass after a 128x784x512 SGEMM' if args.after_gemm else ''}")
    print("| op | elements | serial us | parallel us | serial/parallel (median, min-max) |")
    print("| --- | --- | --- | --- | --- |")
    for op in args.ops.split(","):
        for size in map(int, args.sizes.split(",")):
            serial, parallel, ratios = compare(op, size, args.dtype, args.rounds, args.after_gemm)
            print(f"| {op} | {size:,} | {serial * 1e6:.1f} | {parallel * 1e6:.1f} | "
                  f"**{statistics.median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f}) |", flush=True)
    return 0


def _started():
    """Load Numba's threading layer as ownnet does (``cpu_parallel``: OpenMP's threads passive)."""
    from ownnet.backend import cpu_parallel

    cpu_parallel.allowed()
    return True


if __name__ == "__main__":
    sys.exit(main())
