"""``History``: what ``fit`` returns — per-epoch lists of every logged number."""

import json

from ownnet.files import atomic_write


class History:
    """Per-epoch lists: ``history["loss"]``, ``history["val_accuracy"]``, ``history["seconds"]``, ...

    ``history.epochs`` is the list of epoch numbers (1-based). Save with ``history.save(path)``
    (JSON), read back with ``History.load(path)``.
    """

    def __init__(self, records=None):
        self.history = {key: list(values) for key, values in (records or {}).items()}

    def append(self, logs):
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    @property
    def epochs(self):
        return self.history.get("epoch", [])

    def __len__(self):
        return len(self.epochs)

    def to_dict(self):
        return {key: list(values) for key, values in self.history.items()}

    def save(self, path):
        with atomic_write(path) as f:
            f.write(json.dumps(self.to_dict(), indent=1).encode())
        return str(path)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def __repr__(self):
        last = {key: values[-1] for key, values in self.history.items() if values}
        return f"History({len(self)} epochs, last={last})"
