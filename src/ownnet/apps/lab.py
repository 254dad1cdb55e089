"""``ownnet lab``: the lesson's study of 1-, 2- and 3-layer perceptrons on MNIST, written up as a report.

It trains softmax regression (1 layer) and 2- and 3-layer perceptrons with tanh, sigmoid and ReLU
between the layers, all with the lesson's plain minibatch gradient descent, records per epoch the
training and validation accuracy, the largest |w| of every layer and the size of every layer's
gradient, and writes ``report.md`` with figures that answer the lab's four questions with the
measured numbers.
"""

import json
import os
import time

import numpy as np

from ownnet.data.datasets import load_mnist
from ownnet.files import atomic_write
from ownnet.nn import CrossEntropyLoss, manual_seed, mlp
from ownnet.optim import SGD
from ownnet.plot import _pyplot
from ownnet.train import Callback, evaluate, fit

FULL = {"hidden": 256, "epochs": 30, "limit": None, "lr": 0.1, "batch_size": 64}
QUICK = {"hidden": 64, "epochs": 4, "limit": 8000, "lr": 0.1, "batch_size": 64}


class WeightMonitor(Callback):
    """Per epoch: max |w| and the norm of the last batch's gradient of every Linear layer, and the
    accuracy on the whole training set at the end of the epoch (``fit`` reports a running average
    over the epoch's batches, which lags behind the weights it ends with)."""

    def __init__(self, x_train, y_train):
        self.x_train, self.y_train = x_train, y_train
        self.max_abs_weight, self.grad_norm, self.train_accuracy = [], [], []

    def on_epoch_end(self, epoch, logs):
        linears = [p for name, p in self.run.model.named_parameters() if name.endswith("weight")]
        self.max_abs_weight.append([float(np.abs(p.data).max()) for p in linears])
        self.grad_norm.append([float(np.linalg.norm(p.grad)) for p in linears])
        self.train_accuracy.append(evaluate(self.run.model, None, self.x_train, self.y_train)["accuracy"])


def _runs():
    yield "1-layer", None, 0
    for depth in (2, 3):
        for activation in ("tanh", "sigmoid", "relu"):
            yield f"{depth}-layer {activation}", activation, depth - 1


def run_lab(out, quick=False, seed=0, data=None):
    """Train every configuration and write ``out/report.md`` (+ figures, ``results.json``)."""
    settings = QUICK if quick else FULL
    os.makedirs(out, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = data or load_mnist()
    if settings["limit"]:
        x_train, y_train = x_train[: settings["limit"]], y_train[: settings["limit"]]
    results = []
    for name, activation, n_hidden in _runs():
        manual_seed(seed)
        sizes = [784] + [settings["hidden"]] * n_hidden + [10]
        model = mlp(sizes, activation=activation or "identity")
        n_train = len(x_train) - len(x_train) // 10  # the last 10% are held out for validation
        monitor = WeightMonitor(x_train[:n_train], y_train[:n_train])
        started = time.perf_counter()
        history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=settings["lr"]),
                      x_train[:n_train], y_train[:n_train], epochs=settings["epochs"],
                      batch_size=settings["batch_size"], callbacks=[monitor], seed=seed, verbose=False,
                      validation_data=(x_train[n_train:], y_train[n_train:]))
        test = evaluate(model, None, x_test, y_test)
        results.append({"name": name, "activation": activation, "layers": n_hidden + 1, "sizes": sizes,
                        "history": history.to_dict(), "max_abs_weight": monitor.max_abs_weight,
                        "grad_norm": monitor.grad_norm, "train_accuracy": monitor.train_accuracy,
                        "test_accuracy": test["accuracy"],
                        "seconds": time.perf_counter() - started})
        print(f"{name:<20} val_accuracy {history['val_accuracy'][-1]:.4f}  "
              f"test_accuracy {test['accuracy']:.4f}  ({results[-1]['seconds']:.1f} s)")
    with atomic_write(os.path.join(out, "results.json")) as f:
        f.write(json.dumps({"settings": settings, "results": results}, indent=1).encode())
    figures = _figures(out, results)
    path = os.path.join(out, "report.md")
    with atomic_write(path) as f:
        f.write(_report(results, settings, figures).encode())
    return path


def _figures(out, results):
    try:
        plt = _pyplot()
    except ImportError:
        return {}
    figures = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in results:
        epochs = r["history"]["epoch"]
        axes[0].plot(epochs, r["history"]["val_accuracy"], marker=".", label=r["name"])
        gap = np.array(r["train_accuracy"]) - np.array(r["history"]["val_accuracy"])
        axes[1].plot(epochs, gap, marker=".", label=r["name"])
    axes[0].set_title("validation accuracy")
    axes[1].set_title("train accuracy - validation accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    figures["accuracy"] = "accuracy.png"
    _save(fig, os.path.join(out, figures["accuracy"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in results:
        weights = np.array(r["max_abs_weight"])
        grads = np.array(r["grad_norm"])
        for layer in range(weights.shape[1]):
            style = ["-", "--", ":"][layer]
            axes[0].plot(r["history"]["epoch"], weights[:, layer], style, label=f"{r['name']} W{layer + 1}")
            axes[1].semilogy(r["history"]["epoch"], grads[:, layer], style,
                             label=f"{r['name']} W{layer + 1}")
    axes[0].set_title("max |w| per layer")
    axes[1].set_title("gradient norm per layer (last batch of the epoch)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    figures["weights"] = "weights.png"
    _save(fig, os.path.join(out, figures["weights"]))
    plt.close("all")
    return figures


def _save(fig, path):
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)


def _by_name(results):
    return {r["name"]: r for r in results}


def _report(results, settings, figures):
    """The text of report.md: the settings, a table of the results, the figures, then the answers to the
    lab's four questions, each with the measured numbers."""
    r = _by_name(results)
    val = {name: item["history"]["val_accuracy"][-1] for name, item in r.items()}
    train = {name: item["train_accuracy"][-1] for name, item in r.items()}
    first_epoch = {name: item["history"]["val_accuracy"][0] for name, item in r.items()}
    lines = _results_table(results, settings, figures, val, train)
    lines += _activation_and_depth(r, val, first_epoch)
    lines += _deeper_and_weights(r, val, train, first_epoch, settings["epochs"])
    return "\n".join(lines)


def _results_table(results, settings, figures, val, train):
    """The title, the settings, one table row per model and the figures."""
    lines = [
        "# The lab: 1-, 2- and 3-layer perceptrons on MNIST",
        "",
        f"Plain minibatch gradient descent (SGD, lr {settings['lr']}, batch {settings['batch_size']}, no "
        f"momentum), {settings['epochs']} epochs, hidden layers of {settings['hidden']} units, "
        f"{'the first ' + str(settings['limit']) if settings['limit'] else 'all 60000'} training images "
        "with the last 10% held out for validation, float32. Measured by `ownnet lab"
        f"{' --quick' if settings['limit'] else ''}`.",
        "",
        "| model | train acc. | validation acc. | gap | test acc. | max abs(w) per layer | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for item in results:
        name = item["name"]
        weights = ", ".join(f"{w:.2f}" for w in item["max_abs_weight"][-1])
        lines.append(f"| {name} | {train[name]:.4f} | {val[name]:.4f} | {train[name] - val[name]:+.4f} | "
                     f"{item['test_accuracy']:.4f} | {weights} | {item['seconds']:.1f} |")
    for key, title in (("accuracy", "Accuracy"), ("weights", "Weights and gradients")):
        if key in figures:
            lines += ["", f"![{title}]({figures[key]})"]
    return lines


def _activation_and_depth(r, val, first_epoch):
    """Questions 1 (does the activation matter?) and 2 (2 or 3 layers?)."""
    best2 = max((n for n in r if n.startswith("2-")), key=val.get)
    best3 = max((n for n in r if n.startswith("3-")), key=val.get)
    worst2 = min((n for n in r if n.startswith("2-")), key=val.get)
    third = val[best3] - val[best2]
    return [
        "",
        "## 1. Does the activation between the layers matter?",
        f"Yes. Among the 2-layer nets the best is {best2} ({val[best2]:.4f} validation accuracy) and the "
        f"worst {worst2} ({val[worst2]:.4f}); the 1-layer net, which has no activation at all (a stack "
        f"of Linear layers without one is still a single linear map), reaches {val['1-layer']:.4f}. "
        f"After the first epoch: sigmoid {first_epoch['2-layer sigmoid']:.4f}, tanh "
        f"{first_epoch['2-layer tanh']:.4f}, ReLU {first_epoch['2-layer relu']:.4f}. Sigmoid's derivative "
        "is at most 0.25 and its outputs are not centred on zero, so plain gradient descent moves its "
        "weights slowest.",
        "",
        "## 2. Do we need 2 or 3 layers?",
        f"Going from 1 to 2 layers gains {val[best2] - val['1-layer']:+.4f} validation accuracy "
        f"({val['1-layer']:.4f} -> {val[best2]:.4f}); going from 2 to 3 layers "
        f"{'gains' if third > 0 else 'changes it by'} {third:+.4f} ({best3}: {val[best3]:.4f}) at "
        f"{r[best3]['seconds'] / max(r[best2]['seconds'], 1e-9):.1f}x the training time. "
        + ("On MNIST one hidden layer does almost all of the work; the third layer is not worth much."
           if third < 0.003 else "Here the third layer pays for itself."),
        "",
    ]


def _deeper_and_weights(r, val, train, first_epoch, last_epoch):
    """Questions 3 (what goes wrong as depth grows?) and 4 (how do the weights behave?)."""
    sig2, sig3 = r["2-layer sigmoid"], r["3-layer sigmoid"]
    grads3 = sig3["grad_norm"][0]
    gaps = {name: train[name] - val[name] for name in r}
    gap_name = max(gaps, key=gaps.get)
    peak = {name: int(np.argmax(item["history"]["val_accuracy"])) + 1 for name, item in r.items()}
    growth = {name: item["max_abs_weight"][-1][0] / item["max_abs_weight"][0][0] for name, item in r.items()}
    return [
        "## 3. What goes wrong as depth grows?",
        f"Sigmoid: after one epoch the 3-layer net is at {first_epoch['3-layer sigmoid']:.4f} against "
        f"{first_epoch['2-layer sigmoid']:.4f} for 2 layers "
        f"({'slower' if first_epoch['3-layer sigmoid'] < first_epoch['2-layer sigmoid'] else 'not slower'}), "
        f"and it ends at {val['3-layer sigmoid']:.4f} against {val['2-layer sigmoid']:.4f}. The gradient "
        f"is multiplied by sigmoid' <= 0.25 at every layer on its way back: after the first epoch the "
        f"gradient norms of the 3-layer sigmoid net are {', '.join(f'{g:.2e}' for g in grads3)} (first "
        f"layer to last) against {', '.join(f'{g:.2e}' for g in sig2['grad_norm'][0])} for 2 layers. "
        f"Depth also adds capacity and so overfitting: the gap between training accuracy (whole training "
        f"set, end of epoch) and validation accuracy is largest for {gap_name} ({gaps[gap_name]:+.4f}); "
        f"the 3-layer ReLU net fits the training set to {train['3-layer relu']:.4f} while validation "
        f"stays at {val['3-layer relu']:.4f} (its best validation epoch was {peak['3-layer relu']} of "
        f"{last_epoch}).",
        "",
        "## 4. How do the weights behave?",
        "The largest |w| of the first layer, from epoch 1 to the last epoch: "
        + ", ".join(f"{name} x{growth[name]:.2f}" for name in r)
        + ". The weights keep growing while the training loss falls, and nothing in plain gradient "
        "descent stops them; large weights saturate tanh and sigmoid units (small gradients) and make "
        "predictions over-confident. Weight decay or early stopping keep them in check. The table gives "
        "the final max |w| of every layer, the figure the whole course.",
        "",
    ]
