"""The Keras callback protocol, run on the host between compiled chunks of training.

Hooks receive `logs` dicts of Python floats. `self.model` is the model being trained; during
`fit`, `model.variables` reads the live training state (device arrays, no copy): a callback that
keeps weights for later must copy them (`model.get_weights()` returns numpy copies), because the
next step donates the old buffers.
"""

from __future__ import annotations


class Callback:
    """Base class: override any `on_*` hook. `set_model` / `set_params` are called by `fit`."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    @property
    def wants_batch_logs(self) -> bool:
        """Whether this callback overrides a per-batch hook (the engine then syncs per chunk)."""
        names = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                 "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")
        return any(getattr(type(self), n) is not getattr(Callback, n) for n in names)


class CallbackList(Callback):
    """Calls every hook on each callback in order."""

    def __init__(self, callbacks=None, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be jnet.callbacks.Callback instances, got {type(cb).__name__}")
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def append(self, callback):
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        callback.set_params(self.params)

    def set_model(self, model):
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    @property
    def wants_batch_logs(self) -> bool:
        return any(cb.wants_batch_logs for cb in self.callbacks)

    def _each(name):  # noqa: N805 - builds the forwarding methods below
        def hook(self, *args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, name)(*args, **kwargs)

        hook.__name__ = name
        return hook

    for _name in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                  "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
                  "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
                  "on_predict_batch_begin", "on_predict_batch_end"):
        locals()[_name] = _each(_name)
    del _name, _each


class History(Callback):
    """Records every epoch's logs: `history.history["loss"]` is a list, one value per epoch."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def plot(self, metrics=None, to_file=None, **kwargs):
        """Draw the loss and metric curves, train and validation (`jnet.utils.plot_history`)."""
        from jnet.utils.plot import plot_history

        return plot_history(self, metrics=metrics, to_file=to_file, **kwargs)
