"""Draws docs/figures/computational-graph.png: the 2-2-2 network of docs/layer-contract.md as a
computational graph, forward (black, left to right) and backward (red, right to left).

Run ``python docs/figures/computational_graph.py`` from the repository root (needs matplotlib).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(__file__).resolve().parent / "computational-graph.png"

# (label, x position, kind): values are boxes, operations are circles
NODES = [
    ("x", 0.0, "value"), ("x·W1 + b1", 1.0, "op"), ("z1", 2.0, "value"), ("tanh", 3.0, "op"),
    ("h", 4.0, "value"), ("h·W2 + b2", 5.0, "op"), ("z2", 6.0, "value"), ("softmax", 7.0, "op"),
    ("p", 8.0, "value"), ("−log p[y]", 9.0, "op"), ("L", 10.0, "value"),
]
PARAMETERS = [("W1, b1", 1.0), ("W2, b2", 5.0)]
# backward: the gradient each operation hands to the one before it (between op i and the value before it)
BACKWARD = [
    (10.0, 6.0, "dL/dz2 = p − onehot(y)\n(softmax and −log fused: CrossEntropyLoss)"),
    (6.0, 4.0, "dL/dh = dL/dz2·W2ᵀ"), (4.0, 2.0, "dL/dz1 = dL/dh ⊙ (1 − h²)"),
    (2.0, 0.0, "dL/dx = dL/dz1·W1ᵀ"),
]
PARAMETER_GRADIENTS = [(1.0, "dL/dW1 = xᵀ·dL/dz1\ndL/db1 = Σ dL/dz1"),
                       (5.0, "dL/dW2 = hᵀ·dL/dz2\ndL/db2 = Σ dL/dz2")]


def _half_width(label):
    """Roughly half the width of a node's box, in data units (so that arrows stop at its edge)."""
    return 0.17 + 0.045 * len(label)


def draw(path=OUT):
    fig, ax = plt.subplots(figsize=(13, 4.2))
    for label, x, kind in NODES:
        style = dict(boxstyle="round,pad=0.35", fc="#e8f0fe" if kind == "value" else "#fff3d6", ec="0.3")
        if kind == "op":
            style["boxstyle"] = "circle,pad=0.25" if len(label) < 6 else "round4,pad=0.35"
        ax.text(x, 0.0, label, ha="center", va="center", fontsize=10, bbox=style, zorder=3)
    for (left, a, _), (right, b, _) in zip(NODES, NODES[1:]):
        ax.annotate("", xy=(b - _half_width(right), 0.0), xytext=(a + _half_width(left), 0.0),
                    arrowprops=dict(arrowstyle="->", color="k"))
    for label, x in PARAMETERS:
        ax.text(x, 0.85, label, ha="center", va="center", fontsize=10,
                bbox=dict(boxstyle="round,pad=0.3", fc="#e6f4ea", ec="0.3"))
        ax.annotate("", xy=(x, 0.2), xytext=(x, 0.68), arrowprops=dict(arrowstyle="->", color="k"))
    for start, end, label in BACKWARD:
        ax.annotate("", xy=(end + 0.1, -0.55), xytext=(start - 0.1, -0.55),
                    arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.5))
        ax.text((start + end) / 2, -0.78, label, ha="center", va="top", fontsize=8.5, color="tab:red")
    for x, label in PARAMETER_GRADIENTS:
        ax.text(x + 0.15, 0.45, label, ha="left", va="center", fontsize=8.5, color="tab:red")
    ax.text(0.0, 1.3, "forward: each operation computes its output and keeps what backward needs",
            fontsize=10, ha="left")
    ax.text(0.0, -1.45, "backward: each operation turns dL/d(output) into dL/d(input), adding dL/dW "
            "into its parameters' .grad", fontsize=10, ha="left", color="tab:red")
    ax.set_xlim(-0.6, 10.6)
    ax.set_ylim(-1.6, 1.45)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(draw())
