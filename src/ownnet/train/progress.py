"""Progress display for ``fit``: a tqdm bar per epoch on a terminal or in Jupyter, one plain line per
epoch otherwise (a pipe, a log file).

Both are callbacks (``EpochLine``, ``ProgressBar``), as Keras' progress bar is: ``fit(verbose=True)``
puts one first in its list of callbacks (``progress_callbacks``).
"""

import sys

from ownnet.train.callbacks import Callback


def in_notebook():
    """True inside a Jupyter kernel (IPython running as ``IPKernelApp``), where stderr is no terminal but
    shows a bar all the same."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _tqdm(stream=None):
    """The tqdm class to draw with on ``stream`` (stderr by default), or None for no bar: tqdm's text
    bar on a terminal; in Jupyter its widget when ipywidgets is installed, else the text bar (which a
    notebook draws in place too); nothing on a pipe or without tqdm (``pip install ownnet[progress]``)."""
    stream = stream or sys.stderr
    notebook = in_notebook()
    if not (notebook or getattr(stream, "isatty", lambda: False)()):
        return None
    try:
        from tqdm.std import tqdm
    except ImportError:
        return None
    if notebook:
        try:
            import ipywidgets  # noqa: F401  (tqdm's widget needs it)
            from tqdm.notebook import tqdm
        except ImportError:
            pass
    return tqdm


class EpochProgress:
    """A bar over the batches of one epoch, showing the running loss/metric, throughput and ETA.

    The bar appears only when ``verbose`` is true, stderr is a terminal or this runs in Jupyter, and
    tqdm is installed (``pip install ownnet[progress]``); otherwise nothing is drawn and only the epoch
    line is printed.
    """

    REFRESH_EVERY = 25  # batches between postfix updates (formatting them costs more than a step)

    def __init__(self, epoch, epochs, total_batches, verbose=True, stream=None):
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.bar = None
        tqdm = _tqdm(self.stream) if verbose else None
        if tqdm is not None:
            self.bar = tqdm(total=total_batches, desc=f"epoch {epoch}/{epochs}", unit="batch",
                            leave=False, file=self.stream, mininterval=0.25, dynamic_ncols=True)

    def update(self, step, running=None):
        """One more batch done; ``running``: e.g. ``{"loss": "0.1234"}``, or None (nothing to show)."""
        if self.bar is None:
            return
        self.bar.update(1)
        if running is not None and step % self.REFRESH_EVERY == 0:
            self.bar.set_postfix(running, refresh=False)

    def close(self, summary_line):
        if self.bar is not None:
            self.bar.close()
        if self.verbose:
            print(summary_line, file=self.stream, flush=True)


def format_logs(epoch, epochs, logs):
    """``epoch 3/10  loss 0.1234  accuracy 0.9712  val_loss 0.1011 ...  2.31 s  25,974 samples/s``."""
    parts = [f"epoch {epoch}/{epochs}"]
    for key, value in logs.items():
        if key in ("epoch", "seconds", "samples_per_second", "lr"):
            continue
        parts.append(f"{key} {value:.4f}")
    parts.append(f"lr {logs['lr']:.3g}")
    parts.append(f"{logs['seconds']:.2f} s")
    parts.append(f"{logs['samples_per_second']:,.0f} samples/s")
    return "  ".join(parts)


def progress_callbacks(verbose, epochs, steps):
    """What ``fit(verbose=...)`` shows: nothing, the epoch lines, or a bar and the epoch lines."""
    if not verbose:
        return []
    return [ProgressBar(epochs, steps) if _tqdm() is not None else EpochLine(epochs)]


class EpochLine(Callback):
    """Prints ``format_logs`` of every epoch on stderr (``fit(verbose=True)``)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs):
        print(format_logs(epoch, self.epochs, logs), file=sys.stderr, flush=True)


class ProgressBar(EpochLine):
    """A tqdm bar over each epoch's batches with the running loss, then the epoch's line.

    The loss of a batch comes in the ``logs`` of ``on_batch_end``; it is None where the runner
    does not read it (on the GPU, where reading it would make every step wait): no running loss then.
    """

    def __init__(self, epochs, steps):
        super().__init__(epochs)
        self.steps = steps
        self.progress = None
        self.total, self.seen = 0.0, 0

    def on_epoch_begin(self, epoch):
        self.progress = EpochProgress(epoch, self.epochs, self.steps, verbose=True)
        self.total, self.seen = 0.0, 0

    def on_batch_end(self, step, logs):
        running = None
        if logs["loss"] is not None:
            self.total += logs["loss"] * logs["batch_size"]
            self.seen += logs["batch_size"]
            running = {"loss": f"{self.total / self.seen:.4f}"}
        self.progress.update(step, running)

    def on_epoch_end(self, epoch, logs):
        self.progress.close(format_logs(epoch, self.epochs, logs))
