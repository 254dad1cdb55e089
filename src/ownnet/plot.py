"""Plots (matplotlib, an optional extra: ``pip install 'ownnet[plot]'``).

Every function returns a matplotlib ``Figure`` and, given ``path``, saves it as PNG. The figures are
built without pyplot (no window, no global figure list to leak; they render with the Agg backend), and
a Jupyter notebook still shows a returned Figure.

- ``training_curves(history)``: loss and metrics per epoch (one run, or several by name);
- ``decision_boundary(model, x, y)``: class regions and probability contours of a 2-D classifier;
- ``confusion_matrix(matrix)``; ``image_grid(images)``: digits, misclassified examples;
- ``first_layer_weights(model)``: each first-layer unit's weights as an image;
- ``max_abs_weight(values)``: the largest |w| of every layer, epoch by epoch;
- ``regression_fit(y_true, y_pred, x)``: the fit, prediction against truth, residuals.
"""

import numpy as np

from ownnet import backend
from ownnet.files import atomic_write
from ownnet.nn.module import Module
from ownnet.train.loop import predict_proba


def _pyplot():
    """pyplot on the Agg backend (for code that wants pyplot itself, e.g. ``ownnet lab``)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'ownnet[plot]'") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _figure(figsize):
    """A new Figure, outside pyplot (nothing to close, no display needed)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'ownnet[plot]'") from None
    return Figure(figsize=figsize)


def _finish(fig, path):
    if path is not None:
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    return fig


def _colors(n):
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n)]


# --- training ---------------------------------------------------------------------------------------

def _records(history):
    return history.to_dict() if hasattr(history, "to_dict") else dict(history)


def _is_named_runs(history):
    """``{"name": History or dict of lists, ...}`` rather than one run's ``{"loss": [...], ...}``."""
    return (isinstance(history, dict) and bool(history)
            and all(hasattr(v, "to_dict") or isinstance(v, dict) for v in history.values()))


def training_curves(history, path=None):
    """Loss (left) and every other metric (right) per epoch, training and validation.

    ``history``: a ``History`` (what ``fit`` returns) or its ``to_dict()``; or ``{name: History}``
    to compare runs on the same axes (lines labelled ``name: loss``, ...).
    """
    runs = ({name: _records(h) for name, h in history.items()} if _is_named_runs(history)
            else {"": _records(history)})
    skip = {"epoch", "seconds", "samples_per_second", "lr"}
    metrics = sorted({key.removeprefix("val_") for records in runs.values() for key in records
                      if key not in skip} - {"loss"})
    fig = _figure((10, 3.8))
    axes = fig.subplots(1, 2)
    for name, records in runs.items():
        prefix = f"{name}: " if name else ""
        epochs = records.get("epoch") or list(range(1, len(records["loss"]) + 1))
        marker = "o" if len(epochs) <= 30 else None
        for key in ("loss", "val_loss"):
            if key in records:
                axes[0].plot(epochs, records[key], marker=marker, label=prefix + key)
        for metric in metrics:
            for key in (metric, f"val_{metric}"):
                if key in records:
                    axes[1].plot(epochs, records[key], marker=marker, label=prefix + key)
    axes[0].set_title("loss")
    axes[1].set_title(", ".join(metrics) or "metrics")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


def max_abs_weight(values, layer_names=None, title="max |w| per layer", path=None):
    """The largest absolute weight of every layer, epoch by epoch.

    ``values``: one list per epoch with one number per layer, ``[[w1, w2, ...], ...]``, as
    ``ownnet.apps.lab.WeightMonitor.max_abs_weight`` records it (a ``WeightMonitor`` itself is accepted).
    ``layer_names``: one label per layer (default ``W1``, ``W2``, ...).
    """
    values = getattr(values, "max_abs_weight", values)
    try:
        table = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("values: expected one list per epoch with one number per layer, "
                         "e.g. [[0.5, 0.3], [0.6, 0.4]]") from None
    if table.ndim != 2 or table.size == 0:
        raise ValueError(f"values: expected a table (epochs, layers), got shape {table.shape}")
    names = list(layer_names) if layer_names is not None else [f"W{k + 1}" for k in range(table.shape[1])]
    if len(names) != table.shape[1]:
        raise ValueError(f"layer_names: expected {table.shape[1]} names (one per layer), got {len(names)}")
    fig = _figure((6, 3.8))
    ax = fig.subplots()
    epochs = np.arange(1, len(table) + 1)
    for layer, name in enumerate(names):
        ax.plot(epochs, table[:, layer], marker="o" if len(epochs) <= 30 else None, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("max |w|")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


# --- classification ---------------------------------------------------------------------------------

def _probabilities(model, points):
    """Class probabilities ``(points, n_classes)`` from an ownnet Module or a scikit-learn-style
    estimator with ``predict_proba``."""
    if isinstance(model, Module):
        return np.asarray(predict_proba(model, points.astype(model.dtype)), dtype=np.float64)
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(points), dtype=np.float64)
    raise TypeError(f"model: expected an ownnet Module or an estimator with predict_proba, "
                    f"got {type(model).__name__}")


def _class_indices(model, y):
    """``y`` as indices into the model's probability columns (``classes_`` for an estimator)."""
    y = np.asarray(y).ravel()
    classes = getattr(model, "classes_", None)
    if classes is not None:
        return np.searchsorted(classes, y), [str(c) for c in classes]
    if y.dtype.kind not in "iub":
        raise ValueError(f"y: expected integer class indices for an ownnet model, got dtype {y.dtype}")
    return y.astype(np.int64), None


def _boundary_panel(ax, model, x, y, resolution, class_names, title):
    low, high = x.min(axis=0), x.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-6)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    probabilities = _probabilities(model, points)
    n_classes = probabilities.shape[1]
    labels, model_names = _class_indices(model, y)
    n_colors = max(n_classes, int(labels.max()) + 1)
    colors = _colors(n_colors)
    names = list(class_names) if class_names is not None else model_names or [str(k) for k in range(n_colors)]
    regions = probabilities.argmax(axis=1).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, regions, levels=np.arange(n_classes + 1) - 0.5, colors=colors[:n_classes],
                alpha=0.25)
    if n_classes == 2:
        # P(class 1): the 0.5 line is the decision boundary, the others show how sure the model is
        field, levels, what = probabilities[:, 1].reshape(grid_x.shape), [0.1, 0.25, 0.5, 0.75, 0.9], "P(1)"
    else:
        # the probability of the winning class: low along the boundaries, high inside the regions
        field, levels, what = probabilities.max(axis=1).reshape(grid_x.shape), [0.5, 0.7, 0.9], "max P"
    thick = [level == 0.5 and n_classes == 2 for level in levels]
    ax.contour(grid_x, grid_y, field, levels=levels, colors="k", alpha=0.6,
               linewidths=[1.8 if bold else 0.7 for bold in thick])
    # contour labels cost much layout time on wiggly boundaries: name the levels in the legend instead
    thin = ", ".join(f"{level:g}" for level, bold in zip(levels, thick) if not bold)
    if any(thick):
        ax.plot([], [], "k-", linewidth=1.8, alpha=0.6, label=f"{what} = 0.5 (boundary)")
    ax.plot([], [], "k-", linewidth=0.7, alpha=0.6, label=f"{what} = {thin}")
    for k in np.unique(labels):
        mine = labels == k
        ax.scatter(x[mine, 0], x[mine, 1], s=14, color=colors[k], edgecolors="k", linewidths=0.4,
                   label=names[k] if k < len(names) else str(k))
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("x[:, 0]")
    ax.set_ylabel("x[:, 1]")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: hides no data


def decision_boundary(model, x, y, resolution=200, class_names=None, title=None, path=None):
    """The class regions a classifier draws in the plane, its probability contours, and the data.

    ``model``: an ownnet ``Module`` taking ``(batch, 2)`` inputs (its ``predict_proba``: softmax, or
    sigmoid for one output), or an estimator with ``predict_proba`` (e.g. ``ownnet.sklearn``'s, a
    ``Pipeline``); or ``{title: model}`` to draw several side by side on the same data.
    ``x``: ``(samples, 2)``; ``y``: ``(samples,)`` labels (class indices for a Module).
    Regions are coloured by the most probable class on a ``resolution`` x ``resolution`` grid; the
    contours are P(class 1) for two classes (thick: 0.5, the boundary) and the winning class's
    probability for more.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x: expected 2-D inputs of shape (samples, 2), got shape {x.shape}")
    if len(np.asarray(y).ravel()) != len(x):
        raise ValueError(f"y: expected {len(x)} labels (one per row of x), got shape {np.shape(y)}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution: expected an integer >= 2, got {resolution!r}")
    models = model if isinstance(model, dict) else {title: model}
    if not models:
        raise ValueError("model: expected a model or a non-empty {title: model} dict, got {}")
    fig = _figure((6.2 * len(models), 4.6))
    axes = np.atleast_1d(fig.subplots(1, len(models)))
    for ax, (name, one) in zip(axes, models.items()):
        _boundary_panel(ax, one, x, y, resolution, class_names, name)
    fig.tight_layout()
    return _finish(fig, path)


def confusion_matrix(matrix, class_names=None, path=None):
    """A confusion matrix (rows: true class, columns: predicted) as a heat map with counts."""
    matrix = np.asarray(matrix)
    n = len(matrix)
    names = class_names or [str(k) for k in range(n)]
    fig = _figure((0.55 * n + 2, 0.55 * n + 1.5))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    threshold = matrix.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i][j] > threshold else "black")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    return _finish(fig, path)


# --- images and weights -----------------------------------------------------------------------------

def image_grid(images, titles=None, shape=(28, 28), columns=10, path=None, cmap="gray", symmetric=False):
    """Images (rows of ``shape[0] * shape[1]`` pixels, or 2-D arrays) in a grid with titles: for
    digits, or for first-layer weights (one column of ``W`` per image). ``symmetric=True`` centres each
    image's colour scale on 0 (``-max|v|`` to ``+max|v|``), for signed values such as weights."""
    images = [np.asarray(image).reshape(shape) for image in images]
    rows = max(1, -(-len(images) // columns))
    fig = _figure((columns * 1.1, rows * 1.25))
    axes = np.atleast_2d(fig.subplots(rows, columns, squeeze=False))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            limit = float(np.abs(images[k]).max()) or 1.0
            scale = {"vmin": -limit, "vmax": limit} if symmetric else {}
            ax.imshow(images[k], cmap=cmap, **scale)
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


def _first_weight(model):
    for name, parameter in model.named_parameters():
        if parameter.data.ndim == 2 and name.endswith("weight"):
            return parameter.data
    raise ValueError(f"model: expected a model whose first layer has a 2-D weight (a Linear), "
                     f"found none in {type(model).__name__}")


def first_layer_weights(model, shape=(28, 28), max_images=64, columns=16, path=None):
    """What each unit of the first layer looks for: its weights as an image (red > 0, blue < 0).

    ``model``: an ownnet model whose first weight is ``(in_features, units)`` (a ``Linear``), or that
    weight array itself, with ``in_features = shape[0] * shape[1]`` (784 = 28x28 for MNIST). The first
    ``max_images`` units are drawn, each on its own colour scale centred on 0.
    """
    weight = backend.to_numpy(_first_weight(model) if isinstance(model, Module) else model)
    if weight.ndim != 2 or weight.shape[0] != shape[0] * shape[1]:
        raise ValueError(f"model: expected a first-layer weight of shape ({shape[0] * shape[1]}, units) for "
                         f"images of shape {tuple(shape)}, got {weight.shape}")
    count = min(weight.shape[1], max_images)
    return image_grid(weight[:, :count].T, titles=[f"unit {k}" for k in range(count)], shape=shape,
                      columns=min(columns, count), path=path, cmap="RdBu_r", symmetric=True)


# --- regression ---------------------------------------------------------------------------------------

def regression_fit(y_true, y_pred, x=None, title=None, path=None):
    """How well a regression fits: the fitted curve over the data (when ``x`` has one feature),
    prediction against truth (on the diagonal when perfect), and the residuals ``y_true - y_pred``
    against the prediction.

    ``y_true``: ``(samples,)`` or ``(samples, outputs)`` (all outputs are pooled); ``y_pred``: the same
    shape, or ``{name: y_pred}`` to compare models; ``x``: ``(samples, 1)`` or ``(samples,)``, optional.
    """
    truth = np.asarray(y_true, dtype=np.float64)
    predictions = y_pred if isinstance(y_pred, dict) else {"prediction": y_pred}
    if not predictions:
        raise ValueError("y_pred: expected predictions or a non-empty {name: predictions} dict, got {}")
    predictions = {name: np.asarray(p, dtype=np.float64) for name, p in predictions.items()}
    for name, p in predictions.items():
        if p.size != truth.size or len(p) != len(truth):
            raise ValueError(f"y_pred[{name!r}]: expected the shape of y_true {truth.shape}, got {p.shape}")
    inputs = None
    if x is not None:
        inputs = np.asarray(x, dtype=np.float64)
        if len(inputs) != len(truth):
            raise ValueError(f"x: expected {len(truth)} rows (one per target), got shape {inputs.shape}")
        inputs = inputs.reshape(len(inputs), -1)
        inputs = inputs[:, 0] if inputs.shape[1] == 1 and truth.size == len(truth) else None
    panels = 3 if inputs is not None else 2
    fig = _figure((4.6 * panels, 4.0))
    axes = list(np.atleast_1d(fig.subplots(1, panels)))
    colors = _colors(len(predictions))
    flat_truth = truth.ravel()
    if inputs is not None:
        ax = axes.pop(0)
        order = np.argsort(inputs)
        ax.scatter(inputs, flat_truth, s=10, color="0.55", label="data")
        for color, (name, p) in zip(colors, predictions.items()):
            ax.plot(inputs[order], p.ravel()[order], color=color, linewidth=2, label=name)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title("fit")
        ax.legend(fontsize=8)
    scatter, residual = axes
    low, high = flat_truth.min(), flat_truth.max()
    scatter.plot([low, high], [low, high], "k--", linewidth=1, label="y_pred = y_true")
    for color, (name, p) in zip(colors, predictions.items()):
        scatter.scatter(flat_truth, p.ravel(), s=10, alpha=0.6, color=color, label=name)
        residual.scatter(p.ravel(), flat_truth - p.ravel(), s=10, alpha=0.6, color=color, label=name)
    residual.axhline(0.0, color="k", linestyle="--", linewidth=1)
    scatter.set_xlabel("y_true")
    scatter.set_ylabel("y_pred")
    scatter.set_title("prediction vs truth")
    residual.set_xlabel("y_pred")
    residual.set_ylabel("y_true - y_pred")
    residual.set_title("residuals")
    for ax in (scatter, residual):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)
