"""``ownnet bench``: ownnet against PyTorch (CPU), scikit-learn and a bare NumPy loop, side by side.

Each system runs in its own worker process (so that its peak memory is its own) and the parent makes
them take turns epoch by epoch (A B C A B C ...), so that a noisy machine slows all of them alike. Every
system trains the same net with the same recipe, the same data order (except scikit-learn, which
shuffles by itself) and the same number of BLAS threads. The SGEMM peak is measured in the same
rotation (one more worker takes a turn after each round), and so is the ``ceiling``: the step's matrix
products and ownnet's optimizer update with nothing else, the most a framework could reach here.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

NETS = {
    "canonical": {"sizes": [784, 512, 256, 10], "activation": "relu"},
    "small": {"sizes": [784, 128, 10], "activation": "tanh"},
    "big": {"sizes": [784, 1024, 1024, 10], "activation": "relu"},
}
RECIPE = {"lr": 0.05, "momentum": 0.9, "batch_size": 128}
SYSTEMS = ("ownnet", "numpy", "torch", "sklearn", "ceiling")


def flops_per_epoch(sizes, n_samples):
    """6 x samples x sum(in * out): forward (2) and backward (4) multiply-adds of every Linear."""
    return 6 * n_samples * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def gemm_shapes(batch=RECIPE["batch_size"]):
    """(m, k, n) of every matrix product in a training step of the benchmark nets: forward
    ``x @ W``, weight gradient ``x.T @ g`` and input gradient ``g @ W.T`` of each Linear."""
    shapes = set()
    for net in NETS.values():
        for a, b in zip(net["sizes"][:-1], net["sizes"][1:]):
            shapes |= {(batch, a, b), (a, batch, b), (batch, b, a)}
    return sorted(shapes)


def sgemm_peak(seconds=3.0):
    """The best float32 GEMM rate (GFLOP/s) of NumPy's BLAS on the shapes of these nets' training
    steps, now: what a perfect framework, spending all its time in those products, would reach."""
    best = 0.0
    rng = np.random.default_rng(0)
    shapes = gemm_shapes()
    for m, k, n in shapes:
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        out = np.empty((m, n), dtype=np.float32)
        np.matmul(a, b, out=out)
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(shapes):
            np.matmul(a, b, out=out)
            reps += 1
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9)
    return best


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed: pip install threadpoolctl"}]
    keep = ("internal_api", "version", "num_threads", "architecture", "threading_layer", "filepath")
    return [{k: pool.get(k) for k in keep} for pool in threadpool_info() if pool.get("user_api") == "blas"]


# --- the workers: one system each, driven over stdin/stdout ---------------------------------------
class _Worker:
    def __init__(self, net, threads, seed, limit, dtype=np.float32):
        from ownnet.datasets import load_mnist

        (x, y), (self.x_test, self.y_test) = load_mnist(dtype=dtype)
        if limit:
            x, y = x[:limit], y[:limit]
        self.x, self.y = x, y
        self.sizes = NETS[net]["sizes"]
        self.activation = NETS[net]["activation"]
        self.threads = threads
        self.order = np.random.default_rng(seed)

    def permutation(self):
        return self.order.permutation(len(self.x))


class OwnnetWorker(_Worker):
    """Trained the way users train: ``on.fit``, progress off, input validation on."""

    def __init__(self, *args):
        super().__init__(*args)
        import ownnet as on

        self.on = on
        on.manual_seed(0)
        self.model = on.mlp(self.sizes, activation=self.activation)
        self.loss = on.CrossEntropyLoss()
        self.optimizer = on.SGD(self.model.parameters(), lr=RECIPE["lr"], momentum=RECIPE["momentum"])

    def train(self, epochs, wait_for_turn, report):
        """One ``fit`` call for all epochs, as users train; a callback takes the turns."""
        on = self.on

        class TakeTurns(on.Callback):
            def on_epoch_begin(self, epoch):
                wait_for_turn()
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs):
                report(time.perf_counter() - self.start)

        on.fit(self.model, self.loss, self.optimizer, self.x, self.y, epochs=epochs,
               batch_size=RECIPE["batch_size"], verbose=False, seed=0, callbacks=[TakeTurns()])

    def accuracy(self):
        return self.on.evaluate(self.model, None, self.x_test, self.y_test)["accuracy"]


class NumpyWorker(_Worker):
    """The floor: the same recipe as a bare NumPy loop, no framework around it."""

    def __init__(self, *args):
        super().__init__(*args)
        rng = np.random.default_rng(0)
        self.w = [rng.normal(0, np.sqrt(2 / a), (a, b)).astype(np.float32)
                  for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        self.b = [np.zeros(b, np.float32) for b in self.sizes[1:]]
        self.vw = [np.zeros_like(w) for w in self.w]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.act = np.tanh if self.activation == "tanh" else (lambda z: np.maximum(z, 0))

    def epoch(self):
        lr, mom, bs = np.float32(RECIPE["lr"]), np.float32(RECIPE["momentum"]), RECIPE["batch_size"]
        perm = self.permutation()
        for start in range(0, len(perm), bs):
            idx = perm[start:start + bs]
            a = [self.x[idx]]
            for w, b in zip(self.w[:-1], self.b[:-1]):
                a.append(self.act(a[-1] @ w + b))
            z = a[-1] @ self.w[-1] + self.b[-1]
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), self.y[idx]] -= 1
            g = p / np.float32(len(idx))
            for layer in range(len(self.w) - 1, -1, -1):
                gw, gb = a[layer].T @ g, g.sum(axis=0)
                if layer:
                    g = g @ self.w[layer].T
                    g *= (1 - a[layer] ** 2) if self.activation == "tanh" else (a[layer] > 0)
                pairs = ((self.vw[layer], gw, self.w[layer]), (self.vb[layer], gb, self.b[layer]))
                for v, grad, param in pairs:
                    v *= mom
                    v += grad
                    param -= lr * v

    def accuracy(self):
        a = self.x_test
        for w, b in zip(self.w[:-1], self.b[:-1]):
            a = self.act(a @ w + b)
        return float(((a @ self.w[-1] + self.b[-1]).argmax(axis=1) == self.y_test).mean())


class TorchWorker(_Worker):
    def __init__(self, *args):
        super().__init__(*args)
        import torch

        self.torch = torch
        torch.set_num_threads(self.threads)
        torch.manual_seed(0)
        act = torch.nn.Tanh if self.activation == "tanh" else torch.nn.ReLU
        layers = []
        for index, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            if index < len(self.sizes) - 2:
                layers.append(act())
        self.model = torch.nn.Sequential(*layers)
        self.loss = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=RECIPE["lr"],
                                         momentum=RECIPE["momentum"])
        self.xt, self.yt = torch.from_numpy(self.x), torch.from_numpy(self.y)

    def epoch(self):
        perm = self.torch.from_numpy(self.permutation())
        bs = RECIPE["batch_size"]
        for start in range(0, len(perm), bs):
            idx = perm[start:start + bs]
            self.optimizer.zero_grad()
            self.loss(self.model(self.xt[idx]), self.yt[idx]).backward()
            self.optimizer.step()

    def accuracy(self):
        with self.torch.no_grad():
            logits = self.model(self.torch.from_numpy(self.x_test))
        return float((logits.argmax(dim=1).numpy() == self.y_test).mean())


class SklearnWorker(_Worker):
    def __init__(self, *args):
        super().__init__(*args)
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        self.model = MLPClassifier(hidden_layer_sizes=tuple(self.sizes[1:-1]), activation=self.activation,
                                   solver="sgd", learning_rate_init=RECIPE["lr"], momentum=RECIPE["momentum"],
                                   nesterovs_momentum=False, batch_size=RECIPE["batch_size"], alpha=0.0,
                                   max_iter=1, warm_start=True, shuffle=True, random_state=0, tol=0.0)

    def epoch(self):
        self.model.fit(self.x, self.y)

    def accuracy(self):
        return float(self.model.score(self.x_test, self.y_test))


class CeilingWorker(_Worker):
    """Not a trainer: each step's matrix products (forward, weight and input gradients, none skipped
    but the first layer's input gradient, as in ``fit``) and ownnet's optimizer update of the weights,
    nothing else (no bias, activation, loss or metric). Its rate bounds what any framework could reach
    with this recipe on this machine at this moment. The learning rate is tiny, so that the weights
    stay as they are while the update moves the same memory."""

    def __init__(self, *args):
        super().__init__(*args)
        import ownnet as on

        rng = np.random.default_rng(0)
        self.params = [on.Parameter(rng.normal(0, np.sqrt(2 / a), (a, b)).astype(np.float32))
                       for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        self.optimizer = on.SGD(self.params, lr=1e-30, momentum=RECIPE["momentum"])
        self.acts = [np.empty((RECIPE["batch_size"], n), np.float32) for n in self.sizes]

    def epoch(self):
        bs, weights = RECIPE["batch_size"], [p.data for p in self.params]
        perm = self.permutation()
        for start in range(0, len(perm), bs):
            idx = perm[start:start + bs]
            acts = [a[:len(idx)] for a in self.acts]
            np.take(self.x, idx, axis=0, out=acts[0])
            for i, w in enumerate(weights):
                np.matmul(acts[i], w, out=acts[i + 1])
            for i in reversed(range(len(weights))):  # the activations stand in for the gradients
                np.matmul(acts[i].T, acts[i + 1], out=self.params[i].grad)
                if i:
                    np.matmul(acts[i + 1], weights[i].T, out=acts[i])
            self.optimizer.step()

    def accuracy(self):
        return None


class PeakWorker:
    """Not a system: each turn measures ``sgemm_peak`` for ``seconds`` (the peak's own turn)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def epoch(self):
        return {"gflops": sgemm_peak(self.seconds)}

    def accuracy(self):
        return None


WORKERS = {"ownnet": OwnnetWorker, "numpy": NumpyWorker, "torch": TorchWorker, "sklearn": SklearnWorker,
           "ceiling": CeilingWorker}


def _limit_threads(threads):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def worker_main(system, net, threads, seed, limit, epochs, peak_seconds):
    """Wait for an 'epoch' line on stdin before each epoch, answer one JSON line per epoch; then
    answer 'finish' with the test accuracy and the peak RSS."""
    limiter = _limit_threads(threads)
    worker = PeakWorker(peak_seconds) if system == "peak" else WORKERS[system](net, threads, seed, limit)
    print(json.dumps({"ready": True, "blas": blas_info()}), flush=True)

    def wait_for_turn():
        if sys.stdin.readline().strip() != "epoch":
            raise SystemExit("bench worker: expected 'epoch'")

    def report(seconds, extra=None):
        print(json.dumps({"seconds": seconds, **(extra or {})}), flush=True)

    if hasattr(worker, "train"):
        worker.train(epochs, wait_for_turn, report)
    else:
        for _ in range(epochs):
            wait_for_turn()
            start = time.perf_counter()
            extra = worker.epoch()
            report(time.perf_counter() - start, extra)
    if sys.stdin.readline().strip() == "finish":
        rss_mib = peak_rss_mib()
        print(json.dumps({"accuracy": worker.accuracy(), "peak_rss_mib": rss_mib}), flush=True)
    del limiter


def peak_rss_mib():
    """This process's peak resident memory: VmHWM (reset at exec), else ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def available(system):
    module = {"torch": "torch", "sklearn": "sklearn"}.get(system)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def compare(net="canonical", epochs=5, threads=None, systems=SYSTEMS, limit=None, env=None, seed=0,
            log=print, peak_seconds=1.5, settle_seconds=0.3):
    """Run ``systems`` on ``net`` for ``epochs``, taking turns per epoch, with a turn of the SGEMM
    peak's measurement (``peak_seconds``) after each round; returns a result dict.

    Between two turns the parent waits ``settle_seconds``: after its last product OpenBLAS keeps its
    worker threads spinning for ~0.1 s (and OpenMP runtimes for a while too), which would take a core
    from whichever system's turn comes next."""
    threads = threads or os.cpu_count()
    systems = [s for s in systems if available(s)]
    env = dict(os.environ if env is None else env)
    env.update({"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads)})
    procs, blas = {}, {}
    for system in [*systems, "peak"]:
        procs[system] = subprocess.Popen(
            [sys.executable, "-m", "ownnet.apps.bench", "--worker", system, "--net", net, "--threads",
             str(threads), "--seed", str(seed), "--epochs", str(epochs), "--peak-seconds", str(peak_seconds)]
            + (["--limit", str(limit)] if limit else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    for system, proc in procs.items():
        blas[system] = json.loads(proc.stdout.readline())["blas"]
    times = {system: [] for system in systems}
    peaks = []
    for epoch in range(1, epochs + 1):
        for system, proc in procs.items():
            proc.stdin.write("epoch\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            time.sleep(settle_seconds)
            if system == "peak":
                peaks.append(answer["gflops"])
            else:
                times[system].append(answer["seconds"])
        log(f"  {net} epoch {epoch}: " + "  ".join(f"{s} {times[s][-1]:.2f} s" for s in systems)
            + f"  (SGEMM peak {peaks[-1]:.0f} GFLOP/s)")
    finals = {}
    for system, proc in procs.items():
        proc.stdin.write("finish\n")
        proc.stdin.flush()
        finals[system] = json.loads(proc.stdout.readline())
        proc.wait(timeout=60)
    del blas["peak"]
    n_samples = limit or 60000
    flops = flops_per_epoch(NETS[net]["sizes"], n_samples)
    results = {}
    for system in systems:
        steady = times[system][1:] or times[system]
        median = statistics.median(steady)
        results[system] = {
            "seconds_per_epoch": median, "min": min(steady), "max": max(steady), "all": times[system],
            "samples_per_second": n_samples / median, "gflops": flops / median / 1e9,
            "test_accuracy": finals[system]["accuracy"], "peak_rss_mib": finals[system]["peak_rss_mib"],
        }
    steady_peaks = peaks[1:] or peaks  # as for the systems: the turns after the first round
    return {"net": net, "epochs": epochs, "threads": threads, "samples": n_samples, "systems": results,
            "blas": blas, "sgemm_peak_gflops": statistics.median(steady_peaks), "sgemm_peak_all": peaks}


def _ratio(results, a, b):
    if a in results and b in results:
        return results[a]["samples_per_second"] / results[b]["samples_per_second"]
    return None


def kernel_report():
    """How ownnet's element-wise work ran (optimizer updates, activations, loss, accuracy): Numba's
    compiled kernels (``ownnet[fast]``) or NumPy."""
    from ownnet.backend import cpu_kernels

    if cpu_kernels.available():
        import numba

        return f"Numba {numba.__version__} (ownnet[fast])"
    return "NumPy (no Numba: pip install 'ownnet[fast]' for the compiled ones)"


def _accuracy(value):
    return "-" if value is None else f"{value:.4f}"


def markdown(report):
    lines = [f"Machine: {report['machine']}; date {report['date']}; BLAS threads {report['threads']}; "
             f"ownnet's element-wise kernels (updates, activations, loss, accuracy): "
             f"{report.get('cpu_kernels', report.get('optimizer_kernels', 'NumPy'))}.", ""]
    for run in report["runs"]:
        peak = run["sgemm_peak_gflops"]
        peaks = run.get("sgemm_peak_all") or [peak]
        kernels = ", ".join(sorted({str(pool.get("architecture")) for pools in run["blas"].values()
                                    for pool in pools if "architecture" in pool})) or "unknown"
        lines += [f"### {run['net']} net ({' '.join(map(str, NETS[run['net']]['sizes']))}, "
                  f"{NETS[run['net']]['activation']}), environment: {run['environment']}", "",
                  f"OpenBLAS kernel: {kernels}; NumPy float32 SGEMM peak on these nets' matrix shapes "
                  f"(batch 128) in this environment, measured in this run in turns with the systems: "
                  f"{peak:.0f} GFLOP/s (median; {min(peaks):.0f}-{max(peaks):.0f}).", "",
                  "| system | s/epoch (median, min-max) | samples/s | GFLOP/s | % of SGEMM peak | test acc. "
                  "| peak RSS MiB |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for system, r in run["systems"].items():
            lines.append(f"| {system} | {r['seconds_per_epoch']:.2f} ({r['min']:.2f}-{r['max']:.2f}) | "
                         f"{r['samples_per_second']:,.0f} | {r['gflops']:.0f} | "
                         f"{100 * r['gflops'] / peak:.0f}% | "
                         f"{_accuracy(r['test_accuracy'])} | {r['peak_rss_mib']:.0f} |")
        ratios = [f"ownnet / {other}: {_ratio(run['systems'], 'ownnet', other):.2f}x"
                  for other in ("torch", "sklearn", "numpy", "ceiling")
                  if _ratio(run["systems"], "ownnet", other)]
        lines += ["", "Ratios (samples/s): " + ", ".join(ratios), ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ownnet bench", description=__doc__.splitlines()[0])
    parser.add_argument("--nets", default="canonical,small,big", help="comma-separated: canonical,small,big")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all cores)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help=f"comma-separated, in turn order: {','.join(SYSTEMS)} (default: all; torch and "
                             "sklearn only where installed)")
    parser.add_argument("--quick", action="store_true", help="about a minute: 3 epochs on 20000 samples")
    parser.add_argument("--out", default="benchmarks/results", help="folder for results.json and results.md")
    parser.add_argument("--both-environments", action="store_true",
                        help="also run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset (when they are set)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--peak-seconds", type=float, default=1.5, help=argparse.SUPPRESS)
    parser.add_argument("--net", default="canonical", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.net, args.threads, args.seed, args.limit, args.epochs,
                           args.peak_seconds)
    unknown = sorted(set(args.systems.split(",")) - set(SYSTEMS))
    unknown += sorted(set(args.nets.split(",")) - set(NETS))
    if unknown:
        parser.error(f"unknown system or net {', '.join(unknown)}; systems: {', '.join(SYSTEMS)}; "
                     f"nets: {', '.join(NETS)}")
    threads = args.threads or os.cpu_count()
    epochs, limit = (3, 20000) if args.quick else (args.epochs, args.limit)
    environments = [("as set", dict(os.environ))]
    blas_vars = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    if blas_vars and (args.both_environments or not args.quick):
        unset = {k: v for k, v in os.environ.items() if k not in blas_vars}
        environments.append((f"{' and '.join(blas_vars)} unset", unset))
    label = ", ".join(f"{v}={os.environ[v]}" for v in blas_vars) or "no OPENBLAS_* overrides"
    environments[0] = (label, environments[0][1])
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
              "date": time.strftime("%Y-%m-%d"), "threads": threads, "runs": [],
              "cpu_kernels": kernel_report()}
    for name, env in environments:
        for net in args.nets.split(","):
            print(f"{net} net, {name}:")
            run = compare(net, epochs, threads, args.systems.split(","), limit, env,
                          peak_seconds=0.5 if args.quick else 1.5)
            run.update(environment=name)
            report["runs"].append(run)
    text = markdown(report)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    from ownnet.io import atomic_write

    with atomic_write(os.path.join(args.out, "results.json")) as f:
        f.write(json.dumps(report, indent=1).encode())
    with atomic_write(os.path.join(args.out, "results.md")) as f:
        f.write((text + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
