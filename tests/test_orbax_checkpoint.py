"""`jnet.callbacks.OrbaxCheckpoint`: Keras's arguments, step-numbered checkpoints, loading the
newest from the directory."""

import os

import numpy as np
import pytest

import jnet
from jnet import layers
from jnet.callbacks import OrbaxCheckpoint

X = np.random.default_rng(0).random((8, 3)).astype("float32")
Y = X @ np.array([[1.0], [-2.0], [0.5]], "float32")


def small_model():
    model = jnet.Sequential([jnet.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_epoch_checkpoints_keep_the_newest_and_load_from_the_directory(tmp_path):
    model = small_model()
    ckpt = OrbaxCheckpoint(tmp_path / "ckpt", max_to_keep=2)
    model.fit(X, Y, epochs=3, batch_size=4, verbose=0, callbacks=[ckpt])
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["1", "2"]  # epochs from 0, the oldest pruned
    restored = jnet.models.load_model(tmp_path / "ckpt")
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    # The optimizer state came along: one more step matches.
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    restored.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    np.testing.assert_allclose(model.get_weights()[0], restored.get_weights()[0], rtol=1e-6)


def test_batch_steps_weights_only_in_the_foreground(tmp_path):
    model = small_model()
    seen = {}

    class Record(jnet.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen[len(seen) + 1] = [np.array(w) for w in self.model.get_weights()]

    ckpt = OrbaxCheckpoint(
        tmp_path / "w", save_freq=2, max_to_keep=None, save_on_background=False, save_weights_only=True
    )
    model.fit(X, Y, epochs=2, batch_size=2, verbose=0, shuffle=False, callbacks=[ckpt, Record()])
    assert sorted(os.listdir(tmp_path / "w"), key=int) == ["2", "4", "6", "8"]  # batches trained so far
    other = small_model()
    other.load_weights(tmp_path / "w" / "6")
    np.testing.assert_allclose(other.get_weights()[0], seen[6][0], rtol=1e-6)
    other.load_weights(tmp_path / "w")  # the newest
    np.testing.assert_allclose(other.get_weights()[0], model.get_weights()[0], rtol=1e-6)
    with pytest.raises(jnet.saving.CheckpointError, match="holds weights only"):
        jnet.models.load_model(tmp_path / "w")
    # A resumed model counts on from its optimizer's iterations.
    ckpt2 = OrbaxCheckpoint(tmp_path / "w", save_freq=4, max_to_keep=None, save_weights_only=True)
    model.fit(X, Y, epochs=1, batch_size=2, verbose=0, callbacks=[ckpt2])
    assert "12" in os.listdir(tmp_path / "w")


def test_save_best_only(tmp_path):
    model = small_model()
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available, skipping"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[OrbaxCheckpoint(tmp_path / "a", save_best_only=True)])
    assert not os.path.exists(tmp_path / "a") or os.listdir(tmp_path / "a") == []
    ckpt = OrbaxCheckpoint(tmp_path / "b", monitor="loss", save_best_only=True, max_to_keep=None)
    history = model.fit(X, Y, epochs=3, verbose=0, callbacks=[ckpt])
    losses = history.history["loss"]
    expected = [str(i) for i in range(3) if losses[i] == min(losses[: i + 1])]
    assert sorted(os.listdir(tmp_path / "b"), key=int) == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"save_freq": "batch"}, "unrecognized save_freq 'batch'"),
        ({"save_freq": 0}, "unrecognized save_freq 0"),
        ({"max_to_keep": 0}, "max_to_keep must be >= 1"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        OrbaxCheckpoint(tmp_path, **kwargs)


def test_load_from_a_directory_without_checkpoints(tmp_path):
    with pytest.raises(jnet.saving.CheckpointError, match="neither a jnet checkpoint nor a directory of step"):
        jnet.models.load_model(tmp_path)
