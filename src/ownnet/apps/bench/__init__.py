"""``ownnet bench``: ownnet against PyTorch (CPU), scikit-learn and a bare NumPy loop, in paired turns.

Each system runs in its own worker process (so that its peak memory is its own) and the parent makes
them take turns: every round, each system trains one epoch, in an order that runs backwards every other
round. Every system trains the same net with the same recipe, the same data order (except
scikit-learn, which shuffles by itself) and the same number of BLAS threads. The SGEMM peak takes a
turn in every round too, and so does the ``ceiling``: the step's matrix products and ownnet's optimizer
update with nothing else, the most a framework could reach here. The ratios (ownnet / torch, ...) are
computed within each round and reported as their median and range over the rounds, and again for the
rounds of the host's fast and slow phases apart (told apart by the round's SGEMM rate), with the CPU
model; ``ceiling / torch`` is given too, the host's reach: no trainer of the recipe gets further ahead
of PyTorch than that.

Read in this order: ``nets`` (what is trained), ``workers`` (the systems), ``rounds`` (the pairing and
the statistics), ``run`` (one net's turns), ``report`` and ``command`` (the command line);
``machine`` holds what is recorded about the machine.
"""

from ownnet.apps.bench.command import main
from ownnet.apps.bench.nets import NETS, RECIPE, SYSTEMS, flops_per_epoch, gemm_shapes
from ownnet.apps.bench.report import markdown
from ownnet.apps.bench.rounds import (
    add_reach,
    paired_ratios,
    paired_ratios_by_phase,
    per_round_speedups,
    phases,
    spread,
    steady,
    turn_order,
)
from ownnet.apps.bench.run import compare

__all__ = ["NETS", "RECIPE", "SYSTEMS", "add_reach", "compare", "flops_per_epoch", "gemm_shapes", "main",
           "markdown", "paired_ratios", "paired_ratios_by_phase", "per_round_speedups", "phases", "spread",
           "steady", "turn_order"]
