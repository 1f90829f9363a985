"""Python operators and `jnet.ops` calls on symbolic tensors build graph nodes (Keras 3 semantics):
the graph trains, saves and loads, and computes what Keras 3 computes on the same weights."""

import jax
import keras
import numpy as np
import pytest

import jnet
from jnet import ops

RS = np.random.RandomState(1)
X = RS.randn(8, 6).astype(np.float32)
Y = RS.randn(8, 2).astype(np.float32)


def _residual_graph(lib):
    """A residual block with reshape/transpose/slicing written with ops and operators."""
    L, O = lib.layers, lib.ops
    x = lib.Input((6,))
    h = L.Dense(6, activation="relu")(x)
    h = h + x  # residual
    h = h * 0.5 - 1.0
    h = O.reshape(h, (-1, 2, 3))
    h = O.transpose(h, (0, 2, 1))  # (batch, 3, 2)
    first = h[:, 0]  # (batch, 2)
    rest = O.sum(h[:, 1:], axis=1)  # (batch, 2)
    y = L.Dense(2)(O.concatenate([first, rest**2], axis=-1))
    return lib.Model(x, y)


def test_residual_graph_matches_keras_and_round_trips(tmp_path):
    model = _residual_graph(jnet)
    with jax.numpy_rank_promotion("allow"):
        reference = _residual_graph(keras)
        reference.set_weights(model.get_weights())
        expected = np.asarray(reference.predict(X, verbose=0))
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert model.output.shape == (None, 2)
    names = [l.name for l in model.layers]
    assert "add" in names and "reshape" in names and "getitem" in names and "getitem_1" in names
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "ops.jnet")
    loaded = jnet.load_model(tmp_path / "ops.jnet")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_operators_cover_keras_forms():
    x = jnet.Input((3,))
    outs = [
        x + 1,
        1 + x,
        x - 2,
        2 - x,
        x * x,
        3 * x,
        x / 2,
        2 / (x + 10),
        -x,
        abs(x),
        x**2,
        x @ np.eye(3, dtype=np.float32),
        ops.maximum(x, 0.0),
        ops.expand_dims(x, 1)[:, :, ::-1],
        x[..., 1:],
    ]
    model = jnet.Model(x, outs)
    data = RS.randn(4, 3).astype(np.float32)
    got = model.predict(data, verbose=0)
    want = [
        data + 1,
        1 + data,
        data - 2,
        2 - data,
        data * data,
        3 * data,
        data / 2,
        2 / (data + 10),
        -data,
        np.abs(data),
        data**2,
        data,
        np.maximum(data, 0),
        data[:, None, ::-1],
        data[..., 1:],
    ]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    assert ops.shape(x) == (None, 3)


def test_bad_op_on_symbolic_tensor_raises_at_build_time_naming_it():
    x = jnet.Input((6,))
    with pytest.raises(ValueError, match=r"OpLayer 'reshape'"):
        ops.reshape(x, (-1, 4))
    with pytest.raises(TypeError, match="indexing a symbolic tensor takes ints, slices"):
        x[np.array([0, 1])]


class _Noisy(jnet.layers.Layer):
    """Keras-style randomness: a SeedGenerator and jnet.random in call (training only); the last
    noise drawn is kept in a non-trainable weight so the test can read it after fit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = jnet.random.SeedGenerator(1337)

    def build(self, input_shape):
        self.last = self.add_weight(shape=(4, input_shape[-1]), initializer="zeros", trainable=False, name="last")

    def call(self, x, training=False):
        if not training:
            return x
        noise = jnet.random.normal(ops.shape(x), seed=self.seed_generator)
        self.last.assign(noise)
        return x + noise


def _noise_after(steps):
    jnet.utils.set_random_seed(3)
    noisy = _Noisy()
    x = jnet.Input((2,))
    model = jnet.Model(x, noisy(x))
    model.compile(optimizer="sgd", loss="mse")
    data = np.zeros((4 * steps, 2), np.float32)
    model.fit(data, data, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return noisy.last.numpy()


def test_seed_generator_in_fit_differs_per_step_and_repeats_across_runs():
    one, two = _noise_after(1), _noise_after(2)
    assert np.abs(one).sum() > 0 and not np.allclose(one, two)  # each step draws new noise
    np.testing.assert_array_equal(_noise_after(2), two)  # the same run repeats exactly
    np.testing.assert_array_equal(_Noisy()(np.ones((4, 2))), np.ones((4, 2)))  # inference: identity
