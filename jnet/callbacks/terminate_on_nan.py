"""`TerminateOnNaN`: stop training as soon as the loss is NaN or infinite."""

from __future__ import annotations

import math

from jnet.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite.

    jnet's engine already ends training at the first batch with a non-finite loss (its compiled
    loop exits there and keeps the weights from before that batch), so this callback sees the
    bad batch's logs without asking for one call per batch and keeps the fused loop. It also
    checks the epoch's logs.
    """

    @property
    def wants_batch_logs(self) -> bool:
        return False

    def _check(self, where, logs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"{where}: invalid loss, terminating training")
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self._check(f"Batch {batch}", logs)

    def on_epoch_end(self, epoch, logs=None):
        self._check(f"Epoch {epoch + 1}", logs)
