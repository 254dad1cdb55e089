"""The systems, one worker class each; every worker process runs one of them (``run_worker``).

A worker trains one epoch per turn: it waits for an 'epoch' line on stdin and answers one JSON line
with the epoch's seconds; after the last turn, 'finish' gets the test accuracy and the peak memory.
Every worker loads the same MNIST, follows the same data order (scikit-learn shuffles by itself) and
keeps its BLAS to the same number of threads.
"""

import json
import sys
import time

import numpy as np

from ownnet.apps.bench.machine import blas_info, limit_threads, numba_loaded, peak_rss_mib, sgemm_peak
from ownnet.apps.bench.nets import NETS, RECIPE


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


def run_worker(system, net, threads, seed, limit, epochs, peak_seconds):
    """The worker process's life: announce itself (with its BLAS), take ``epochs`` turns, then answer
    'finish' with the test accuracy, the peak RSS and whether Numba was loaded."""
    limiter = limit_threads(threads)
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
        print(json.dumps({"accuracy": worker.accuracy(), "peak_rss_mib": peak_rss_mib(),
                          "numba": numba_loaded()}), flush=True)
    del limiter
