"""Plots (matplotlib, an optional extra: ``pip install ownnet[plot]``). Every function returns the
Figure and, given ``path``, saves it as PNG."""


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'ownnet[plot]'") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, path):
    if path is not None:
        from .io import atomic_write

        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    return fig


def training_curves(history, path=None):
    """Loss (left) and every other metric (right) per epoch, training and validation."""
    plt = _pyplot()
    records = history.to_dict() if hasattr(history, "to_dict") else dict(history)
    epochs = records.get("epoch") or list(range(1, len(records["loss"]) + 1))
    skip = {"epoch", "seconds", "samples_per_second", "lr"}
    metrics = sorted({key.removeprefix("val_") for key in records if key not in skip} - {"loss"})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for key in ("loss", "val_loss"):
        if key in records:
            axes[0].plot(epochs, records[key], marker="o", label=key)
    for name in metrics:
        for key in (name, f"val_{name}"):
            if key in records:
                axes[1].plot(epochs, records[key], marker="o", label=key)
    axes[0].set_title("loss")
    axes[1].set_title(", ".join(metrics) or "metrics")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


def confusion_matrix(matrix, class_names=None, path=None):
    """A confusion matrix (rows: true class, columns: predicted) as a heat map with counts."""
    plt = _pyplot()
    n = len(matrix)
    names = class_names or [str(k) for k in range(n)]
    fig, ax = plt.subplots(figsize=(0.55 * n + 2, 0.55 * n + 1.5))
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


def image_grid(images, titles=None, shape=(28, 28), columns=10, path=None, cmap="gray"):
    """Images (rows of ``shape[0] * shape[1]`` pixels, or 2-D arrays) in a grid with titles: for
    digits, or for first-layer weights (one column of ``W`` per image)."""
    plt = _pyplot()
    images = [image.reshape(shape) for image in images]
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.25), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k], cmap=cmap)
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)
