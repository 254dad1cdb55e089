"""``ownnet bench``'s command line: parse, refuse unknown systems and nets, run every net in every
environment, print the report and write results.json and results.md."""

import argparse
import functools
import json
import os
import time

from ownnet.apps.bench.machine import OPENBLAS_OVERRIDES, cpu_model, machine_report, openblas_overrides
from ownnet.apps.bench.nets import NETS, SYSTEMS
from ownnet.apps.bench.report import markdown
from ownnet.apps.bench.run import compare
from ownnet.apps.bench.workers import run_worker

DESCRIPTION = "ownnet against PyTorch (CPU), scikit-learn and a bare NumPy loop, in paired turns."


def parser():
    p = argparse.ArgumentParser(prog="ownnet bench", description=DESCRIPTION)
    p.add_argument("--nets", default="canonical,small,big", help="comma-separated: canonical,small,big")
    p.add_argument("--epochs", "--rounds", dest="epochs", type=int, default=6,
                   help="rounds: every system trains one epoch per round (default 6; the first is warm-up)")
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all cores)")
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help=f"comma-separated, in turn order: {','.join(SYSTEMS)} (default: all; torch and "
                        "sklearn only where installed)")
    p.add_argument("--quick", action="store_true", help="about a minute: 3 rounds on 20000 samples")
    p.add_argument("--out", default="benchmarks/results", help="folder for results.json and results.md")
    p.add_argument("--both-environments", action="store_true",
                   help="also run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset (when they are set)")
    p.add_argument("--note", default="", help="a line about the code measured, kept in the report")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--peak-seconds", type=float, default=1.5, help=argparse.SUPPRESS)
    p.add_argument("--net", default="canonical", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    return p


def environments(quick, both):
    """``[(label, env)]``: the environment as set, and, when OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are
    set (and not ``quick``, or ``both``), the same with both unset (OpenBLAS then picks its kernel)."""
    present = [name for name in OPENBLAS_OVERRIDES if name in os.environ]
    label = ", ".join(f"{name}={os.environ[name]}" for name in present) or "no OPENBLAS_* overrides"
    result = [(label, dict(os.environ))]
    if present and (both or not quick):
        unset = {k: v for k, v in os.environ.items() if k not in present}
        result.append((f"{' and '.join(present)} unset", unset))
    return result


def write_results(report, text, out):
    from ownnet.io import atomic_write

    os.makedirs(out, exist_ok=True)
    with atomic_write(os.path.join(out, "results.json")) as f:
        f.write(json.dumps(report, indent=1).encode())
    with atomic_write(os.path.join(out, "results.md")) as f:
        f.write((text + "\n").encode())


def main(argv=None):
    args = parser().parse_args(argv)
    if args.worker:
        return run_worker(args.worker, args.net, args.threads, args.seed, args.limit, args.epochs,
                          args.peak_seconds)
    unknown = sorted(set(args.systems.split(",")) - set(SYSTEMS))
    unknown += sorted(set(args.nets.split(",")) - set(NETS))
    if unknown:
        parser().error(f"unknown system or net {', '.join(unknown)}; systems: {', '.join(SYSTEMS)}; "
                       f"nets: {', '.join(NETS)}")
    threads = args.threads or os.cpu_count()
    epochs, limit = (3, 20000) if args.quick else (args.epochs, args.limit)
    report = {"machine": machine_report(), "cpu": cpu_model(), "date": time.strftime("%Y-%m-%d"),
              "threads": threads, "openblas_overrides": openblas_overrides(os.environ), "note": args.note,
              "runs": []}
    for label, env in environments(args.quick, args.both_environments):
        for net in args.nets.split(","):
            print(f"{net} net, {label}:", flush=True)
            run = compare(net, epochs, threads, args.systems.split(","), limit, env,
                          log=functools.partial(print, flush=True), peak_seconds=0.5 if args.quick else 1.5)
            run.update(environment=label, openblas_overrides=openblas_overrides(env))
            report["runs"].append(run)
    text = markdown(report)
    print(text)
    write_results(report, text, args.out)
    return 0
