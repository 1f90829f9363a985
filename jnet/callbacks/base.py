"""The Keras callback protocol, run on the host between compiled chunks of training.

Hooks receive `logs` dicts as Keras 3 passes them: always a dict (empty where Keras's is), keys
sorted, values Python floats (arrays for per-class results). `self.model` is the model being
trained; during `fit`, `model.variables` reads the live training state (device arrays, no
copy): a callback that keeps weights for later must copy them (`model.get_weights()` returns
numpy copies), because the next step donates the old buffers.

Batch hooks. A callback that overrides a batch hook of a phase (`on_train_batch_end`,
`on_batch_end`, `on_test_batch_begin`, ...) gets one call per batch in that phase, as in Keras
with `steps_per_execution=1`: the engine then runs that phase one step per compiled call.
Callbacks that do not ask for batches leave the engine free to run many steps per call. An
integer `steps_per_execution` in `compile` means what it means in Keras: the batch hooks run
once per `steps_per_execution` batches.
"""

from __future__ import annotations

import numbers

# The batch hooks of each phase; `on_batch_*` are Keras's aliases of the train batch hooks.
BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}
_PLAIN_HOOKS = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end")
_INDEXED_HOOKS = ("on_epoch_begin", "on_epoch_end") + tuple(h for hs in BATCH_HOOKS.values() for h in hs)


def pythonify_logs(logs) -> dict:
    """`logs` as Keras hands them to callbacks: a new dict (empty for None), nested dicts
    flattened, keys sorted, scalars as Python floats; other values (arrays, outputs) kept."""
    out = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            out.update(pythonify_logs(value))
            continue
        if isinstance(value, numbers.Real) or getattr(value, "ndim", None) == 0:
            try:
                value = float(value)
            except (TypeError, ValueError):
                pass
        out[key] = value
    return out


class Callback:
    """Base class: override any `on_*` hook. `set_model` / `set_params` are called by `fit`.

    Example:
    ```python
    class PrintKeys(jnet.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(epoch, list(logs.keys()))    # e.g. ['loss', 'mae', 'val_loss', 'val_mae']
    ```
    """

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
    def on_batch_begin(self, batch, logs=None):
        """Keras's alias of `on_train_batch_begin` (which calls it unless overridden)."""

    def on_batch_end(self, batch, logs=None):
        """Keras's alias of `on_train_batch_end` (which calls it unless overridden)."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

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
        """Whether this callback needs its batch hooks called (subclasses that override a
        batch hook but need it only in some configurations return False otherwise)."""
        return any(self._overrides(n) for hooks in BATCH_HOOKS.values() for n in hooks)

    def wants_batches(self, phase) -> bool:
        """Whether this callback asks for one call per batch in `phase` ("train", "test",
        "predict"): it overrides one of that phase's batch hooks and `wants_batch_logs`."""
        return any(self._overrides(n) for n in BATCH_HOOKS[phase]) and self.wants_batch_logs

    def _overrides(self, name) -> bool:
        # An instance attribute (LambdaCallback's functions) counts as an override too.
        return name in vars(self) or getattr(type(self), name) is not getattr(Callback, name)


class CallbackList(Callback):
    """Calls every hook on each callback in order, with the logs made Keras's dict once
    (`pythonify_logs`) and shared, so a callback that adds a key (e.g. `ReduceLROnPlateau`'s
    `learning_rate`) is seen by the callbacks after it, `History` included."""

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

    def wants_batches(self, phase) -> bool:
        return any(cb.wants_batches(phase) for cb in self.callbacks)

    def _plain(name):  # noqa: N805 - builds the forwarding methods below
        def hook(self, logs=None):
            logs = pythonify_logs(logs)
            for cb in self.callbacks:
                getattr(cb, name)(logs)

        hook.__name__ = name
        return hook

    def _indexed(name):  # noqa: N805 - builds the forwarding methods below
        def hook(self, index, logs=None):
            logs = pythonify_logs(logs)
            for cb in self.callbacks:
                getattr(cb, name)(index, logs)

        hook.__name__ = name
        return hook

    for _name in _PLAIN_HOOKS:
        locals()[_name] = _plain(_name)
    for _name in _INDEXED_HOOKS:
        locals()[_name] = _indexed(_name)
    del _name, _plain, _indexed


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
