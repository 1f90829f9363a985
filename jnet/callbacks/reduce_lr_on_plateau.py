"""`ReduceLROnPlateau`: lower the learning rate when a metric has stopped improving."""

from __future__ import annotations

import warnings

import numpy as np

from jnet.callbacks.base import Callback
from jnet.callbacks.learning_rate_scheduler import get_learning_rate, set_learning_rate


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` after `patience` epochs without improvement.

    Args:
        monitor: the log key to watch (default `"val_loss"`).
        factor: `new_lr = lr * factor`; must be < 1.
        patience: epochs with no improvement before the rate is reduced.
        verbose: 1 prints a line on each reduction.
        mode: `"auto"` (max when the name contains "acc", else min, as Keras), `"min"`, `"max"`.
        min_delta: an improvement must beat the best value by more than this.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the rate never goes below this.

    The new rate is written into the optimizer state: no recompilation.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        super().__init__()
        if "epsilon" in kwargs:  # Keras's old name
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected arguments {sorted(kwargs)}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"ReduceLROnPlateau: mode {mode!r} is unknown, falling back to 'auto'.", stacklevel=2)
            mode = "auto"
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), patience, verbose
        self.mode, self.min_delta, self.cooldown, self.min_lr = mode, min_delta, cooldown, min_lr
        self._reset()

    def _reset(self):
        self._minimise = self.mode == "min" or (self.mode == "auto" and "acc" not in self.monitor)
        self.best = np.inf if self._minimise else -np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def _better(self, current):
        if self._minimise:
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = get_learning_rate(self.model)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"ReduceLROnPlateau monitors {self.monitor!r}, which is not in the logs. "
                f"Available: {', '.join(sorted(logs))}",
                stacklevel=2,
            )
            return
        current = float(current)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = get_learning_rate(self.model)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    set_learning_rate(self.model, new_lr)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
