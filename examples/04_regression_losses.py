"""Example 4: regression, and how the loss decides what "best fit" means.

The data: a line ``y = 0.5 x + 1`` whose noise grows with ``x``, plus 5% outliers pushed 20 to 40
above it. One Linear(1, 1) is fitted three times, with three losses:

- ``MSELoss`` (squared error) averages the squares: an outlier 30 above the line weighs as much as
  900 points 1 above it, so the line is pulled up towards the outliers (it estimates the mean);
- ``L1Loss`` (absolute error) grows only linearly: the line stays with the bulk of the data (it
  estimates the median);
- ``HuberLoss`` is squared near 0 and linear beyond ``delta=1``: smooth like MSE, robust like L1.

A second part fits a sine with a small tanh MLP: regression with a non-linear model is the same
``fit`` call with a regression loss.

    python examples/04_regression_losses.py [--quick] [--out DIR]

Saves ``losses.png`` (the three fits, prediction vs truth, residuals) and ``sine.png`` in ``--out``.
"""

import argparse
import os

import ownnet as on
from ownnet import plot


def parse_args(argv, name):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run (for the tests)")
    parser.add_argument("--out", default=os.path.join("runs", "examples", name), help="where figures go")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv, "04_regression_losses")
    os.makedirs(args.out, exist_ok=True)
    n_samples, epochs = (200, 60) if args.quick else (400, 200)

    x, y = on.datasets.make_heteroscedastic(n_samples, outlier_fraction=0.05, seed=0)
    losses = {"MSELoss": on.MSELoss(), "L1Loss": on.L1Loss(), "HuberLoss": on.HuberLoss(delta=1.0)}
    predictions, lines = {}, {}
    print(f"{'loss':<10} {'slope':>7} {'intercept':>9}   (the line without outliers: slope 0.5, intercept 1)")
    for name, loss in losses.items():
        on.manual_seed(0)
        model = on.Sequential(on.Linear(1, 1))
        on.fit(model, loss, on.Adam(model.parameters(), lr=0.05), x, y, epochs=epochs, batch_size=32,
               metrics=(), seed=0, verbose=False)
        slope, intercept = float(model[0].weight.data[0, 0]), float(model[0].bias.data[0])
        lines[name] = (slope, intercept)
        predictions[name] = on.predict(model, x)
        print(f"{name:<10} {slope:7.3f} {intercept:9.3f}")
    plot.regression_fit(y, predictions, x=x, title="one Linear layer, three losses, data with outliers",
                        path=os.path.join(args.out, "losses.png"))

    x_sine, y_sine = on.datasets.make_sine(n_samples, noise=0.1, seed=0)
    on.manual_seed(0)
    model = on.mlp([1, 32, 32, 1], activation="tanh")
    on.fit(model, on.MSELoss(), on.Adam(model.parameters(), lr=0.01), x_sine, y_sine, epochs=epochs,
           batch_size=32, metrics=(), seed=0, verbose=False)
    fitted = on.predict(model, x_sine)
    sine_r2, sine_mse = on.r2_score(y_sine, fitted), on.mean_squared_error(y_sine, fitted)
    print(f"MLP 1-32-32-1 (tanh) on a sine: R^2 {sine_r2:.4f}, MSE {sine_mse:.4f} (noise variance 0.01)")
    plot.regression_fit(y_sine, {"MLP": fitted}, x=x_sine, title="an MLP fits a sine",
                        path=os.path.join(args.out, "sine.png"))
    return {"lines": lines, "sine_r2": sine_r2, "out": args.out}


if __name__ == "__main__":
    main()
