"""Side-by-side speed benchmark: ownnet vs PyTorch (CPU) vs scikit-learn vs a bare NumPy loop.

    pip install -e '.[bench]'          # torch==2.13.0 (CPU build), scikit-learn, threadpoolctl
    python benchmarks/compare.py       # the same as `ownnet bench`; --quick for about a minute

Writes benchmarks/results/results.json and results.md. See benchmarks/README.md for measured numbers.
"""

import sys

from ownnet.apps.bench import main

if __name__ == "__main__":
    sys.exit(main())
