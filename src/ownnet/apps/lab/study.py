"""The lab's runs: the settings, and one network trained per configuration and seed."""

import json
import os
import time

from ownnet.apps.lab.measure import LabMonitor
from ownnet.apps.lab.report import write_report
from ownnet.apps.lab.stats import Stat
from ownnet.data.datasets import load_mnist
from ownnet.files import atomic_write
from ownnet.nn import CrossEntropyLoss, manual_seed, mlp
from ownnet.optim import SGD
from ownnet.train import evaluate, fit

ACTIVATIONS = ("tanh", "sigmoid", "relu")
FULL = {"hidden": 256, "epochs": 30, "limit": None, "lr": 0.1, "batch_size": 64, "seeds": 3,
        "activations": ACTIVATIONS}
QUICK = {"hidden": 64, "epochs": 4, "limit": 8000, "lr": 0.1, "batch_size": 64, "seeds": 2,
         "activations": ACTIVATIONS}
PROBE = 1000  # validation images on which saturation and confidence are measured


def configurations(activations):
    """``(name, activation, hidden layers)`` of every network: softmax regression, then 2 and 3 layers
    with each activation."""
    yield "1-layer", None, 0
    for depth in (2, 3):
        for activation in activations:
            yield f"{depth}-layer {activation}", activation, depth - 1


def run_lab(out, quick=False, seed=0, data=None, **overrides):
    """Train every configuration for ``seeds`` seeds (``seed``, ``seed + 1``, ...) and write
    ``out/report.md``, its figures and ``results.json``; returns the report's path. ``overrides``:
    any of ``hidden``, ``epochs``, ``lr``, ``seeds``, ``activations``, ``limit``, ``batch_size``."""
    settings = dict(QUICK if quick else FULL)
    settings.update({key: value for key, value in overrides.items() if value is not None})
    settings["quick"], settings["first_seed"] = bool(quick), seed
    os.makedirs(out, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = data or load_mnist(verbose=False)
    if settings["limit"]:
        x_train, y_train = x_train[: settings["limit"]], y_train[: settings["limit"]]
    runs = []
    for name, activation, n_hidden in configurations(settings["activations"]):
        sizes = [x_train.shape[1]] + [settings["hidden"]] * n_hidden + [10]
        trained = [_train(sizes, activation, settings, seed + k, (x_train, y_train), (x_test, y_test))
                   for k in range(settings["seeds"])]
        runs.append({"name": name, "activation": activation, "layers": n_hidden + 1, "sizes": sizes,
                     "seeds": trained})
        val = Stat.of([t["history"]["val_accuracy"][-1] for t in trained])
        print(f"{name:<20} val_accuracy {val.text()}  "
              f"({sum(t['seconds'] for t in trained):.1f} s, {len(trained)} seed(s))", flush=True)
    with atomic_write(os.path.join(out, "results.json")) as f:
        f.write(json.dumps({"settings": settings, "runs": runs}, indent=1).encode())
    return write_report(out, runs, settings)


def _train(sizes, activation, settings, seed, train, test):
    """One network, one seed: its history and everything ``LabMonitor`` measured."""
    x_train, y_train = train
    n_train = len(x_train) - len(x_train) // 10  # the last 10% are held out for validation
    manual_seed(seed)
    model = mlp(sizes, activation=activation or "identity")
    monitor = LabMonitor(x_train[:n_train], y_train[:n_train], x_train[n_train:][:PROBE])
    started = time.perf_counter()
    history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=settings["lr"]),
                  x_train[:n_train], y_train[:n_train], epochs=settings["epochs"],
                  batch_size=settings["batch_size"], callbacks=[monitor], seed=seed, verbose=False,
                  validation_data=(x_train[n_train:], y_train[n_train:]))
    return {"seed": seed, "history": history.to_dict(), "max_abs_weight": monitor.max_abs_weight,
            "grad_norm": monitor.grad_norm, "train_accuracy": monitor.train_accuracy,
            "saturation": monitor.saturation, "confidence": monitor.confidence,
            "test_accuracy": evaluate(model, None, *test)["accuracy"],
            "seconds": time.perf_counter() - started}
