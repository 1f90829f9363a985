"""`LearningRateScheduler`: set the learning rate at the start of each epoch from a function."""

from __future__ import annotations

import numbers

from jnet.callbacks.base import Callback


def get_learning_rate(model) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError("This callback needs a compiled model whose optimizer has a `learning_rate`.")
    return float(optimizer.learning_rate)


def set_learning_rate(model, value: float):
    # jnet optimizers keep the rate in the optimizer state (optax.inject_hyperparams): setting
    # it between steps takes effect on the next step with no recompilation.
    model.optimizer.learning_rate = float(value)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the beginning of every epoch.

    Args:
        schedule: `f(epoch, lr) -> new_lr` (epoch counts from 0), or `f(epoch) -> new_lr`.
        verbose: 1 prints the new rate each epoch.

    The rate is written into the optimizer state; the compiled train step is not rebuilt.

    Example:
    ```python
    def schedule(epoch, lr):
        return lr if epoch < 10 else lr * 0.9
    model.fit(x, y, epochs=15, callbacks=[jnet.callbacks.LearningRateScheduler(schedule)])
    ```
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = get_learning_rate(self.model)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # the one-argument form, as Keras accepts
            lr = self.schedule(epoch)
        if hasattr(lr, "item"):
            lr = lr.item()
        if not isinstance(lr, numbers.Real):
            raise ValueError(f"LearningRateScheduler: schedule must return a float, got {lr!r}")
        set_learning_rate(self.model, lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model)
