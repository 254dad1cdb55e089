"""The bench's report as Markdown: the machine, then per net and environment a table of the systems
and a table of the paired per-round ratios (median and range)."""

from ownnet.apps.bench.nets import NETS

RATIO_ORDER = ("torch", "sklearn", "numpy", "ceiling")


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


def ratios_table(run):
    """The paired ratios: samples/s of ownnet over each other system, per round, median and range."""
    names = [f"ownnet / {other}" for other in RATIO_ORDER if f"ownnet / {other}" in run["ratios"]]
    if not names:
        return []
    lines = ["| samples/s, per round | median | min-max | rounds |", "| --- | --- | --- | --- |"]
    for name in names:
        r = run["ratios"][name]
        lines.append(f"| {name} | **{r['median']:.2f}x** | {r['min']:.2f}-{r['max']:.2f}x | "
                     f"{len(r['all'])} |")
    return lines


def markdown(report):
    """The whole report: the machine's line, then each run's heading and tables."""
    overrides = ", ".join(f"{name}={value}" for name, value in report.get("openblas_overrides", {}).items()
                          if value is not None)
    lines = [f"Machine: {report['machine']}; date {report['date']}; BLAS threads {report['threads']}; "
             f"OpenBLAS overrides in the environment: {overrides or 'none'}."]
    if report.get("note"):
        lines.append(f"Code measured: {report['note']}.")
    lines.append("")
    for run in report["runs"]:
        lines += run_heading(run) + systems_table(run) + [""] + ratios_table(run) + [""]
    return "\n".join(lines)
