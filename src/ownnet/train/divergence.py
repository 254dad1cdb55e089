"""The divergence stop: NaN or inf in the loss or the weights ends ``fit`` with ``DivergenceError``.

A learning rate that is too high makes the loss grow until it overflows; every step after that
only spreads NaN through the weights. ``fit`` stops at once, naming where it happened. Like
Keras' ``TerminateOnNaN``, but acting where a callback cannot: at a step, before the update (the
weights stay those of the last good step), and after an epoch, before validation runs on them.
"""

import math

from ownnet import backend


class DivergenceError(FloatingPointError):
    """Training produced NaN or inf (loss or weights): usually a learning rate that is too high."""


class DivergenceStop:
    """The two checks of one ``fit`` run (``run``: what callbacks see, with ``epoch`` and ``step``).

    ``check_step`` is a step hook, for runners that read the loss at every step (the CPU ones);
    ``check_epoch`` runs after every epoch, on the totals every runner returns (the GPU runner's
    first look at the loss).
    """

    def __init__(self, run):
        self.run = run

    def check_step(self, loss_value):
        if not math.isfinite(loss_value):
            run = self.run
            raise DivergenceError(
                f"the loss became {loss_value} at epoch {run.epoch}, step {run.step} (learning rate "
                f"{run.optimizer.lr:g}); try a smaller learning rate or clip_grad_norm. The last "
                "checkpoint (if any) is intact."
            )

    def check_epoch(self, total_loss, seen):
        """``total_loss``: the epoch's loss summed over its ``seen`` samples."""
        run = self.run
        if not math.isfinite(total_loss):
            raise DivergenceError(
                f"the loss became {total_loss / seen} during epoch {run.epoch} (learning rate "
                f"{run.optimizer.lr:g}); try a smaller learning rate or clip_grad_norm. The last "
                "checkpoint (if any) is intact."
            )
        for name, p in run.model.named_parameters():
            if not bool(backend.xp_of(p.data).isfinite(p.data).all()):
                raise DivergenceError(f"parameter {name} holds NaN or inf after epoch {run.epoch} "
                                      f"(learning rate {run.optimizer.lr:g}); try a smaller learning rate")
