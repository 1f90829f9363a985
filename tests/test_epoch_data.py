"""Epochs that run out of data before `steps_per_epoch`, and `validation_steps` below one pass,
as Keras 3 (JAX backend) behaves: the counts here are the ones Keras gives on the same data."""

import warnings

import numpy as np
import pytest

import jnet
from jnet import layers

X = np.arange(8, dtype="float32").reshape(8, 1)


def _model():
    model = jnet.Sequential([jnet.Input((1,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def _fit(model, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(epochs=3, verbose=0, **kwargs)
    ran_out = [w for w in caught if "Your input ran out of data" in str(w.message)]
    return history, ran_out, caught


class _Batches(jnet.utils.PyDataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return X[i * 4 : (i + 1) * 4], X[i * 4 : (i + 1) * 4]


@pytest.mark.parametrize("kind", ["arrays", "pydataset"])
def test_too_large_steps_per_epoch_warns_each_short_epoch_and_keeps_training(kind):
    model = _model()
    data = {"x": X, "y": X, "batch_size": 4} if kind == "arrays" else {"x": _Batches()}
    history, ran_out, caught = _fit(model, steps_per_epoch=5, **data)
    # Keras: 3 epochs of the 2 batches there are, one warning per short epoch.
    assert len(history.history["loss"]) == 3 and int(model.optimizer.iterations) == 6
    assert len(ran_out) == 3 and len(caught) == 3
    assert "steps_per_epoch * epochs" in str(ran_out[0].message)


def test_generator_running_out_warns_as_keras():
    def batches():
        for i in range(2):
            yield X[i * 4 : (i + 1) * 4], X[i * 4 : (i + 1) * 4]

    model = _model()
    history, ran_out, caught = _fit(model, x=batches(), steps_per_epoch=5)
    # A one-shot generator: the short first epoch warns; the empty second one ends fit quietly
    # (one warning in all).
    assert int(model.optimizer.iterations) == 2 and len(history.history["loss"]) == 1
    assert len(ran_out) == 1 and len(caught) == 1


def test_steps_per_epoch_that_splits_a_pass_warns_only_at_the_pass_end():
    # 3 batches, 2 per epoch: epoch 2 gets the last batch and warns, epoch 3 starts a new pass
    # (Keras: 5 steps, one warning).
    x = np.arange(12, dtype="float32").reshape(12, 1)
    model = _model()
    _, ran_out, _ = _fit(model, x=x, y=x, batch_size=4, steps_per_epoch=2)
    assert int(model.optimizer.iterations) == 5 and len(ran_out) == 1


def test_enough_data_gives_no_warning():
    model = _model()
    _, ran_out, _ = _fit(model, x=X, y=X, batch_size=4, steps_per_epoch=2)
    assert not ran_out and int(model.optimizer.iterations) == 6


def test_validation_steps_below_a_pass_restart_at_the_first_batch_each_epoch():
    # Keras 3 validates on the same first `validation_steps` batches every epoch (it does not
    # continue through the validation data as training continues through its data).
    vx = np.arange(12, dtype="float32").reshape(12, 1)
    model = _model()
    seen = []

    class Probe(jnet.callbacks.Callback):
        def on_test_batch_begin(self, batch, logs=None):
            seen.append(batch)

    history = model.fit(
        X,
        X,
        batch_size=4,
        epochs=3,
        validation_data=(vx, vx),
        validation_batch_size=4,
        validation_steps=1,
        callbacks=[Probe()],
        verbose=0,
    )
    assert seen == [0, 0, 0]
    first = model.evaluate(vx[:4], vx[:4], verbose=0)
    second = model.evaluate(vx[4:8], vx[4:8], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(first, rel=1e-5)
    assert history.history["val_loss"][-1] != pytest.approx(second, rel=1e-3)
