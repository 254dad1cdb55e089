"""Every script in examples/ runs in quick mode, saves its figures, and shows what it is there to show.

The scripts run in this process (``runpy``), so Python, NumPy and matplotlib start once for all.
"""

import runpy
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FIGURES = {
    "01_perceptron_two_classes": ["boundary.png", "curves.png"],
    "02_softmax_multiclass": ["boundary.png", "confusion.png", "curves.png"],
    "03_not_linearly_separable": ["boundaries.png", "curves.png"],
    "04_regression_losses": ["losses.png", "sine.png"],
    "05_mnist": ["curves.png", "confusion.png", "first_layer.png", "max_abs_weight.png", "mistakes.png"],
    "06_residual_concat": ["curves.png", "boundaries.png"],
    "07_sklearn_estimators": ["fit.png", "comparison.json"],
    "08_gpu": ["curves.png", "comparison.json"],
}


def run_quick(name, out):
    main = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")["main"]
    result = main(["--quick", "--out", str(out)])
    for figure in FIGURES[name]:
        path = out / figure
        assert path.is_file() and path.stat().st_size > 100, f"{name} did not save {figure}"
    return result


def test_every_example_is_tested():
    assert sorted(path.stem for path in EXAMPLES.glob("[0-9][0-9]_*.py")) == sorted(FIGURES)


def test_01_one_layer_separates_linearly_separable_classes(tmp_path, capsys):
    result = run_quick("01_perceptron_two_classes", tmp_path)
    assert result["train_accuracy"] > 0.95 and result["test_accuracy"] > 0.95
    assert "decision boundary:" in capsys.readouterr().out


def test_02_softmax_separates_four_blobs(tmp_path):
    result = run_quick("02_softmax_multiclass", tmp_path)
    assert result["test_accuracy"] > 0.9
    assert result["confusion_matrix"].shape == (4, 4) and result["confusion_matrix"].sum() == 50


def test_03_linear_stays_near_chance_while_the_mlp_fits_the_spirals(tmp_path):
    result = run_quick("03_not_linearly_separable", tmp_path)
    assert result["linear_accuracy"] < 0.5
    assert result["mlp_accuracy"] > 0.95


def test_04_l1_and_huber_ignore_the_outliers_that_pull_mse_up(tmp_path):
    result = run_quick("04_regression_losses", tmp_path)
    intercepts = {name: line[1] for name, line in result["lines"].items()}
    assert intercepts["MSELoss"] > 2.0  # the true line has intercept 1; the outliers lie above it
    assert abs(intercepts["L1Loss"] - 1.0) < 0.3 and abs(intercepts["HuberLoss"] - 1.0) < 0.4
    assert result["sine_r2"] > 0.8


@pytest.mark.slow
def test_05_mnist(tmp_path, mnist_dir):
    result = run_quick("05_mnist", tmp_path)
    assert result["test_accuracy"] > 0.75  # 2000 training images, 2 epochs
    assert len(result["max_abs_weight"]) == 2 and len(result["max_abs_weight"][0]) == 2


def test_06_residual_network_learns_where_the_plain_one_is_stuck(tmp_path):
    result = run_quick("06_residual_concat", tmp_path)
    assert result["residual_accuracy"] > 0.9
    assert result["plain_accuracy"] < 0.6
    assert result["curves"]["residual"][9] > result["curves"]["plain"][9] + 0.3  # after 10 epochs


def test_07_sklearn_estimators(tmp_path):
    pytest.importorskip("sklearn", minversion="1.6")
    result = run_quick("07_sklearn_estimators", tmp_path)
    ours = result["results"]["ownnet MLPRegressor (float32)"]
    theirs = result["results"]["sklearn MLPRegressor (float64)"]
    assert ours["r2"] > 0.2 and theirs["r2"] > 0.2
    assert ours["fit_time"] > 0 and theirs["fit_time"] > 0
    assert result["grid_best"]["hidden_layer_sizes"] in ([16], [64, 64])


def test_08_gpu_trains_the_same_model_on_every_device_there_is(tmp_path, capsys, mnist_dir):
    from ownnet import backend

    results = run_quick("08_gpu", tmp_path)
    expected = ["CPU"] + (["GPU, step by step", "GPU, captured step"] if backend.gpu_available() else [])
    assert list(results) == expected
    accuracies = [result["test_accuracy"] for result in results.values()]
    assert min(accuracies) > 0.8 and max(accuracies) - min(accuracies) < 0.01
    if len(expected) == 1:
        assert "no GPU here" in capsys.readouterr().out
