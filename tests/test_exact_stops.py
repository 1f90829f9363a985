"""A non-finite loss ends training at that batch, with the weights from before it: the compiled
loop exits there whatever the chunk size, with and without batch callbacks."""

import math
import warnings

import numpy as np
import pytest

import jnet
from jnet import callbacks, layers


def _model(steps_per_execution="auto"):
    jnet.utils.set_random_seed(1)
    model = jnet.Sequential([layers.Dense(4, input_dim=3, activation="relu"), layers.Dense(1)])
    model.compile(jnet.optimizers.Adam(0.01), "mse", metrics=["mae"], steps_per_execution=steps_per_execution)
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    bad = y.copy()
    bad[13] = np.nan  # row 13: batch 3 of the first epoch (batch_size 4, no shuffle)
    return x, y, bad


def _reference_weights():
    """The weights after the 3 good steps before the bad batch."""
    x, y, _ = _data()
    model = _model()
    model.fit(x, y, batch_size=4, epochs=1, steps_per_epoch=3, shuffle=False, verbose=0)
    return model.get_weights()


class _Batches(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append((batch, logs["loss"]))


@pytest.mark.parametrize("case", ["auto", "fixed_chunk", "batch_callback", "terminate_on_nan", "stream"])
def test_nan_loss_stops_at_that_batch_with_previous_weights(case):
    x, _, bad = _data()
    model = _model(steps_per_execution=8 if case == "fixed_chunk" else "auto")
    cbs = {"batch_callback": [_Batches()], "terminate_on_nan": [callbacks.TerminateOnNaN()]}.get(case, [])
    with pytest.warns(RuntimeWarning, match=r"loss became nan at epoch 1, batch 3; training stopped there"):
        if case == "stream":
            model.fit(((x[i : i + 4], bad[i : i + 4]) for i in range(0, 48, 4)), epochs=2, callbacks=cbs, verbose=0)
        else:
            model.fit(x, bad, batch_size=4, epochs=2, shuffle=False, callbacks=cbs, verbose=0)
    assert int(model.get_train_state().step) == 3
    history = model.history.history
    assert len(history["loss"]) == 1 and math.isnan(history["loss"][0])  # the epoch's logs show it
    for got, want in zip(model.get_weights(), _reference_weights()):
        np.testing.assert_array_equal(got, want)
    if case == "batch_callback":
        ends = cbs[0].ends
        assert [b for b, _ in ends] == [0, 1, 2, 3] and math.isnan(ends[-1][1]) and math.isfinite(ends[-2][1])


def test_finite_training_is_unchanged_by_the_guard():
    # The same run in one chunk, in fixed chunks of 5 and one step per call ends equal.
    x, y, _ = _data()
    weights = []
    for spe in ("auto", 5, 1):
        model = _model(steps_per_execution=spe)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        assert int(model.get_train_state().step) == 24
        weights.append(model.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
