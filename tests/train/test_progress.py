"""fit's progress display: the epoch line (EpochLine) and, on a terminal with tqdm, a bar (ProgressBar)."""

import io
import sys

import numpy as np
import pytest

import ownnet as on
from ownnet.train.progress import EpochLine, ProgressBar, progress_callbacks


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _logs(epoch):
    return {"epoch": epoch, "loss": 0.5, "accuracy": 0.75, "lr": 0.1, "seconds": 2.0,
            "samples_per_second": 500.0}


LINE = "loss 0.5000  accuracy 0.7500  lr 0.1  2.00 s  500 samples/s\n"


def test_quiet_shows_nothing_and_a_pipe_gets_only_the_epoch_lines(monkeypatch, capsys):
    assert progress_callbacks(False, 3, 10) == []
    (line,) = progress_callbacks(True, 3, 10)
    assert type(line) is EpochLine  # stderr is not a terminal here: no per-batch work at all
    line.on_epoch_end(2, _logs(2))
    assert capsys.readouterr().err == "epoch 2/3  " + LINE


def test_the_bar_shows_the_running_loss_and_ends_with_the_epoch_line(monkeypatch):
    pytest.importorskip("tqdm")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    (bar,) = progress_callbacks(True, 1, 30)
    assert type(bar) is ProgressBar
    bar.on_epoch_begin(1)
    losses = np.linspace(1.0, 0.1, 30)
    for step, loss in enumerate(losses, 1):
        bar.on_batch_end(step, {"loss": float(loss), "batch_size": 4})
    assert bar.progress.bar.n == 30
    assert bar.progress.bar.postfix == f"loss={losses[:25].mean():.4f}"  # refreshed at step 25
    bar.on_epoch_end(1, _logs(1))
    assert terminal.getvalue().endswith("epoch 1/1  " + LINE)


def test_without_the_batch_loss_the_bar_only_counts(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = ProgressBar(1, 30)
    bar.on_epoch_begin(1)
    for step in range(1, 27):
        bar.on_batch_end(step, {"loss": None, "batch_size": 4})  # the GPU runner does not read it
    assert bar.progress.bar.n == 26 and not bar.progress.bar.postfix


def test_fit_on_a_terminal_draws_the_bar(monkeypatch):
    pytest.importorskip("tqdm")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    model = on.mlp([3, 4, 2])
    on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, (x[:, 0] > 0) * 1,
           epochs=2, batch_size=16, verbose=True)
    text = terminal.getvalue()
    assert "epoch 1/2:" in text and "0/4 [" in text  # the bar
    assert "epoch 1/2  loss" in text and "epoch 2/2  loss" in text


def test_jupyter_gets_the_bar_although_stderr_is_no_terminal(monkeypatch):
    pytest.importorskip("tqdm")
    import types

    from ownnet.train import progress

    class Shell:
        config = {"IPKernelApp": {}}  # what a Jupyter kernel's IPython has

    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: Shell()))
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # an ipykernel stream is no terminal either
    assert progress.in_notebook()
    (bar,) = progress_callbacks(True, 1, 10)
    assert type(bar) is ProgressBar
    bar.on_epoch_begin(1)
    bar.on_batch_end(1, {"loss": 0.5, "batch_size": 4})
    assert bar.progress.bar is not None and bar.progress.bar.n == 1
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))  # a console
    assert not progress.in_notebook()
    assert type(progress_callbacks(True, 1, 10)[0]) is EpochLine
