"""The statistics of paired turns: the order of each round, and per-round ratios with their spread.

The machine's speed drifts (on the project's 2-core virtual machine one process's canonical epoch
alternates between ~1.0 and ~2.1 s within a minute), so a ratio of two medians taken over the whole
run can swing from 0.86x to 1.49x between runs. Instead every round runs each system once, close
together in time, and the ratio is computed within each round: ``ownnet / torch`` in round r is
torch's seconds in round r over ownnet's seconds in round r. The report gives the median of these
per-round ratios and their range (min-max). The order alternates from round to round (as given, then
backwards), so that each system runs before each other one in half the rounds and after it in the
other half: a machine that speeds up or slows down during a round favours neither.
"""

import statistics


def turn_order(names, round_index):
    """The turns of round ``round_index`` (0-based): ``names`` as given in even rounds, backwards in
    odd ones."""
    return list(names) if round_index % 2 == 0 else list(reversed(names))


def steady(values):
    """The rounds after the first (the first compiles kernels, loads libraries and warms caches); all
    of them when there is only one."""
    return list(values[1:]) or list(values)


def spread(values):
    """``{"median", "min", "max", "all"}`` of ``values`` (a non-empty sequence of numbers)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": list(values)}


def per_round_speedups(seconds, system, other):
    """``system``'s speed over ``other``'s in each round, from that round's two turns. Both train the
    same samples in a turn, so the ratio of samples/s is ``other``'s seconds over ``system``'s.
    ``seconds`` maps a system to its list of per-round seconds."""
    return [theirs / ours for ours, theirs in zip(seconds[system], seconds[other], strict=True)]


def per_round_peak_shares(seconds, peaks, flops):
    """The rate of each round's turn as a fraction of the same round's SGEMM peak:
    ``(flops / seconds / 1e9) / peak_gflops``."""
    return [flops / s / 1e9 / peak for s, peak in zip(seconds, peaks, strict=True)]


def paired_ratios(seconds, system="ownnet"):
    """``{"system / other": spread of the per-round speedups}`` for every other system in
    ``seconds``, over the steady rounds (the first round left out)."""
    return {f"{system} / {other}": spread(steady(per_round_speedups(seconds, system, other)))
            for other in seconds if other != system and system in seconds}
