"""``TrainingMonitor``: the numbers the dashboard shows, written by the training thread and read by
the server's threads (under one lock; each write is a few list appends, so training does not wait).
"""

import base64
import threading
import time

import numpy as np

from ownnet.apps.serve.predictor import N_PIXELS


def first_layer_weights(model):
    """The first ``(784, units)`` weight matrix of ``model`` (a ``Linear`` on 28x28 inputs), or None."""
    for name, parameter in model.named_parameters():
        if name.rsplit(".", 1)[-1] == "weight" and parameter.data.ndim == 2 \
                and parameter.data.shape[0] == N_PIXELS:
            return parameter.data
    return None


class TrainingMonitor:
    """Per-batch losses, probe accuracies, per-epoch logs and a copy of the first-layer weights.

    ``snapshot(since)`` returns what the page needs as JSON-ready data: the batch losses from index
    ``since`` on (the page asks only for what it has not seen), all probes and epochs (few).
    """

    def __init__(self, epochs=None, max_tiles=64):
        self.lock = threading.Lock()
        self.status = "waiting"            # "waiting" -> "training" -> "finished" (or "stopped")
        self.epochs = epochs               # planned epochs, if known
        self.epoch = 0
        self.step = 0                      # batches seen since training started
        self.steps_per_epoch = None        # known after the first epoch
        self.batches = []                  # [step, loss]
        self.probes = []                   # [step, accuracy on the probe set]
        self.epoch_logs = []               # {"epoch", "step", "loss", "accuracy", "val_loss", ...}
        self.started = None
        self.max_tiles = max_tiles
        self._tiles = None                 # (tiles, 784) float32, a copy
        self.weights_version = 0

    # --- written by the training thread ------------------------------------------------------------
    def begin(self):
        with self.lock:
            self.status, self.started = "training", time.time()

    def add_batch(self, loss):
        with self.lock:
            self.step += 1
            self.batches.append([self.step, float(loss)])

    def add_probe(self, accuracy, weights):
        """A probe accuracy (or None) and the current first-layer weights (or None), copied here."""
        tiles = None
        if weights is not None:
            tiles = np.array(weights[:, : self.max_tiles].T, dtype=np.float32)
        with self.lock:
            if accuracy is not None:
                self.probes.append([self.step, float(accuracy)])
            if tiles is not None:
                self._tiles = tiles
                self.weights_version += 1

    def end_epoch(self, epoch, logs):
        numbers = {key: float(value) for key, value in logs.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool)}
        with self.lock:
            self.epoch = epoch
            if self.steps_per_epoch is None and epoch == 1:
                self.steps_per_epoch = self.step
            self.epoch_logs.append({**numbers, "epoch": epoch, "step": self.step})

    def finish(self, status="finished"):
        with self.lock:
            self.status = status

    # --- read by the server ---------------------------------------------------------------------------
    def snapshot(self, since=0):
        with self.lock:
            return {"status": self.status, "epoch": self.epoch, "epochs": self.epochs, "step": self.step,
                    "steps_per_epoch": self.steps_per_epoch, "since": since,
                    "batches": self.batches[since:], "probes": list(self.probes),
                    "epoch_logs": list(self.epoch_logs), "weights_version": self.weights_version,
                    "elapsed": None if self.started is None else time.time() - self.started}

    def weight_tiles(self):
        """``{"version", "tiles", "side": 28, "data": base64 int8 (tiles*784), "scale": [max |w|]}``:
        each tile is one hidden unit's weights, scaled by its own largest magnitude to -127..127."""
        with self.lock:
            tiles, version = self._tiles, self.weights_version
        if tiles is None:
            return {"version": version, "tiles": 0, "side": 28, "data": "", "scale": []}
        scale = np.abs(tiles).max(axis=1)
        scaled = tiles / np.where(scale > 0, scale, 1.0)[:, None]
        data = np.rint(scaled * 127).astype(np.int8)
        return {"version": version, "tiles": int(len(tiles)), "side": 28,
                "data": base64.b64encode(data.tobytes()).decode("ascii"),
                "scale": [round(float(s), 6) for s in scale]}
