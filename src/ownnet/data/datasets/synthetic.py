"""Small synthetic data sets for experiments and tests, generated with NumPy only.

Every function takes ``seed`` (``None``: fresh randomness; an int or a ``numpy.random.Generator``: the
same data every time) and ``dtype`` (default: ``get_default_dtype()``), and returns ``(x, y)``:

- classification: ``x`` of shape ``(n_samples, n_features)`` in ``dtype``, ``y`` of shape
  ``(n_samples,)``, int64 class indices, classes as balanced as ``n_samples`` allows, rows shuffled;
- regression: ``x`` of shape ``(n_samples, n_features)`` and ``y`` of shape ``(n_samples, 1)``, both in
  ``dtype`` (the shape of a ``Linear(n_features, 1)`` output, so ``MSELoss`` needs no reshape).

The data are drawn in float64 and then cast, so a seed gives the same points in float32 and float64.
The arrays are NumPy arrays on the host (NumPy's generator keeps seeds reproducible across backends).
"""

import math
import numbers

import numpy as np

from ownnet import backend


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_float(name, value, minimum=0.0, maximum=math.inf, strict=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    low_ok = value > minimum if strict else value >= minimum
    if not low_ok or value > maximum:
        bounds = f"{'>' if strict else '>='} {minimum}" + (f" and <= {maximum}" if maximum < math.inf else "")
        raise ValueError(f"{name}: expected a number {bounds}, got {value!r}")
    return float(value)


def _split(n_samples, n_groups):
    """Sizes of ``n_groups`` groups as equal as possible, summing to ``n_samples``."""
    return [n_samples // n_groups + (1 if i < n_samples % n_groups else 0) for i in range(n_groups)]


def _classification(x, y, rng, dtype):
    order = rng.permutation(len(y))
    return x[order].astype(backend.resolve_dtype(dtype)), y[order].astype(np.int64)


def _regression(x, y, dtype):
    dtype = backend.resolve_dtype(dtype)
    return x.astype(dtype), y.reshape(-1, 1).astype(dtype)


def make_blobs(n_samples=300, centers=3, n_features=2, cluster_std=1.0, center_box=(-10.0, 10.0),
               seed=None, dtype=None):
    """Gaussian clusters (isotropic), one class per cluster.

    ``centers``: the number of clusters (their centers drawn uniformly in ``center_box`` in every
    feature) or an array ``(n_centers, n_features)`` of centers (then ``n_features`` is taken from it).
    ``cluster_std``: the standard deviation of every cluster, or one per cluster.
    Shape: ``x`` ``(n_samples, n_features)``, ``y`` ``(n_samples,)`` in ``0..n_centers-1``.
    """
    rng = np.random.default_rng(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        n_centers = _check_int("centers", centers, 1)
        n_features = _check_int("n_features", n_features, 1)
        low, high = (_check_float("center_box", bound, -math.inf) for bound in center_box)
        if not low < high:
            raise ValueError(f"center_box: expected (low, high) with low < high, got {center_box!r}")
        center_array = rng.uniform(low, high, size=(n_centers, n_features))
    else:
        center_array = np.asarray(centers, dtype=np.float64)
        if center_array.ndim != 2 or len(center_array) == 0 or not np.isfinite(center_array).all():
            raise ValueError(
                f"centers: expected an int or a finite array (n_centers, n_features), got {centers!r}")
        n_centers, n_features = center_array.shape
    n_samples = _check_int("n_samples", n_samples, n_centers)
    try:
        stds = np.asarray(cluster_std, dtype=np.float64)
    except (TypeError, ValueError):
        stds = None
    if stds is not None and stds.ndim == 0:
        stds = np.full(n_centers, float(stds))
    if stds is None or stds.shape != (n_centers,) or not np.isfinite(stds).all() or (stds < 0).any():
        raise ValueError(f"cluster_std: expected a number >= 0 or {n_centers} of them, got {cluster_std!r}")
    sizes = _split(n_samples, n_centers)
    x = np.concatenate([center_array[k] + stds[k] * rng.standard_normal((size, n_features))
                        for k, size in enumerate(sizes)])
    y = np.repeat(np.arange(n_centers), sizes)
    return _classification(x, y, rng, dtype)


def make_moons(n_samples=300, noise=0.1, seed=None, dtype=None):
    """Two interleaving half circles (class 0 on top, class 1 below), plus Gaussian noise of std ``noise``.

    Not linearly separable. Shape: ``x`` ``(n_samples, 2)``, ``y`` ``(n_samples,)`` in {0, 1}.
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    noise = _check_float("noise", noise)
    rng = np.random.default_rng(seed)
    n_top, n_bottom = _split(n_samples, 2)
    top = np.linspace(0, math.pi, n_top)
    bottom = np.linspace(0, math.pi, n_bottom)
    x = np.concatenate([np.stack([np.cos(top), np.sin(top)], axis=1),
                        np.stack([1 - np.cos(bottom), 0.5 - np.sin(bottom)], axis=1)])
    x += noise * rng.standard_normal(x.shape)
    y = np.repeat([0, 1], [n_top, n_bottom])
    return _classification(x, y, rng, dtype)


def make_circles(n_samples=300, noise=0.05, factor=0.5, seed=None, dtype=None):
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor`` (0 < factor < 1), plus
    Gaussian noise of std ``noise``. Not linearly separable.
    Shape: ``x`` ``(n_samples, 2)``, ``y`` ``(n_samples,)`` in {0, 1}.
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    noise = _check_float("noise", noise)
    factor = _check_float("factor", factor, 0.0, 1.0, strict=True)
    if factor == 1.0:
        raise ValueError("factor: expected a number > 0 and < 1 (the inner radius), got 1.0")
    rng = np.random.default_rng(seed)
    n_outer, n_inner = _split(n_samples, 2)
    outer = np.linspace(0, 2 * math.pi, n_outer, endpoint=False)
    inner = np.linspace(0, 2 * math.pi, n_inner, endpoint=False)
    x = np.concatenate([np.stack([np.cos(outer), np.sin(outer)], axis=1),
                        factor * np.stack([np.cos(inner), np.sin(inner)], axis=1)])
    x += noise * rng.standard_normal(x.shape)
    y = np.repeat([0, 1], [n_outer, n_inner])
    return _classification(x, y, rng, dtype)


def make_spirals(n_samples=300, n_classes=2, noise=0.2, turns=1.0, seed=None, dtype=None):
    """Intertwined spiral arms, one class per arm (the classic two- or three-arm spirals).

    Arm ``k`` runs from the center (radius 0) to radius 1 while turning ``turns`` times, rotated by
    ``k / n_classes`` of a turn. ``noise``: the standard deviation of the Gaussian noise added to each
    point's angle, in radians (the point moves along its circle, so arms stay apart far from the center).
    Not linearly separable. Shape: ``x`` ``(n_samples, 2)``, ``y`` ``(n_samples,)`` in ``0..n_classes-1``.
    """
    n_classes = _check_int("n_classes", n_classes, 2)
    n_samples = _check_int("n_samples", n_samples, n_classes)
    noise = _check_float("noise", noise)
    turns = _check_float("turns", turns, 0.0, strict=True)
    rng = np.random.default_rng(seed)
    sizes = _split(n_samples, n_classes)
    radius = np.concatenate([np.linspace(0, 1, size) for size in sizes])
    y = np.repeat(np.arange(n_classes), sizes)
    angle = 2 * math.pi * (turns * radius + y / n_classes) + noise * rng.standard_normal(n_samples)
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _classification(x, y, rng, dtype)


def make_xor(n_samples=300, noise=0.3, seed=None, dtype=None):
    """Four Gaussian clusters of std ``noise`` centered on (+-1, +-1); the label is the XOR of the signs:
    class 0 for (1, 1) and (-1, -1), class 1 for (1, -1) and (-1, 1). Not linearly separable.
    Shape: ``x`` ``(n_samples, 2)``, ``y`` ``(n_samples,)`` in {0, 1}.
    """
    n_samples = _check_int("n_samples", n_samples, 4)
    noise = _check_float("noise", noise)
    rng = np.random.default_rng(seed)
    centers = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
    sizes = _split(n_samples, 4)
    x = np.repeat(centers, sizes, axis=0) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1, 0, 1], sizes)
    return _classification(x, y, rng, dtype)


def make_linearly_separable(n_samples=300, n_features=2, margin=0.5, seed=None, dtype=None):
    """Two Gaussian classes separated by a random hyperplane with an empty gap of width ``margin``.

    Points are drawn from a standard normal; along the hyperplane's normal ``w`` (a random unit vector)
    each point is pushed to its class's side, at distance at least ``margin / 2`` from the plane
    ``w . x = b`` (``b`` uniform in [-1, 1]).
    Shape: ``x`` ``(n_samples, n_features)``, ``y`` ``(n_samples,)`` in {0, 1}.
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    n_features = _check_int("n_features", n_features, 1)
    margin = _check_float("margin", margin)
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal(n_features)
    normal /= np.linalg.norm(normal)
    offset = rng.uniform(-1.0, 1.0)
    y = np.repeat([0, 1], _split(n_samples, 2))
    x = rng.standard_normal((n_samples, n_features))
    along = x @ normal
    side = np.where(y == 1, 1.0, -1.0)
    x += np.outer(side * (np.abs(along) + margin / 2) + offset - along, normal)
    return _classification(x, y, rng, dtype)


def make_regression(n_samples=300, n_features=1, noise=0.1, seed=None, dtype=None):
    """A linear target plus Gaussian noise: ``y = x @ w + b + noise * N(0, 1)``.

    ``x`` is standard normal; ``w`` (uniform in [-2, 2] per feature) and ``b`` (uniform in [-1, 1]) are
    random and not returned. Shape: ``x`` ``(n_samples, n_features)``, ``y`` ``(n_samples, 1)``.
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_features = _check_int("n_features", n_features, 1)
    noise = _check_float("noise", noise)
    rng = np.random.default_rng(seed)
    weight = rng.uniform(-2.0, 2.0, n_features)
    bias = rng.uniform(-1.0, 1.0)
    x = rng.standard_normal((n_samples, n_features))
    y = x @ weight + bias + noise * rng.standard_normal(n_samples)
    return _regression(x, y, dtype)


def make_sine(n_samples=300, noise=0.1, seed=None, dtype=None):
    """One period of a sine: ``x`` uniform in [0, 1), ``y = sin(2 pi x) + noise * N(0, 1)``.

    Shape: ``x`` ``(n_samples, 1)``, ``y`` ``(n_samples, 1)``.
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    noise = _check_float("noise", noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, n_samples)
    y = np.sin(2 * math.pi * x) + noise * rng.standard_normal(n_samples)
    return _regression(x[:, None], y, dtype)


def make_heteroscedastic(n_samples=300, outlier_fraction=0.05, seed=None, dtype=None):
    """A line whose noise grows with ``x``, plus a few large outliers: where L1 and MSE fits differ.

    ``x`` is uniform in [0, 10); ``y = 0.5 x + 1 + (0.1 + 0.2 x) * N(0, 1)``; a fraction
    ``outlier_fraction`` of the points (at least one when it is > 0) gets ``y`` raised by 20 to 40. The
    outliers all lie above the line, so a least-squares (MSE) fit is pulled up while a least-absolute
    (L1, median) fit stays close to ``0.5 x + 1``. Shape: ``x`` ``(n_samples, 1)``, ``y`` ``(n_samples, 1)``.
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    outlier_fraction = _check_float("outlier_fraction", outlier_fraction, 0.0, 0.5)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 10.0, n_samples)
    y = 0.5 * x + 1.0 + (0.1 + 0.2 * x) * rng.standard_normal(n_samples)
    n_outliers = math.ceil(outlier_fraction * n_samples)
    outliers = rng.choice(n_samples, size=n_outliers, replace=False)
    y[outliers] += rng.uniform(20.0, 40.0, n_outliers)
    return _regression(x[:, None], y, dtype)
