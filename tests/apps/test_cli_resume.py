"""``ownnet train --resume`` continues the run in ``--out`` and nothing else (issue 17, defect 1): the
flags left out are the checkpoint's, a flag that differs is refused in one line naming it, a folder
without a checkpoint is an error; ``--out`` is checked to be writable before training starts."""

import json

import numpy as np
import pytest

from ownnet.apps import recipes
from ownnet.apps.cli import main
from ownnet.io import load, read_tensors, write_tensors
from ownnet.train.checkpoint import CheckpointMismatchError

BASE = ["--dataset", "xor", "--hidden", "8", "--lr", "0.1", "--schedule", "none", "--quiet"]


def _train(capsys, *argv):
    """``ownnet train argv``: (exit code, stdout, stderr)."""
    code = main(["train", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _refused(capsys, *argv):
    """The command fails in one line (exit 2, no traceback); returns the line."""
    code, _, err = _train(capsys, *argv)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def _checkpoint_file(out):
    return out / "checkpoint" / "checkpoint.safetensors"


def test_resume_alone_continues_the_run_with_its_own_settings(tmp_path, capsys):
    out, full = tmp_path / "run", tmp_path / "full"
    assert _train(capsys, *BASE, "--epochs", 2, "--out", out)[0] == 0
    assert _train(capsys, "--out", out, "--resume", "--epochs", 4, "--quiet")[0] == 0
    assert _train(capsys, *BASE, "--epochs", 4, "--out", full)[0] == 0  # never interrupted
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["history"]["epoch"] == [1, 2, 3, 4]
    assert resumed["config"] == json.loads((full / "metrics.json").read_text())["config"]
    assert resumed["config"]["hidden"] == [8] and resumed["config"]["lr"] == 0.1
    resumed_model, full_model = load(out / "model.safetensors"), load(full / "model.safetensors")
    for a, b in zip(resumed_model.parameters(), full_model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    # the same flags again are no difference; the run is complete, nothing more to train
    code, stdout, _ = _train(capsys, *BASE, "--epochs", 4, "--out", out, "--resume")
    assert code == 0 and stdout.startswith("test_accuracy=")


def test_the_issues_reproduction_another_runs_out_is_refused(tmp_path, capsys):
    out = tmp_path / "runA"
    assert _train(capsys, "--dataset", "xor", "--hidden", 16, "--epochs", 3, "--out", out, "--quiet")[0] == 0
    before = _checkpoint_file(out).read_bytes()
    err = _refused(capsys, "--dataset", "moons", "--hidden", 16, "--epochs", 6, "--out", out, "--resume")
    assert "--dataset: checkpoint xor, given moons" in err
    assert "--epochs: checkpoint 3, given 6 (the cosine schedule is fitted to the number of epochs)" in err
    assert "--hidden" not in err and "another --out" in err and str(out) in err
    assert _checkpoint_file(out).read_bytes() == before


@pytest.mark.parametrize("flag, value, words", [
    ("--lr", 0.05, "--lr: checkpoint 0.1, given 0.05"),
    ("--momentum", 0.5, "--momentum: checkpoint 0.9, given 0.5"),
    ("--weight-decay", 0.01, "--weight-decay: checkpoint 0.0, given 0.01"),
    ("--seed", 7, "--seed: checkpoint 0, given 7"),
    ("--activation", "tanh", "--activation: checkpoint relu, given tanh"),
    ("--schedule", "cosine", "--schedule: checkpoint none, given cosine"),
    ("--hidden", "16,8", "--hidden: checkpoint 8, given 16,8"),
    ("--batch-size", 64, "--batch-size: checkpoint 128, given 64"),
    ("--dtype", "float64", "--dtype: checkpoint float32, given float64"),
    ("--recipe", "default", "--recipe (hidden): checkpoint 8, given 512,256"),
])
def test_a_flag_that_differs_from_the_checkpoint_is_refused(tmp_path, capsys, flag, value, words):
    out = tmp_path / "run"
    assert _train(capsys, *BASE, "--epochs", 2, "--out", out)[0] == 0
    err = _refused(capsys, "--out", out, "--resume", "--epochs", 3, flag, value)
    assert words in err and "leave these flags out" in err


def test_epochs_may_not_change_with_a_schedule_fitted_to_them(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(capsys, "--dataset", "xor", "--hidden", 8, "--epochs", 2, "--schedule", "step",
                  "--out", out, "--quiet")[0] == 0
    assert "the step schedule is fitted" in _refused(capsys, "--out", out, "--resume", "--epochs", 5)
    assert _train(capsys, "--out", out, "--resume", "--quiet")[0] == 0  # the same epochs: fine


def test_epochs_below_those_done_are_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(capsys, *BASE, "--epochs", 3, "--out", out)[0] == 0
    err = _refused(capsys, "--out", out, "--resume", "--epochs", 2)
    assert "--epochs: checkpoint 3, given 2 (the checkpoint is after epoch 3)" in err


def test_resume_without_a_checkpoint_names_the_folder(tmp_path, capsys):
    out = tmp_path / "typo"
    err = _refused(capsys, *BASE, "--out", out, "--resume")
    assert f"no checkpoint in {out}" in err
    assert not out.exists()


def _rewrite_checkpoint(out, **changes):
    path = _checkpoint_file(out)
    tensors, metadata = read_tensors(path)
    metadata.update(changes)
    write_tensors(path, tensors, {key: value for key, value in metadata.items() if value is not None})


@pytest.mark.parametrize("changes, words", [
    ({"epoch": "-3"}, "field 'epoch' must be an integer from 0"),
    ({"history": '"oops"'}, "field 'history' must be an object"),
    ({"run": None}, "does not record the run's settings"),
])
def test_a_malformed_checkpoint_is_one_line(tmp_path, capsys, changes, words):
    out = tmp_path / "run"
    assert _train(capsys, *BASE, "--epochs", 2, "--out", out)[0] == 0
    _rewrite_checkpoint(out, **changes)
    assert words in _refused(capsys, "--out", out, "--resume")


def _recorded_run(out):
    return json.loads(read_tensors(_checkpoint_file(out))[1]["run"])


def test_a_recorded_config_that_asks_for_more_than_the_file_holds_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(capsys, *BASE, "--epochs", 2, "--out", out)[0] == 0
    run = _recorded_run(out)
    run["config"]["hidden"] = [100_000, 100_000]  # 10**10 weights claimed by a file of a few kB
    _rewrite_checkpoint(out, run=json.dumps(run))
    assert "need 10,000,400,000 weights, the checkpoint holds" in _refused(capsys, "--out", out, "--resume")
    run["config"]["lr"] = "fast"
    _rewrite_checkpoint(out, run=json.dumps(run))
    assert "invalid recorded configuration lr='fast'" in _refused(capsys, "--out", out, "--resume")
    run["config"] = None  # a checkpoint that fit() wrote
    _rewrite_checkpoint(out, run=json.dumps(run))
    assert "records no ownnet train configuration" in _refused(capsys, "--out", out, "--resume")


def test_an_unwritable_out_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    code, stdout, err = _train(capsys, "--dataset", "xor", "--hidden", 8, "--epochs", 2,
                               "--out", tmp_path / "file" / "run")
    assert code == 2 and "cannot write into the output folder" in err and len(err.strip().splitlines()) == 1
    assert stdout == ""  # not a line of training before it


def test_train_from_config_refuses_another_config_on_resume(tmp_path):
    config = recipes.config_for(dataset="xor", hidden=[8], epochs=2, schedule="none")
    recipes.train_from_config(config, out=str(tmp_path), verbose=False)
    with pytest.raises(CheckpointMismatchError, match=r"dataset: checkpoint 'xor', this run 'moons'"):
        recipes.train_from_config({**config, "dataset": "moons"}, out=str(tmp_path), resume=True,
                                  verbose=False)
    _, history, _ = recipes.train_from_config({**config, "epochs": 3, "hidden": (8,)}, out=str(tmp_path),
                                              resume=True, verbose=False)
    assert history.epochs == [1, 2, 3]


def test_resume_may_move_to_another_device():
    """The device is where a run computes, not what it computes: it may change on resume."""
    from ownnet.apps import recipes

    saved = recipes.config_for("default", dataset="xor", epochs=3)
    assert recipes.resume_differences(saved, {**saved, "device": "gpu"}, 2) == []
    assert [key for key, *_ in recipes.resume_differences(saved, {**saved, "lr": 0.5}, 2)] == ["lr"]
