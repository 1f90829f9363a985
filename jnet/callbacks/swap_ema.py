"""`SwapEMAWeights`: evaluate (and optionally checkpoint) with the optimizer's EMA weights."""

from __future__ import annotations

from jnet.callbacks.base import Callback


class SwapEMAWeights(Callback):
    """Swap the model's weights with the optimizer's moving average around evaluation.

    Before evaluation (`fit`'s validation, `evaluate`) and prediction the model's trainable
    weights are exchanged with the exponential moving average the optimizer keeps
    (`use_ema=True`); afterwards they are exchanged back, so that metrics are computed with the
    averaged weights while training goes on with the raw ones.

    Args:
        swap_on_epoch: also swap at the end of each epoch (and back at the start of the next),
            so that callbacks placed after this one, such as `ModelCheckpoint`, see the EMA
            weights. Default False.

    Example:
    ```python
    model.compile(optimizer=jnet.optimizers.SGD(use_ema=True), loss="mse")
    model.fit(x, y, validation_data=(xv, yv), callbacks=[jnet.callbacks.SwapEMAWeights()])
    ```
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizer(self):
        optimizer = self.model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        if not getattr(inner, "use_ema", False):
            raise ValueError(
                "SwapEMAWeights must be used with an optimizer created with use_ema=True; "
                f"got {type(inner).__name__} with use_ema={getattr(inner, 'use_ema', False)}"
            )
        return optimizer  # the one attached to the training state (it finds the inner average)

    def _swap(self, keep_average=False):
        self._optimizer().swap_moving_average(keep_average=keep_average)

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            # On the last epoch the average is set to the swapped-in weights: `fit` then ends
            # by writing the average into the model (finalize_variable_values), as Keras.
            last = epoch == self.params.get("epochs", 0) - 1
            self._swap(keep_average=last)
            self._ema_weights_in_model = True

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    def on_predict_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True

    def on_predict_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False
