import json

import ownnet as on


def test_history_records_saves_and_loads(tmp_path):
    history = on.History()
    history.append({"epoch": 1, "loss": 0.5, "accuracy": 0.8})
    history.append({"epoch": 2, "loss": 0.25, "accuracy": 0.9})
    assert history.epochs == [1, 2] and len(history) == 2 and history["loss"] == [0.5, 0.25]
    path = history.save(tmp_path / "history.json")
    assert json.loads(open(path).read())["accuracy"] == [0.8, 0.9]
    assert on.History.load(path).to_dict() == history.to_dict()
    assert "2 epochs" in repr(history)
