"""The statistics over seeds that the report and its conclusions are made of: ``Stat`` (mean ± spread)
and ``summarize`` (every number a conclusion uses, for one configuration)."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stat:
    """A quantity measured once per seed: its mean, its spread (the sample standard deviation over the
    seeds; 0 for one seed) and the number of seeds."""

    mean: float
    spread: float
    n: int

    @classmethod
    def of(cls, values):
        values = np.asarray(values, dtype=np.float64)
        return cls(float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0, len(values))

    def text(self, digits=4):
        return f"{self.mean:.{digits}f}" + (f" ± {self.spread:.{digits}f}" if self.n > 1 else "")


def summarize(run):
    """The statistics of one configuration over its seeds (see ``conclusions`` for their use)."""
    seeds = run["seeds"]
    val = [s["history"]["val_accuracy"] for s in seeds]
    first_last_weight = [s["max_abs_weight"][-1][0] / s["max_abs_weight"][0][0] for s in seeds]
    first_grads = np.array([s["grad_norm"][0] for s in seeds])  # (seeds, layers) at epoch 1
    summary = {
        "name": run["name"], "activation": run["activation"], "layers": run["layers"],
        "val": Stat.of([v[-1] for v in val]), "first_val": Stat.of([v[0] for v in val]),
        "train": Stat.of([s["train_accuracy"][-1] for s in seeds]),
        "test": Stat.of([s["test_accuracy"] for s in seeds]),
        "gap": Stat.of([s["train_accuracy"][-1] - s["history"]["val_accuracy"][-1] for s in seeds]),
        "best_epoch": Stat.of([int(np.argmax(v)) + 1 for v in val]),
        "seconds": Stat.of([s["seconds"] for s in seeds]),
        "max_w": [Stat.of(column) for column in np.array([s["max_abs_weight"][-1] for s in seeds]).T],
        "weight_growth": Stat.of(first_last_weight),
        "first_grads": [Stat.of(column) for column in first_grads.T],
        "grad_ratio": Stat.of(first_grads[:, 0] / first_grads[:, -1]),
        "confidence": Stat.of([s["confidence"][-1] for s in seeds]),
        "overconfidence": Stat.of([s["confidence"][-1] - s["history"]["val_accuracy"][-1] for s in seeds]),
        "saturation_first": None, "saturation_last": None,
    }
    if seeds[0]["saturation"][0] is not None:
        summary["saturation_first"] = Stat.of([s["saturation"][0] for s in seeds])
        summary["saturation_last"] = Stat.of([s["saturation"][-1] for s in seeds])
    return summary
