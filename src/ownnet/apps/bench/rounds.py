"""The statistics of paired turns: the order of each round, and per-round ratios with their spread.

The machine's speed drifts (on the project's 2-core virtual machine one process's canonical epoch
alternates between ~1.0 and ~2.1 s within a minute), so a ratio of two medians taken over the whole
run can swing from 0.86x to 1.49x between runs. Instead every round runs each system once, close
together in time, and the ratio is computed within each round: ``ownnet / torch`` in round r is
torch's seconds in round r over ownnet's seconds in round r. The report gives the median of these
per-round ratios and their range (min-max). The order alternates from round to round (as given, then
backwards), so that each system runs before each other one in half the rounds and after it in the
other half: a machine that speeds up or slows down during a round favours neither.

The host's pace is measured in every round too (the SGEMM peak's turn), and the rounds are split into
the host's fast and slow phases by that rate (``phases``): the ratios are also given for each phase
apart (``paired_ratios_by_phase``), since a system may lose more than another when the host slows.
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


def ratio_spreads(seconds, system="ownnet"):
    """``{"system / other": spread of the per-round speedups}`` for every other system in ``seconds``,
    over all the rounds given."""
    return {f"{system} / {other}": spread(per_round_speedups(seconds, system, other))
            for other in seconds if other != system and system in seconds}


def paired_ratios(seconds, system="ownnet"):
    """``ratio_spreads`` over the steady rounds (the first round left out)."""
    return ratio_spreads({name: steady(values) for name, values in seconds.items()}, system)


PHASE_GAP = 1.25
"""The least step between two neighbouring SGEMM rates (sorted) that separates a fast phase of the host
from a slow one: 25%, well above the round-to-round noise of a steady host (a few %), well below the 2x
between the phases seen on the project's 2-core AMD EPYC virtual machine."""


def phases(peaks, gap=PHASE_GAP):
    """``"fast"`` or ``"slow"`` for each round, from its SGEMM rate (``peaks``, GFLOP/s).

    The rates are sorted and split at the widest step between neighbours, if that step is at least
    ``gap`` (a ratio): the rounds above it ran in the host's fast phase, those below in its slow
    one. Without such a step the host kept one pace, and every round is ``"fast"``."""
    ordered = sorted(peaks)
    steps = [(high / low, high) for low, high in zip(ordered, ordered[1:]) if low > 0]
    widest, lowest_fast = max(steps, default=(1.0, None))
    if widest < gap:
        return ["fast"] * len(peaks)
    return ["fast" if peak >= lowest_fast else "slow" for peak in peaks]


def paired_ratios_by_phase(seconds, peaks, system="ownnet"):
    """``{phase: {"rounds": [round numbers, 1-based], "sgemm_peak": spread, "ratios": paired ratios}}``
    over the steady rounds (the first left out), for each phase that has rounds (``phases``): the
    paired ratios of the fast rounds and of the slow rounds, apart."""
    kept = steady(list(range(len(peaks))))
    labels = dict(zip(kept, phases([peaks[index] for index in kept])))
    result = {}
    for phase in ("fast", "slow"):
        rounds = [index for index in kept if labels[index] == phase]
        if not rounds:
            continue
        times = {name: [values[index] for index in rounds] for name, values in seconds.items()}
        result[phase] = {"rounds": [index + 1 for index in rounds],
                         "sgemm_peak": spread([peaks[index] for index in rounds]),
                         "ratios": ratio_spreads(times, system)}
    return result


REACH = "ceiling / torch"
"""The reach of the host: the ceiling (each step's matrix products and optimizer update, nothing else)
over PyTorch, per round. No trainer of the recipe does less work than the ceiling, so ``ownnet /
torch`` stays below this in every round but by noise: a target for ``ownnet / torch`` above it cannot
be met on that host, whatever the framework does around the products."""


def add_reach(ratios, phases, seconds, peaks):
    """Add ``REACH`` to ``ratios`` (``paired_ratios``) and to each phase's ratios
    (``paired_ratios_by_phase``), in place, where both the ceiling and PyTorch ran."""
    if "ceiling" not in seconds or "torch" not in seconds:
        return
    pair = {name: seconds[name] for name in ("ceiling", "torch")}
    ratios[REACH] = paired_ratios(pair, "ceiling")[REACH]
    for phase, part in paired_ratios_by_phase(pair, peaks, "ceiling").items():
        phases[phase]["ratios"][REACH] = part["ratios"][REACH]
