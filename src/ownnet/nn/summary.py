"""``model.summary()``: a table of layers, output shapes and parameter counts."""

from ownnet import backend


def summary_table(model, input_shape=None):
    """Rows of (layer, output shape, parameters) for ``model`` and each of its direct children.

    With ``input_shape`` (without the batch axis, e.g. ``(784,)``) a forward pass on one sample of
    zeros, in eval mode, finds each child's output shape.
    """
    children = model.children() or [model]
    shapes = ["?"] * len(children)
    if input_shape is not None:
        was_training = model.training
        model.eval()
        x = backend.xp.zeros((1, *input_shape), dtype=model.dtype)
        try:
            if model.children() and type(model).__name__ == "Sequential":
                for index, child in enumerate(children):
                    x = child.forward(x)
                    shapes[index] = str(("batch", *x.shape[1:]))
            else:
                shapes = [str(("batch", *model.forward(x).shape[1:]))]
                children = [model]
        finally:
            model.train(was_training)
    rows = [(f"({i}) {type(c).__name__}({c.extra_repr()})" if c is not model else repr(c).splitlines()[0],
             shape, f"{c.num_parameters():,}") for i, (c, shape) in enumerate(zip(children, shapes))]
    header = ("layer", "output shape", "parameters")
    widths = [max(len(r[k]) for r in rows + [header]) for k in range(3)]
    def line(cells):
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    text = [line(header), "-" * (sum(widths) + 4)]
    text += [line(row) for row in rows]
    text.append(f"total: {model.num_parameters():,} trainable parameters, dtype {model.dtype}")
    return "\n".join(text)
