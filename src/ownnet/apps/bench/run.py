"""One net's measurement: start a worker process per system (and one for the SGEMM peak), make them
take turns round after round, and gather the timings into a result.

Each round gives every worker one turn (one epoch, or one peak measurement), in the order of
``rounds.turn_order``: as given in even rounds, backwards in odd ones. Between two turns the parent
waits ``settle_seconds``: after its last product OpenBLAS keeps its worker threads spinning for ~0.1 s
(and OpenMP runtimes for a while too), which would take a core from whichever system's turn comes next.
"""

import json
import os
import statistics
import subprocess
import sys
import time

from ownnet.apps.bench.nets import NETS, SYSTEMS, flops_per_epoch
from ownnet.apps.bench.rounds import (
    add_reach,
    paired_ratios,
    paired_ratios_by_phase,
    per_round_peak_shares,
    spread,
    steady,
    turn_order,
)


def available(system):
    """Whether ``system``'s library is installed (torch and sklearn are optional)."""
    module = {"torch": "torch", "sklearn": "sklearn"}.get(system)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def worker_environment(env, threads):
    """``env`` (default: this process's) with every BLAS and OpenMP runtime, and Numba's threads (those
    of ownnet's parallel element-wise loops), held to ``threads``."""
    env = dict(os.environ if env is None else env)
    env.update({"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)})
    return env


def start_workers(names, net, threads, seed, limit, epochs, peak_seconds, env):
    """Start one ``python -m ownnet.apps.bench --worker name`` per name; once every worker has
    announced itself, return ``({name: process}, {name: its BLAS pools})``."""
    procs = {}
    for name in names:
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "ownnet.apps.bench", "--worker", name, "--net", net, "--threads",
             str(threads), "--seed", str(seed), "--epochs", str(epochs), "--peak-seconds", str(peak_seconds)]
            + (["--limit", str(limit)] if limit else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    blas = {name: read_answer(name, proc)["blas"] for name, proc in procs.items()}
    return procs, blas


def ask(name, proc, line):
    """Send ``line`` to worker ``name`` and return its JSON answer."""
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return read_answer(name, proc)


def read_answer(name, proc):
    """Worker ``name``'s next JSON line; an error naming the worker when it has stopped."""
    answer = proc.stdout.readline()
    if not answer:
        raise RuntimeError(f"ownnet bench: the {name} worker stopped without answering (its error is above)")
    return json.loads(answer)


def compare(net="canonical", epochs=5, threads=None, systems=SYSTEMS, limit=None, env=None, seed=0,
            log=print, peak_seconds=1.5, settle_seconds=0.3):
    """Run ``systems`` (those installed) on ``net`` for ``epochs`` rounds, one epoch each per round,
    with a turn of the SGEMM peak's measurement (``peak_seconds``) in every round; returns a result
    dict (``summarize``)."""
    threads = threads or os.cpu_count()
    systems = [s for s in systems if available(s)]
    turns = [*systems, "peak"]
    procs, blas = start_workers(turns, net, threads, seed, limit, epochs, peak_seconds,
                                worker_environment(env, threads))
    seconds, peaks, orders = {system: [] for system in systems}, [], []
    for index in range(epochs):
        orders.append(turn_order(turns, index))
        for name in orders[-1]:
            answer = ask(name, procs[name], "epoch")
            time.sleep(settle_seconds)
            if name == "peak":
                peaks.append(answer["gflops"])
            else:
                seconds[name].append(answer["seconds"])
        log(round_line(net, index, orders[-1], seconds, peaks))
    finals = {name: ask(name, proc, "finish") for name, proc in procs.items()}
    for proc in procs.values():
        proc.wait(timeout=60)
    del blas["peak"]
    return summarize(net, epochs, threads, limit or 60000, seconds, peaks, finals, blas, orders)


def round_line(net, index, order, seconds, peaks):
    """One line of progress: the round's turns in their order, and its ratios for ownnet."""
    times = "  ".join(f"{name} {seconds[name][-1]:.2f} s" for name in order if name != "peak")
    ratios = "  ".join(f"ownnet/{other} {seconds[other][-1] / seconds['ownnet'][-1]:.2f}x"
                       for other in seconds if other != "ownnet" and "ownnet" in seconds)
    return f"  {net} round {index + 1}: {times}  (SGEMM peak {peaks[-1]:.0f} GFLOP/s)  {ratios}"


def summarize(net, epochs, threads, n_samples, seconds, peaks, finals, blas, orders):
    """The result of one net's run: per system the seconds per epoch (median of the rounds after the
    first, min, max, all), samples/s, GFLOP/s, the share of the same round's SGEMM peak, the test
    accuracy and peak memory; the paired per-round ratios (``rounds.paired_ratios``), also for the
    host's fast and slow rounds apart (``rounds.paired_ratios_by_phase``), with the host's reach
    (``rounds.add_reach``: ceiling / torch); the turn orders,
    the BLAS pools of each worker and the peak's turns."""
    flops = flops_per_epoch(NETS[net]["sizes"], n_samples)
    results = {}
    for system, times in seconds.items():
        kept = steady(times)
        median = statistics.median(kept)
        results[system] = {
            "seconds_per_epoch": median, "min": min(kept), "max": max(kept), "all": times,
            "samples_per_second": n_samples / median, "gflops": flops / median / 1e9,
            "peak_share": spread(steady(per_round_peak_shares(times, peaks, flops))),
            "test_accuracy": finals[system]["accuracy"], "peak_rss_mib": finals[system]["peak_rss_mib"],
            "numba": finals[system].get("numba"),
        }
    ratios, phases = paired_ratios(seconds), paired_ratios_by_phase(seconds, peaks)
    add_reach(ratios, phases, seconds, peaks)  # ceiling / torch: what any trainer could reach here
    return {"net": net, "epochs": epochs, "threads": threads, "samples": n_samples, "systems": results,
            "ratios": ratios, "phases": phases,
            "turn_orders": orders, "blas": blas,
            "sgemm_peak_gflops": statistics.median(steady(peaks)), "sgemm_peak_all": peaks}
