"""The bench's report as Markdown: the machine, then per net and environment a table of the systems
and a table of the paired per-round ratios (median and range)."""

from ownnet.apps.bench.nets import NETS
from ownnet.apps.bench.rounds import PHASE_GAP, REACH

RATIO_ORDER = ("torch", "sklearn", "numpy", "ceiling")
GAP = f"{PHASE_GAP - 1:.0%}"


def _accuracy(value):
    return "-" if value is None else f"{value:.4f}"


def _kernels(run):
    """How ownnet's element-wise work ran in this run (optimizer updates, activations, loss, accuracy)."""
    numba = run["systems"].get("ownnet", {}).get("numba")
    if numba:
        return f"Numba {numba} (ownnet[fast])"
    return "NumPy (Numba not loaded: pip install 'ownnet[fast]' for the compiled ones)"


def _blas_kernels(run):
    return ", ".join(sorted({str(pool.get("architecture")) for pools in run["blas"].values()
                             for pool in pools if "architecture" in pool})) or "unknown"


def run_heading(run):
    """The lines above a run's tables: the net, the environment, the BLAS kernel, the peak, the order."""
    net = NETS[run["net"]]
    peaks = run["sgemm_peak_all"]
    order = ", ".join(run["turn_orders"][0]) if run["turn_orders"] else ""
    return [f"### {run['net']} net ({' '.join(map(str, net['sizes']))}, {net['activation']}), "
            f"environment: {run['environment']}", "",
            f"OpenBLAS kernel: {_blas_kernels(run)}; ownnet's element-wise kernels: {_kernels(run)}. "
            f"NumPy float32 SGEMM peak on these nets' matrix shapes (batch 128), measured in turns with "
            f"the systems: {run['sgemm_peak_gflops']:.0f} GFLOP/s (median of rounds 2..; "
            f"{min(peaks):.0f}-{max(peaks):.0f}). {run['epochs']} rounds; turn order {order}, "
            f"backwards in every other round.", ""]


def systems_table(run):
    lines = ["| system | s/epoch (median, min-max) | samples/s | GFLOP/s | % of the round's SGEMM peak "
             "(median, min-max) | test acc. | peak RSS MiB |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for system, r in run["systems"].items():
        share = r["peak_share"]
        lines.append(f"| {system} | {r['seconds_per_epoch']:.2f} ({r['min']:.2f}-{r['max']:.2f}) | "
                     f"{r['samples_per_second']:,.0f} | {r['gflops']:.0f} | "
                     f"{100 * share['median']:.0f}% ({100 * share['min']:.0f}-{100 * share['max']:.0f}%) | "
                     f"{_accuracy(r['test_accuracy'])} | {r['peak_rss_mib']:.0f} |")
    return lines


def _ratio_cell(ratio):
    if ratio is None:
        return "-"
    return f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f}, {len(ratio['all'])})"


def ratios_table(run, cpu="this CPU"):
    """The paired ratios: samples/s of ownnet over each other system, per round, median and range; then
    the same over the host's fast-phase and slow-phase rounds apart (``rounds.phases``), with the
    rounds and SGEMM rates of each phase, on ``cpu``."""
    names = [f"ownnet / {other}" for other in RATIO_ORDER if f"ownnet / {other}" in run["ratios"]]
    if not names:
        return []
    if REACH in run["ratios"]:
        names.append(REACH)
    phases = run.get("phases", {})
    lines = ["| samples/s, per round | median | min-max | rounds | fast phase: median (min-max, rounds) | "
             "slow phase: median (min-max, rounds) |", "| --- | --- | --- | --- | --- | --- |"]
    for name in names:
        r = run["ratios"][name]
        by_phase = [_ratio_cell(phases.get(phase, {}).get("ratios", {}).get(name))
                    for phase in ("fast", "slow")]
        label = f"{name} (the reach: products and update only)" if name == REACH else name
        lines.append(f"| {label} | **{r['median']:.2f}x** | {r['min']:.2f}-{r['max']:.2f}x | "
                     f"{len(r['all'])} | {by_phase[0]} | {by_phase[1]} |")
    return lines + ["", phase_line(phases, cpu)]


def phase_line(phases, cpu):
    """Which rounds ran in which phase of the host, by their SGEMM rate."""
    if not phases:
        return f"Phases of the host ({cpu}): not recorded."
    if set(phases) == {"fast"}:
        peak = phases["fast"]["sgemm_peak"]
        return (f"Phases of the host ({cpu}): one pace, every round's SGEMM rate within {GAP} of its "
                f"neighbours' ({peak['min']:.0f}-{peak['max']:.0f} GFLOP/s).")
    parts = [f"{phase} rounds {', '.join(map(str, p['rounds']))} (SGEMM {p['sgemm_peak']['min']:.0f}-"
             f"{p['sgemm_peak']['max']:.0f} GFLOP/s)" for phase, p in phases.items()]
    return (f"Phases of the host ({cpu}), split at the widest step (>= {GAP}) between the rounds' rates: "
            f"{'; '.join(parts)}.")


def markdown(report):
    """The whole report: the machine's line, then each run's heading and tables."""
    overrides = ", ".join(f"{name}={value}" for name, value in report.get("openblas_overrides", {}).items()
                          if value is not None)
    lines = [f"Machine: {report['machine']}; date {report['date']}; BLAS threads {report['threads']}; "
             f"OpenBLAS overrides in the environment: {overrides or 'none'}."]
    if report.get("note"):
        lines.append(f"Code measured: {report['note']}.")
    lines.append("")
    cpu = report.get("cpu") or "CPU not recorded"
    for run in report["runs"]:
        lines += run_heading(run) + systems_table(run) + [""] + ratios_table(run, cpu) + [""]
    return "\n".join(lines)
