"""ownnet.plot: every function renders without a display (Agg), returns the Figure, saves a PNG, and
draws what it claims (checked on the figure's artists)."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import ownnet as on  # noqa: E402
from ownnet import plot  # noqa: E402
from ownnet.train.history import History  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def renders(fig):
    """The figure draws on an Agg canvas (no display) and is a matplotlib Figure."""
    assert isinstance(fig, Figure)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    width, height = canvas.get_width_height()
    assert width > 100 and height > 100
    return fig


def saved_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 2000
    return True


def a_history(epochs=4, validation=True):
    history = History()
    for epoch in range(1, epochs + 1):
        logs = {"epoch": epoch, "loss": 1.0 / epoch, "accuracy": 0.5 + 0.1 * epoch, "lr": 0.1, "seconds": 1.0}
        if validation:
            logs.update({"val_loss": 1.2 / epoch, "val_accuracy": 0.45 + 0.1 * epoch})
        history.append(logs)
    return history


def linear_model(weight, bias):
    """A Linear(2, k) with the given weights: its boundaries are known exactly."""
    model = on.Sequential(on.Linear(2, len(bias)))
    model[0].weight.data[...] = np.asarray(weight, dtype=np.float32)
    model[0].bias.data[...] = np.asarray(bias, dtype=np.float32)
    return model


def contour_lines(ax):
    sets = [c for c in ax.collections if isinstance(c, ContourSet) and not c.filled]
    assert len(sets) == 1
    return sets[0]


def test_training_curves_plot_every_logged_series(tmp_path):
    fig = renders(plot.training_curves(a_history(), path=tmp_path / "curves.png"))
    loss_ax, metric_ax = fig.axes
    assert sorted(line.get_label() for line in loss_ax.lines) == ["loss", "val_loss"]
    assert sorted(line.get_label() for line in metric_ax.lines) == ["accuracy", "val_accuracy"]
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [1, 1 / 2, 1 / 3, 1 / 4])
    assert saved_png(tmp_path / "curves.png")
    renders(plot.training_curves(a_history(validation=False).to_dict()))


def test_training_curves_compare_named_runs():
    fig = renders(plot.training_curves({"plain": a_history(), "residual": a_history(6)}))
    labels = sorted(line.get_label() for line in fig.axes[0].lines)
    assert labels == ["plain: loss", "plain: val_loss", "residual: loss", "residual: val_loss"]


def test_decision_boundary_of_a_sigmoid_output_is_the_line_where_the_logit_is_zero(tmp_path):
    x = np.random.default_rng(0).uniform(-2, 2, size=(100, 2))
    y = (x[:, 0] > 0.5).astype(np.int64)
    model = linear_model([[1.0], [0.0]], [-0.5])  # logit = x0 - 0.5: boundary x0 = 0.5
    fig = renders(plot.decision_boundary(model, x, y, path=tmp_path / "boundary.png"))
    lines = contour_lines(fig.axes[0])
    assert list(lines.levels) == [0.1, 0.25, 0.5, 0.75, 0.9]
    boundary = np.concatenate(lines.allsegs[2])
    np.testing.assert_allclose(boundary[:, 0], 0.5, atol=0.05)
    # P(1) = 0.9 where the logit is log(9)
    np.testing.assert_allclose(np.concatenate(lines.allsegs[4])[:, 0], 0.5 + np.log(9), atol=0.05)
    assert saved_png(tmp_path / "boundary.png")


def test_decision_boundary_multiclass_regions_and_legend():
    x = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    y = np.array([0, 1, 2, 2])
    model = linear_model([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]], [0.0, 0.0, 0.0])
    fig = renders(plot.decision_boundary(model, x, y, resolution=50, class_names=["east", "west", "north"]))
    ax = fig.axes[0]
    filled = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    assert len(filled) == 1 and len(filled[0].levels) == 4  # three class regions
    assert list(contour_lines(ax).levels) == [0.5, 0.7, 0.9]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert {"east", "west", "north"} <= set(legend)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_decision_boundary_side_by_side_and_sklearn_estimators():
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    from ownnet.sklearn import MLPClassifier

    x, y = on.datasets.make_moons(120, seed=0)
    names = np.array(["top", "bottom"])[y]
    estimator = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(x, names)
    fig = renders(plot.decision_boundary({"linear": linear_model([[1.0], [0.0]], [0.0]), "mlp": estimator},
                                         x, y, resolution=40))
    assert [ax.get_title() for ax in fig.axes] == ["linear", "mlp"]
    fig = renders(plot.decision_boundary(estimator, x, names, resolution=40))
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert {"top", "bottom"} <= set(legend)


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((5, 3)), np.zeros(5, dtype=int), "x"),
    (np.zeros((5, 2)), np.zeros(4, dtype=int), "y"),
])
def test_decision_boundary_rejects_bad_inputs(x, y, match):
    with pytest.raises(ValueError, match=match):
        plot.decision_boundary(linear_model([[1.0], [0.0]], [0.0]), x, y)


def test_decision_boundary_needs_a_model_with_probabilities():
    with pytest.raises(TypeError, match="model"):
        plot.decision_boundary(object(), np.zeros((3, 2)), np.zeros(3, dtype=int))


def test_max_abs_weight_one_line_per_layer(tmp_path):
    values = [[0.5, 0.3], [0.7, 0.35], [0.9, 0.4]]
    fig = renders(plot.max_abs_weight(values, layer_names=["hidden", "output"], path=tmp_path / "w.png"))
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["hidden", "output"]
    np.testing.assert_allclose(lines[0].get_ydata(), [0.5, 0.7, 0.9])
    np.testing.assert_allclose(lines[1].get_xdata(), [1, 2, 3])
    assert saved_png(tmp_path / "w.png")


def test_max_abs_weight_takes_a_weight_monitor():
    from ownnet.apps.lab import WeightMonitor

    x, y = on.datasets.make_blobs(60, seed=0)
    model = on.mlp([2, 8, 3])
    monitor = WeightMonitor(x, y)
    on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=3, verbose=False,
           callbacks=[monitor])
    fig = renders(plot.max_abs_weight(monitor))
    assert [line.get_label() for line in fig.axes[0].lines] == ["W1", "W2"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), np.array(monitor.max_abs_weight)[:, 0])


@pytest.mark.parametrize("values, names", [([[1.0, 2.0], [1.0]], None), ([], None), ([[1.0, 2.0]], ["a"])])
def test_max_abs_weight_rejects_ragged_or_mislabelled_tables(values, names):
    with pytest.raises(ValueError, match="values|layer_names"):
        plot.max_abs_weight(values, layer_names=names)


def test_regression_fit_panels_and_residuals(tmp_path):
    x = np.linspace(0, 1, 50).reshape(-1, 1)
    y_true = 2 * x + 1
    y_pred = 2 * x + 1.5
    fig = renders(plot.regression_fit(y_true, y_pred, x=x, path=tmp_path / "fit.png"))
    assert [ax.get_title() for ax in fig.axes] == ["fit", "prediction vs truth", "residuals"]
    residuals = fig.axes[2].collections[0].get_offsets()
    np.testing.assert_allclose(residuals[:, 1], -0.5)  # y_true - y_pred
    np.testing.assert_allclose(residuals[:, 0], y_pred.ravel())
    assert saved_png(tmp_path / "fit.png")


def test_regression_fit_compares_named_predictions_without_x():
    y_true = np.arange(10.0)
    fig = renders(plot.regression_fit(y_true, {"mse": y_true + 1, "l1": y_true - 1}))
    assert len(fig.axes) == 2
    assert [c.get_label() for c in fig.axes[0].collections] == ["mse", "l1"]
    with pytest.raises(ValueError, match="y_pred"):
        plot.regression_fit(y_true, y_true[:5])
    with pytest.raises(ValueError, match="x"):
        plot.regression_fit(y_true, y_true, x=np.zeros((3, 1)))


def test_first_layer_weights_one_image_per_unit_centred_on_zero(tmp_path):
    on.manual_seed(0)
    model = on.mlp([784, 12, 10])
    fig = renders(plot.first_layer_weights(model, columns=6, path=tmp_path / "weights.png"))
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 12
    weight = model[0].weight.data
    np.testing.assert_allclose(images[3].get_array(), weight[:, 3].reshape(28, 28))
    low, high = images[3].get_clim()
    assert low == -high == pytest.approx(-np.abs(weight[:, 3]).max())
    assert saved_png(tmp_path / "weights.png")
    assert len([ax for ax in plot.first_layer_weights(model, max_images=5).axes if ax.images]) == 5


def test_first_layer_weights_checks_the_image_shape():
    with pytest.raises(ValueError, match="784"):
        plot.first_layer_weights(on.mlp([100, 4]))
    renders(plot.first_layer_weights(np.ones((64, 3)), shape=(8, 8)))


def test_confusion_matrix_and_image_grid_still_work(tmp_path):
    matrix = np.array([[5, 1], [2, 7]])
    fig = renders(plot.confusion_matrix(matrix, class_names=["no", "yes"], path=tmp_path / "cm.png"))
    assert sorted(text.get_text() for text in fig.axes[0].texts) == ["1", "2", "5", "7"]
    assert saved_png(tmp_path / "cm.png")
    images = np.random.default_rng(0).random((7, 784))
    fig = renders(plot.image_grid(images, titles=list("abcdefg"), columns=4))
    assert len(fig.axes) == 8 and sum(bool(ax.images) for ax in fig.axes) == 7


def test_no_pyplot_figure_is_left_open():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot.training_curves(a_history())
    plot.max_abs_weight([[1.0]])
    assert plt.get_fignums() == before


def test_missing_matplotlib_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"ownnet\[plot\]"):
        plot.max_abs_weight([[1.0]])
