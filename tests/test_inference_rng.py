"""Randomness in evaluate / predict: a layer that draws in inference (a SeedGenerator) gets fresh
noise per call and per batch, as Keras 3 advances its seed generators' states, from one
compilation; a model that draws nothing is unaffected."""

import numpy as np

import jnet
from jnet import layers, ops


class Noise(layers.Layer):
    """Adds standard normal noise in inference too (as the VAE example's Sampling layer)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = jnet.random.SeedGenerator(1337)

    def call(self, x):
        return x + jnet.random.normal(ops.shape(x), seed=self.seed_generator)


def _model():
    inputs = jnet.Input((2,))
    model = jnet.Model(inputs, Noise()(layers.Dense(2, kernel_initializer="ones")(inputs)))
    model.compile("sgd", "mse")
    return model


X = np.ones((4, 2), "float32")


def test_predict_draws_fresh_noise_per_call_and_batch_from_one_compilation():
    model = _model()
    a = model.predict(X, batch_size=2, verbose=0)
    b = model.predict(X, batch_size=2, verbose=0)
    assert not np.allclose(a, b)  # a new draw per call
    assert not np.allclose(a[:2], a[2:])  # and per batch (identical rows)
    assert np.all(np.abs(a - 2.0) < 6.0)  # noise around Dense's output 2
    fns = model._trainer.fns(2)
    assert all(f._cache_size() == 1 for f in fns._predict.values())  # no recompile per call
    # As Keras: a freshly built model with the same seeds repeats the first call.
    np.testing.assert_allclose(_model().predict(X, batch_size=2, verbose=0), a)


def test_evaluate_draws_fresh_noise_per_call():
    model = _model()
    first = model.evaluate(X, X, batch_size=2, verbose=0)
    second = model.evaluate(X, X, batch_size=2, verbose=0)
    assert first != second
    assert model._trainer.fns(2).eval._cache_size() + model._trainer.fns(2).eval_one._cache_size() == 1


def test_streamed_predict_batches_differ_across_chunks():
    model = _model()

    def batches():
        for _ in range(3):
            yield (np.ones((2, 2), "float32"),)

    out = model.predict(batches(), verbose=0)
    assert out.shape == (6, 2)
    assert not np.allclose(out[:2], out[2:4]) and not np.allclose(out[2:4], out[4:])


def test_models_that_draw_nothing_predict_the_same_every_call():
    model = jnet.Sequential([jnet.Input((2,)), layers.Dropout(0.5), layers.Dense(2)])
    np.testing.assert_array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))


def test_custom_predict_step_draws_fresh_noise():
    class Custom(jnet.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)
            self.noise = Noise()

        def call(self, x):
            return self.noise(self.dense(x))

        def predict_step(self, state, data):
            trainable, non_trainable = state
            x = data[0] if isinstance(data, tuple) else data
            return self.stateless_call(trainable, non_trainable, x)[0]

    model = Custom()
    model.compile("sgd", "mse")
    a = model.predict(X, batch_size=2, verbose=0)
    b = model.predict(X, batch_size=2, verbose=0)
    assert not np.allclose(a, b) and not np.allclose(a[:2], a[2:])
