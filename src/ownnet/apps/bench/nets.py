"""What the bench trains: the three nets, the one recipe, the systems that train them, and the work
(floating-point operations and matrix-product shapes) of one epoch."""

NETS = {
    "canonical": {"sizes": [784, 512, 256, 10], "activation": "relu"},
    "small": {"sizes": [784, 128, 10], "activation": "tanh"},
    "big": {"sizes": [784, 1024, 1024, 10], "activation": "relu"},
}
RECIPE = {"lr": 0.05, "momentum": 0.9, "batch_size": 128}

# The default turn order of a round (odd rounds run it backwards, then the SGEMM peak's turn ends the
# forward order): ownnet sits between PyTorch and the ceiling, the two ratios the project watches most,
# so that its turns and theirs are next to each other in every round.
SYSTEMS = ("torch", "ownnet", "ceiling", "numpy", "sklearn")


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
