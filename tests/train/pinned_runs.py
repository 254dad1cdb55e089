"""The two runs whose results ``test_pinned.py`` pins: 2 epochs of ``ownnet train``'s default recipe
(784-512-256-10 ReLU, SGD lr 0.05 momentum 0.9, cosine schedule, batch 128, seed 0, float32) and the
same net with Adam (lr 1e-3). Written with the public API only, so that it outlives any reorganisation.

``python tests/train/pinned_runs.py > tests/train/pinned.json`` records the values anew (only when a
change of results is intended, and said so in the commit).
"""

import hashlib
import json
import os
import platform

import numpy as np

import ownnet as on

EPOCHS = 2
SAMPLES_PER_PARAMETER = 16


def run(optimizer_name):
    (x_train, y_train), (x_test, y_test) = on.datasets.load_mnist()
    on.manual_seed(0)
    model = on.mlp([784, 512, 256, 10], activation="relu")
    if optimizer_name == "sgd":
        optimizer = on.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        optimizer = on.Adam(model.parameters(), lr=1e-3)
    schedule = on.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    history = on.fit(model, on.CrossEntropyLoss(), optimizer, x_train, y_train, epochs=EPOCHS,
                     batch_size=128, validation_data=(x_test, y_test), schedule=schedule, seed=0,
                     verbose=False)
    return model, history


def summarize(model, history):
    """What is pinned: per parameter its sum, sum of squares and values at fixed places; the history's
    loss and accuracy values; a digest of all weights (checked exactly where the BLAS kernel matches)."""
    digest = hashlib.sha256()
    parameters = {}
    for name, value in model.state_dict().items():
        array = np.asarray(value)
        digest.update(array.tobytes())
        flat = array.reshape(-1).astype(np.float64)
        places = np.linspace(0, flat.size - 1, SAMPLES_PER_PARAMETER).astype(int)
        parameters[name] = {"shape": list(array.shape), "dtype": str(array.dtype), "sum": float(flat.sum()),
                            "sum_of_squares": float((flat * flat).sum()),
                            "places": places.tolist(), "values": flat[places].tolist()}
    keys = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")
    records = [{key: float(history[key][epoch]) for key in keys} for epoch in range(len(history))]
    return {"parameters": parameters, "history": records, "digest": digest.hexdigest()}


def blas_fingerprint():
    """The CPU model and the BLAS kernel that ran (threadpoolctl), with the environment that picks it."""
    try:
        from threadpoolctl import threadpool_info
        blas = [{key: info.get(key) for key in ("internal_api", "architecture", "num_threads", "version")}
                for info in threadpool_info() if info.get("user_api") == "blas"]
    except ImportError:
        blas = None
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                    if line.startswith("model name")), "")
    return {"cpu": cpu or platform.processor(), "numpy": np.__version__, "blas": blas,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}


if __name__ == "__main__":
    results = {name: summarize(*run(name)) for name in ("sgd", "adam")}
    print(json.dumps({"fingerprint": blas_fingerprint(), "runs": results}, indent=1))
