"""`TerminateOnNaN`: stop training as soon as the loss is NaN or infinite."""

from __future__ import annotations

import math

from jnet.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite.

    The check runs after every compiled chunk of batches (every batch when
    `steps_per_execution=1`) and at the end of each epoch.
    """

    def _check(self, where, logs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"{where}: invalid loss, terminating training")
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self._check(f"Batch {batch}", logs)

    def on_epoch_end(self, epoch, logs=None):
        self._check(f"Epoch {epoch + 1}", logs)
