"""A graph model called eagerly on arrays runs as one compiled function (jnet.models.eager):
traced once per signature, with the same results, state updates and losses as running it
layer by layer, and layer by layer where a compiled function could not repeat the call."""

import numpy as np
import pytest

import jnet
from jnet.models import eager
from jnet.models.model import Model


class CountingDense(jnet.layers.Layer):
    """A Keras-style layer that counts how often its `call` runs (each trace runs it once)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.calls = 0

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1], self.units), "glorot_uniform")

    def call(self, x):
        self.calls += 1
        self.add_loss(0.5 * jnet.ops.sum(self.w.value**2))
        return x @ self.w.value


def _model():
    x = jnet.Input((5,))
    h = CountingDense(4)(x)
    h = jnet.layers.BatchNormalization()(h)
    y = jnet.layers.Dropout(0.5)(h)
    return jnet.Model(x, y)


def _layer_by_layer(monkeypatch):
    monkeypatch.setattr(Model, "_compiled_eager_call", lambda self, args, kwargs: (False, None))


def _x(n=3):
    return np.random.default_rng(0).normal(size=(n, 5)).astype("float32")


def test_second_eager_call_does_not_retrace():
    model = _model()
    dense = model.layers[1]
    model(_x())
    after_first = dense.calls
    model(_x())
    model(_x(), training=False)
    assert dense.calls == after_first  # no retrace on the same shapes and flag
    (entry,) = model._eager_cache.values()
    assert entry._cache_size() == 1  # one compiled function
    model(_x(4))  # a new batch size: one new trace
    assert dense.calls == after_first + 1
    model(_x(4))
    assert dense.calls == after_first + 1


@pytest.mark.parametrize("training", [False, True])
def test_compiled_call_matches_layer_by_layer(training, monkeypatch):
    outs = {}
    for how in ("compiled", "layers"):
        if how == "layers":
            _layer_by_layer(monkeypatch)
        jnet.utils.set_random_seed(3)
        model = _model()
        y1 = np.asarray(model(_x(), training=training))
        y2 = np.asarray(model(_x(), training=training))
        outs[how] = (y1, y2, model.layers[2].moving_mean.numpy(), [float(v) for v in model.losses])
    for a, b in zip(outs["compiled"], outs["layers"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if training:
        assert not np.allclose(outs["compiled"][0], outs["compiled"][1])  # a fresh dropout key per call
        assert np.any(outs["compiled"][2] != 0)  # moving stats moved
    else:
        np.testing.assert_array_equal(outs["compiled"][2], 0)
    assert len(outs["compiled"][3]) == 1 and outs["compiled"][3][0] > 0  # the add_loss of the last call


def test_freezing_a_layer_retraces():
    model = _model()
    bn = model.layers[2]
    model(_x(), training=True)
    moved = bn.moving_mean.numpy()
    bn.trainable = False  # a frozen BatchNorm runs in inference mode, even with training=True
    model(_x(), training=True)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moved)


class GlobalDraws(jnet.layers.Layer):
    """Draws from the global seed (`seed=None`) eagerly: every call must draw anew."""

    def call(self, x):
        return x + jnet.random.normal(x.shape)


class EagerDraws(jnet.layers.Layer):
    """Draws from its own SeedGenerator eagerly: every call must draw anew."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.gen = jnet.random.SeedGenerator(1)

    def call(self, x):
        return x + jnet.random.normal(x.shape, seed=self.gen)


@pytest.mark.parametrize("layer", [GlobalDraws, EagerDraws])
def test_eager_only_calls_run_layer_by_layer(layer, monkeypatch):
    outs = {}
    for how in ("compiled", "layers"):
        if how == "layers":
            _layer_by_layer(monkeypatch)
        jnet.utils.set_random_seed(5)
        x = jnet.Input((5,))
        model = jnet.Model(x, layer()(jnet.layers.Dense(2)(x)))
        outs[how] = [np.asarray(model(_x())) for _ in range(2)]
        if how == "compiled":
            assert list(model._eager_cache.values()) == [eager._EAGER]  # ran layer by layer
    for a, b in zip(outs["compiled"], outs["layers"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not np.allclose(outs["compiled"][0], outs["compiled"][1])
