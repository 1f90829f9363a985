"""`LambdaCallback`: a callback made of plain functions."""

from __future__ import annotations

from jnet.callbacks.base import Callback

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
_BATCH_HOOKS = tuple(h for h in _HOOKS if "batch" in h)


def _wrap(fn, name):
    # Always pass logs positionally (the engine may omit them), as Keras's CallbackList does.
    if "epoch" in name or "batch" in name:
        return lambda index, logs=None: fn(index, logs)
    return lambda logs=None: fn(logs)


class LambdaCallback(Callback):
    """Build a callback from functions, e.g. `on_epoch_end=lambda epoch, logs: ...`.

    Args:
        on_epoch_begin, on_epoch_end: `f(epoch, logs)`.
        on_train_begin, on_train_end: `f(logs)`.
        on_train_batch_begin, on_train_batch_end: `f(batch, logs)`.
        **kwargs: any other hook by name (`on_test_end=...`, `on_predict_batch_end=...`).
            Keras's `on_batch_begin` / `on_batch_end` mean the train batch hooks.

    Example:
    ```python
    print_cb = jnet.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    ```
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        hooks = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
        )
        for alias, name in (("on_batch_begin", "on_train_batch_begin"), ("on_batch_end", "on_train_batch_end")):
            if alias in kwargs:
                hooks[name] = kwargs.pop(alias)
        unknown = [k for k in kwargs if k not in _HOOKS]
        if unknown:
            raise ValueError(f"LambdaCallback: unknown hook(s) {unknown}; valid hooks are {list(_HOOKS)}")
        hooks.update(kwargs)
        for name, fn in hooks.items():
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
                setattr(self, name, _wrap(fn, name))
        self._given = {name for name, fn in hooks.items() if fn is not None}

    @property
    def wants_batch_logs(self) -> bool:
        return any(h in self._given for h in _BATCH_HOOKS)
