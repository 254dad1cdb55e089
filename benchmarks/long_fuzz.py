"""The long model-file fuzz run: many thousands of mutated files through ``ownnet.load``.

    python benchmarks/long_fuzz.py                      # 20000 cases, seed 1
    python benchmarks/long_fuzz.py --cases 100000 --seed 7

The same mutations as tests/test_model_file_fuzz.py (which runs a few hundred in CI): bytes and bits
flipped, truncation, junk appended, header length rewritten, JSON header fields and architecture
configs changed, tensors renamed or resized, huge declared shapes. Every load must return a valid
model or raise ``ModelFormatError``, within 2 s, and the process runs under an address-space limit
(--memory-limit-mb) so that an allocation the size checks should have prevented fails loudly.
Prints the outcome counts per mutation kind, the slowest load, the peak memory and the time; exits
with status 1 if any case failed.
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy: a small, predictable address space

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit-mb", type=int, default=3072,
                        help="address-space limit of this process (Linux; 0: none)")
    args = parser.parse_args(argv)
    if args.memory_limit_mb and sys.platform.startswith("linux"):
        import resource

        limit = args.memory_limit_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    import test_model_file_fuzz as fuzz

    with tempfile.TemporaryDirectory(prefix="ownnet-fuzz-") as folder:
        result = fuzz.run_fuzz(args.cases, args.seed, folder, report_every=max(1, args.cases // 10))
    totals = {}
    for key, count in result["outcomes"].items():
        outcome = key.split(":")[1]
        totals[outcome] = totals.get(outcome, 0) + count
    print(f"\n{result['cases']} cases (seed {result['seed']}) in {result['seconds']:.1f} s "
          f"({result['cases'] / result['seconds']:.0f} cases/s): {totals}")
    print(f"slowest load {result['slowest_seconds'] * 1000:.1f} ms, peak RSS {result['max_rss_mb']:.0f} MB")
    print("per mutation kind:", json.dumps(result["outcomes"], indent=1))
    if result["failures"]:
        print(f"{len(result['failures'])} FAILURES, the first ones:")
        for failure in result["failures"][:20]:
            print(" ", failure)
        return 1
    print("no failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
