"""report.md for ``ownnet lab``: the settings, a table of every network (mean ± spread over the seeds),
the figures, and the answers to the four questions (``conclusions``)."""

import os

import numpy as np

from ownnet.apps.lab.conclusions import QUESTIONS
from ownnet.apps.lab.stats import summarize
from ownnet.files import atomic_write
from ownnet.plot import _figure

COLORS = {None: "black", "tanh": "tab:blue", "sigmoid": "tab:orange", "relu": "tab:green",
          "leaky_relu": "tab:red", "gelu": "tab:purple"}
STYLES = {1: ":", 2: "-", 3: "--"}  # line style by number of layers


def write_report(out, runs, settings):
    """Write the figures and ``out/report.md``; returns the report's path."""
    summaries = {run["name"]: summarize(run) for run in runs}
    figures = _figures(out, runs)
    lines = _header(settings) + _table(summaries)
    for key, title in (("accuracy", "Accuracy"), ("weights", "Max |w| per layer"),
                       ("gradients", "Gradient norm per layer"), ("saturation", "Saturated units")):
        if key in figures:
            lines += ["", f"![{title}]({figures[key]})"]
    for title, answer in QUESTIONS:
        lines += ["", f"## {title}", *answer(summaries)]
    path = os.path.join(out, "report.md")
    with atomic_write(path) as f:
        f.write(("\n".join(lines) + "\n").encode())
    return path


def _header(settings):
    seeds = settings["seeds"]
    images = f"the first {settings['limit']}" if settings["limit"] else "all 60000"
    command = "ownnet lab" + (" --quick" if settings["quick"] else "")
    return [
        "# The lab: 1-, 2- and 3-layer perceptrons on MNIST",
        "",
        f"Plain minibatch gradient descent (SGD, lr {settings['lr']}, batch {settings['batch_size']}, no "
        f"momentum), {settings['epochs']} epochs, hidden layers of {settings['hidden']} units, {images} "
        f"training images with the last 10% held out for validation, float32, {seeds} seed(s) from "
        f"{settings['first_seed']} (`{command} --seeds {seeds}`). Every number is the mean over the seeds "
        "± the standard deviation over them (no ± with one seed). Two numbers are called different only "
        "when they differ by more than their spreads together. Saturation and confidence are measured on "
        "1000 validation images; gradient norms are the mean over an epoch's batches.",
        "",
    ]


def _table(summaries):
    lines = ["| model | train acc. | validation acc. | gap | test acc. | max abs(w) per layer | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in summaries.items():
        weights = ", ".join(w.text(2) for w in s["max_w"])
        lines.append(f"| {name} | {s['train'].text()} | {s['val'].text()} | {s['gap'].text()} | "
                     f"{s['test'].text()} | {weights} | {s['seconds'].text(1)} |")
    return lines


def _band(ax, epochs, values, label, color, style):
    """The mean over the seeds (axis 0) as a line, their spread as a shaded band."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=0)
    ax.plot(epochs, mean, style, color=color, label=label)
    if len(values) > 1:
        spread = values.std(axis=0, ddof=1)
        ax.fill_between(epochs, mean - spread, mean + spread, color=color, alpha=0.15)


def _figures(out, runs):
    try:
        figures = {"accuracy": _accuracy_figure(runs), "weights": _per_model_figure(runs, "max_abs_weight"),
                   "gradients": _per_model_figure(runs, "grad_norm")}
    except ImportError:  # matplotlib is optional: the report then has no figures
        return {}
    saturating = [run for run in runs if run["seeds"][0]["saturation"][0] is not None]
    if saturating:
        figures["saturation"] = _saturation_figure(saturating)
    names = {}
    for key, fig in figures.items():
        names[key] = f"{key}.png"
        with atomic_write(os.path.join(out, names[key])) as f:
            fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    return names


def _accuracy_figure(runs):
    fig = _figure((12, 4.2))
    axes = fig.subplots(1, 2)
    for run in runs:
        epochs = run["seeds"][0]["history"]["epoch"]
        color, style = COLORS.get(run["activation"], "gray"), STYLES[run["layers"]]
        accuracies = [s["history"]["val_accuracy"] for s in run["seeds"]]
        _band(axes[0], epochs, accuracies, run["name"], color, style)
        gaps = [np.subtract(s["train_accuracy"], s["history"]["val_accuracy"]) for s in run["seeds"]]
        _band(axes[1], epochs, gaps, run["name"], color, style)
    axes[0].set_title("validation accuracy (mean ± spread over seeds)")
    axes[1].set_title("train accuracy − validation accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def _per_model_figure(runs, key):
    """One panel per network, one line per layer (W1, W2, W3), mean ± spread over the seeds."""
    columns = 4
    rows = -(-len(runs) // columns)
    fig = _figure((3.2 * columns, 2.8 * rows))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, run in zip(axes, runs):
        epochs = run["seeds"][0]["history"]["epoch"]
        values = np.array([s[key] for s in run["seeds"]])  # (seeds, epochs, layers)
        for layer in range(values.shape[2]):
            _band(ax, epochs, values[:, :, layer], f"W{layer + 1}", f"C{layer}", "-")
        ax.set_title(run["name"], fontsize=9)
        ax.set_yscale("log" if key == "grad_norm" else "linear")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_xlabel("epoch", fontsize=8)
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    fig.suptitle("max |w| per layer" if key == "max_abs_weight"
                 else "gradient norm per layer (mean over the epoch's batches)")
    fig.tight_layout()
    return fig


def _saturation_figure(runs):
    fig = _figure((6, 4))
    ax = fig.subplots()
    for run in runs:
        epochs = run["seeds"][0]["history"]["epoch"]
        _band(ax, epochs, [s["saturation"] for s in run["seeds"]], run["name"],
              COLORS.get(run["activation"], "gray"), STYLES[run["layers"]])
    ax.set_title("fraction of tanh/sigmoid units with |input| > 2")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
