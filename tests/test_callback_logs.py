"""What callback hooks receive, against Keras 3: the logs dict of every hook (keys and value
kinds) on the same tiny model, Keras's `on_batch_begin` / `on_batch_end` aliases, and one call
per batch for callbacks that override batch hooks (while others keep the chunked loop)."""

import numpy as np
import pytest

import jnet
from jnet import callbacks, layers

HOOKS = (
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


def _recorder(base):
    """A `base` (Keras's or jnet's Callback) subclass recording (hook, index, keys, value kinds)."""

    def make(name):
        def hook(self, *args, **kwargs):
            index = args[0] if "epoch" in name or "batch" in name else None
            logs = (
                kwargs["logs"]
                if "logs" in kwargs
                else args[-1]
                if len(args) == (2 if index is not None else 1)
                else None
            )
            kinds = None if logs is None else [type(v).__name__ for v in logs.values()]
            self.calls.append((name, index, None if logs is None else list(logs), kinds))

        return hook

    attrs = {name: make(name) for name in HOOKS}
    attrs["calls"] = None
    cls = type("Recorder", (base,), attrs)
    return cls


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((10, 3)).astype(np.float32)
    y = (x.sum(axis=1) > 1.5).astype(np.float32)[:, None]
    return x, y


def _run(model, recorder):
    x, y = _data()
    recorder.calls = []
    model.fit(x, y, batch_size=4, epochs=2, validation_split=0.2, verbose=0, callbacks=[recorder])
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[recorder])
    model.predict(x, batch_size=4, verbose=0, callbacks=[recorder])
    return recorder.calls


def test_every_hook_gets_keras_logs():
    import jax
    import keras

    km = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
    )
    km.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    with jax.numpy_rank_promotion("allow"):  # Keras relies on implicit rank promotion
        expected = _run(km, _recorder(keras.callbacks.Callback)())

    jm = jnet.Sequential([layers.Dense(2, input_dim=3, activation="relu"), layers.Dense(1, activation="sigmoid")])
    jm.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    got = _run(jm, _recorder(callbacks.Callback)())
    assert len(got) == len(expected) == 38
    for g, e in zip(got, expected):
        assert g == e
    # The predict batch hooks get the batch's outputs in the model's structure, as Keras.
    assert expected[-2][2:] == (["outputs"], ["ndarray"])


def test_logs_are_dicts_when_the_caller_passes_none():
    seen = []

    class Keys(callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(list(logs.keys()))  # the callbacks guide's first line

        def on_predict_end(self, logs=None):
            seen.append(list(logs.keys()))

    cbs = callbacks.CallbackList([Keys()])
    cbs.on_train_begin()
    cbs.on_predict_end(None)
    assert seen == [[], []]


def test_logs_are_shared_so_a_callback_can_add_keys():
    class AddKey(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 2.0 * epoch

    model = _model()
    x, y = _data()
    history = model.fit(x, y, epochs=2, batch_size=5, callbacks=[AddKey()], verbose=0)
    assert history.history["extra"] == [0.0, 2.0]  # History runs after the user's callbacks


def test_pythonify_logs_flattens_sorts_and_converts():
    from jnet.callbacks.base import pythonify_logs

    logs = pythonify_logs({"z": np.float32(1.5), "a": {"b": np.array(2)}, "per_class": np.array([1.0, 2.0])})
    assert list(logs) == ["b", "per_class", "z"]
    assert type(logs["b"]) is float and type(logs["z"]) is float and logs["per_class"].shape == (2,)
    assert pythonify_logs(None) == {}


# ------------------------------------------------------------------ batch delivery


def _model(steps_per_execution="auto"):
    jnet.utils.set_random_seed(1)
    model = jnet.Sequential([layers.Dense(4, input_dim=3, activation="relu"), layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=steps_per_execution)
    return model


def _regression(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)


class _Aliases(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.begun, self.ended = [], []

    def on_batch_begin(self, batch, logs=None):
        self.begun.append(batch)

    def on_batch_end(self, batch, logs=None):
        self.ended.append((batch, sorted(logs)))


def test_on_batch_aliases_fire_for_every_train_batch():
    cb = _Aliases()
    x, y = _regression()
    _model().fit(x, y, batch_size=8, epochs=2, callbacks=[cb], verbose=0)  # "auto" chunking
    assert cb.begun == list(range(8)) * 2
    assert cb.ended == [(b, ["loss"]) for b in range(8)] * 2
    # Only train batches: evaluate and predict do not call the aliases (as Keras).
    cb.begun.clear()
    model = _model()
    model.evaluate(x, y, batch_size=8, callbacks=[cb], verbose=0)
    model.predict(x, batch_size=8, callbacks=[cb], verbose=0)
    assert cb.begun == []


def test_on_batch_aliases_in_lambda_callback_and_streams():
    ends = []
    cb = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: ends.append(batch))
    x, y = _regression()

    def batches():
        for i in range(0, 64, 8):
            yield x[i : i + 8], y[i : i + 8]

    _model().fit(batches(), epochs=1, callbacks=[cb], verbose=0)
    assert ends == list(range(8))


def test_batch_callback_stop_training_stops_at_that_batch():
    class StopAt(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    for model, data in ((_model(), _regression()), (_model(), None)):
        x, y = _regression()
        if data is None:  # a generator: the streamed path stops at the same batch
            stream = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 64, 8))
            model.fit(stream, epochs=3, callbacks=[StopAt()], verbose=0)
        else:
            model.fit(x, y, batch_size=8, epochs=3, callbacks=[StopAt()], verbose=0)
        assert int(model.get_train_state().step) == 3


def test_fixed_steps_per_execution_calls_batch_hooks_per_execution():
    # Keras: with steps_per_execution=N the batch hooks run once per N batches.
    ends = []
    cb = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: ends.append(batch))
    x, y = _regression()
    _model(steps_per_execution=3).fit(x, y, batch_size=8, epochs=1, callbacks=[cb], verbose=0)
    assert ends == [2, 5, 7]


def test_test_and_predict_batch_hooks_per_batch():
    tests, preds = [], []
    cb = callbacks.LambdaCallback(
        on_test_batch_end=lambda b, logs: tests.append(b),
        on_predict_batch_end=lambda b, logs: preds.append((b, logs["outputs"].shape)),
    )
    x, y = _regression(20)
    model = _model()
    model.evaluate(x, y, batch_size=8, callbacks=[cb], verbose=0)
    model.predict(x, batch_size=8, callbacks=[cb], verbose=0)
    model.predict(((x[i : i + 8],) for i in range(0, 20, 8)), callbacks=[cb], verbose=0)
    assert tests == [0, 1, 2]
    assert preds == [(0, (8, 1)), (1, (8, 1)), (2, (4, 1))] * 2


def test_only_callbacks_that_ask_get_batches():
    from jnet.callbacks.base import CallbackList

    assert not CallbackList([callbacks.ProgbarLogger(), callbacks.History()]).wants_batches("train")
    assert not callbacks.ModelCheckpoint("/tmp/unused.keras").wants_batches("train")
    assert callbacks.ModelCheckpoint("/tmp/unused.keras", save_freq=5).wants_batches("train")
    assert _Aliases().wants_batches("train") and not _Aliases().wants_batches("test")
    lam = callbacks.LambdaCallback(on_predict_batch_end=print)
    assert lam.wants_batches("predict") and not lam.wants_batches("train")


@pytest.mark.parametrize("verbose", [1, 2])
def test_progbar_with_validation_in_fit(verbose, capsys):
    x, y = _regression()
    history = _model().fit(x, y, batch_size=8, epochs=1, validation_split=0.25, verbose=verbose)
    assert sorted(history.history) == ["loss", "val_loss"]
    if verbose == 2:
        assert "Epoch 1/1" in capsys.readouterr().out
