"""Progress display for ``fit``: a tqdm bar per epoch on a terminal, one plain line per epoch otherwise."""

import sys


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class EpochProgress:
    """A bar over the batches of one epoch, showing the running loss/metric, throughput and ETA.

    The bar appears only when ``verbose`` is true, stderr is a terminal and tqdm is installed
    (``pip install ownnet[progress]``); otherwise nothing is drawn and only the epoch line is printed.
    """

    REFRESH_EVERY = 25  # batches between postfix updates (formatting them costs more than a step)

    def __init__(self, epoch, epochs, total_batches, verbose=True, stream=None):
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.bar = None
        tqdm = _tqdm() if verbose and getattr(self.stream, "isatty", lambda: False)() else None
        if tqdm is not None:
            self.bar = tqdm(total=total_batches, desc=f"epoch {epoch}/{epochs}", unit="batch",
                            leave=False, file=self.stream, mininterval=0.25, dynamic_ncols=True)

    def update(self, step, running):
        if self.bar is None:
            return
        self.bar.update(1)
        if step % self.REFRESH_EVERY == 0:
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
