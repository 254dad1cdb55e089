"""Data-parallel training on MPI: throughput measured on this machine, and a cost model for clusters.

    pip install -e '.[mpi]'
    python benchmarks/distributed.py                   # measure 1 and 2 ranks, then the model's table
    python benchmarks/distributed.py --model-only --samples-per-second 20000

Measured: ``mpiexec -n R`` runs of ``fit(..., distributed=True)`` on MNIST with the default MLP
(784-512-256-10, float32, SGD with momentum); the last epoch's samples/s over all ranks and the time
rank 0 spent inside the gradient ``Allreduce`` (transfer *and* waiting for the slower rank).
BLAS threads per rank = cores // ranks (and 1 rank also on one core), so the ranks do not fight
over the cores.

Modelled (docs/distributed.md): one step on ``n`` ranks with ``b`` rows each takes

    t_step = b · t_sample + t_allreduce,   t_allreduce = 2 (n - 1) α + 2 (n - 1) / n · 4 P / β

(a ring allreduce of the ``4 P`` bytes of float32 gradients: a reduce-scatter and an all-gather of
``n - 1`` messages of ``4 P / n`` bytes each; α the latency per message, β the bandwidth); ownnet
does not overlap the allreduce with the backward pass. Throughput = ``n · b / t_step``;
communication dominates once ``t_allreduce > b · t_sample``, i.e. below ``b* = t_allreduce / t_sample``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

NETWORKS = {  # name: (bandwidth in bytes/s, latency per message in s)
    "10 Gbit/s Ethernet": (10e9 / 8, 25e-6),
    "100 Gbit/s InfiniBand/RoCE": (100e9 / 8, 2e-6),
}
RANKS = (8, 64, 256)


# --- the model -----------------------------------------------------------------------------------


def allreduce_seconds(parameters, ranks, bandwidth, latency, bytes_per_value=4):
    """Ring allreduce of ``parameters`` values over ``ranks`` ranks."""
    if ranks == 1:
        return 0.0
    size = bytes_per_value * parameters
    return 2 * (ranks - 1) * latency + 2 * (ranks - 1) / ranks * size / bandwidth


def predict(parameters, seconds_per_sample, ranks, batch, bandwidth, latency):
    """``(samples/s over all ranks, allreduce share of a step, b*)`` for ``batch`` rows per rank."""
    communication = allreduce_seconds(parameters, ranks, bandwidth, latency)
    compute = batch * seconds_per_sample
    return ranks * batch / (compute + communication), communication / (compute + communication), \
        communication / seconds_per_sample


def model_table(parameters, seconds_per_sample, batches=(32, 128, 512)):
    lines = [f"Cost model: P = {parameters:,} parameters ({4 * parameters / 1e6:.2f} MB of float32 gradients "
             f"per step), compute {seconds_per_sample * 1e6:.1f} µs per sample per rank (measured, 1 rank).",
             "",
             "| network | ranks | allreduce per step | b* (rows per rank) | "
             + " | ".join(f"samples/s at b={b} (comm share)" for b in batches) + " |",
             "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in batches) + " |"]
    for name, (bandwidth, latency) in NETWORKS.items():
        for ranks in RANKS:
            cells = []
            for batch in batches:
                rate, share, b_star = predict(parameters, seconds_per_sample, ranks, batch, bandwidth,
                                              latency)
                cells.append(f"{rate:,.0f} ({share:.0%})")
            t = allreduce_seconds(parameters, ranks, bandwidth, latency)
            lines.append(f"| {name} | {ranks} | {t * 1e3:.2f} ms | {b_star:,.0f} | " + " | ".join(cells)
                         + " |")
    return "\n".join(lines)


# --- the measurement -------------------------------------------------------------------------------


def worker(args):
    """Run on every rank under mpiexec; rank 0 prints one JSON line."""
    import numpy as np

    import ownnet as on
    from ownnet import distributed

    world = distributed.init()
    (x, y), _ = on.datasets.load_mnist(verbose=False)
    x, y = x[: args.samples], y[: args.samples]
    on.manual_seed(0)
    model = on.mlp([784, 512, 256, 10])
    optimizer = on.SGD(model.parameters(), lr=0.05, momentum=0.9)
    marks = {}

    def begin(epoch):
        marks["stats"] = dict(world.stats)

    def end(epoch, logs):
        marks["epoch"] = {key: world.stats[key] - marks["stats"][key] for key in world.stats}

    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x, y, epochs=args.epochs, batch_size=args.batch,
                     seed=0, verbose=False, distributed=world, metrics=(),
                     callbacks=[on.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)])
    # the Allreduce alone, all ranks ready (after a barrier): transfer cost without waiting
    buffer = np.ones(sum(p.size for p in model.parameters()), dtype=np.float32)
    alone = []
    for _ in range(20):
        world.barrier()
        started = time.perf_counter()
        world.allreduce_sum(buffer)
        alone.append(time.perf_counter() - started)
    if world.is_root:
        epoch = marks["epoch"]
        steps = max(1, epoch["allreduce_calls"])
        print(json.dumps({
            "ranks": world.size, "batch_per_rank": args.batch, "global_batch": args.batch * world.size,
            "samples_per_second": history["samples_per_second"][-1], "epoch_seconds": history["seconds"][-1],
            "allreduce_ms_per_step": 1e3 * epoch["allreduce_seconds"] / steps,
            "allreduce_share": epoch["allreduce_seconds"] / history["seconds"][-1],
            "allreduce_alone_ms": 1e3 * float(np.median(alone)),
            "allreduce_bytes": epoch["allreduce_bytes"] // steps, "steps": steps,
            "parameters": int(sum(p.size for p in model.parameters())),
            "loss": float(np.round(history["loss"][-1], 4)),
        }), flush=True)


def measure(ranks, batch, samples, epochs, threads):
    mpiexec = Path(sys.executable).parent / "mpiexec"
    command = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(ranks), sys.executable, __file__,
               "--worker", "--batch", str(batch), "--samples", str(samples), "--epochs", str(epochs)]
    threads = str(threads)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
           "MKL_NUM_THREADS": threads}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["blas_threads_per_rank"] = int(threads)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--samples", type=int, default=20000, help="MNIST training rows used")
    parser.add_argument("--epochs", type=int, default=2, help="the last one is timed")
    parser.add_argument("--model-only", action="store_true", help="skip the measurement")
    parser.add_argument("--samples-per-second", type=float, help="1-rank throughput for the model")
    parser.add_argument("--parameters", type=int, default=535_818, help="default: the 784-512-256-10 MLP")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    cores = os.cpu_count() or 1
    rate = args.samples_per_second
    if not args.model_only:
        # (ranks, rows per rank, BLAS threads per rank): 1 rank on one core and on all cores
        runs = [(1, 128, 1), (1, 128, cores), (2, 64, max(1, cores // 2)), (2, 128, max(1, cores // 2))]
        print(f"measuring on {cores} cores ({time.strftime('%Y-%m-%d %H:%M')}); MNIST {args.samples} rows, "
              f"{args.epochs} epochs, the last timed", flush=True)
        print("| ranks | batch per rank | global batch | BLAS threads per rank | samples/s | allreduce per "
              "step (in training) | time in allreduce | allreduce alone | bytes per allreduce |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for ranks, batch, threads in runs:
            r = measure(ranks, batch, args.samples, args.epochs, threads)
            print(f"| {r['ranks']} | {r['batch_per_rank']} | {r['global_batch']} | "
                  f"{r['blas_threads_per_rank']} | {r['samples_per_second']:,.0f} | "
                  f"{r['allreduce_ms_per_step']:.2f} ms | {r['allreduce_share']:.0%} | "
                  f"{r['allreduce_alone_ms']:.2f} ms | {r['allreduce_bytes']:,} |", flush=True)
            if ranks == 1 and threads == 1 and rate is None:  # the model's rank: one core
                rate, args.parameters = r["samples_per_second"], r["parameters"]
        print()
    if rate is None:
        parser.error("--model-only needs --samples-per-second (1-rank throughput)")
    print(model_table(args.parameters, 1.0 / rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
