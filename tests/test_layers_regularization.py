"""Dropout and noise layers: statistics while training, exact identity at inference, rng errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers

X = np.random.RandomState(4).rand(64, 50, 8).astype(np.float32) + 0.5  # strictly positive
KEY = jax.random.key(7)


def _apply(layer, x=X, **kw):
    return np.asarray(layer.apply({}, x, **kw)[0])


@pytest.mark.parametrize(
    "layer", [layers.Dropout(0.3), layers.SpatialDropout1D(0.3), layers.GaussianNoise(0.2), layers.GaussianDropout(0.3)]
)
def test_noise_layers_harness_and_exact_identity_at_inference(layer):
    x = X[:2, :3]
    check_layer(layer, x, reference=lambda v, x: np.asarray(x))  # inference: identity
    assert np.array_equal(_apply(layer, x, rng=KEY), x)  # even with a key
    y = _apply(layer, x, training=True, rng=KEY)
    assert y.shape == x.shape and not np.array_equal(y, x)
    y_jit = jax.jit(lambda x, k: layer.apply({}, x, training=True, rng=k)[0])(x, KEY)
    np.testing.assert_allclose(y_jit, y, rtol=1e-5, atol=1e-5)  # jit == eager with the same key


def test_dropout_rate_statistics_and_scaling():
    y = _apply(layers.Dropout(0.3), training=True, rng=KEY)
    dropped = y == 0
    assert abs(dropped.mean() - 0.3) < 0.01  # 25,600 draws: ~3 std is 0.009
    np.testing.assert_allclose(y[~dropped], X[~dropped] / 0.7, rtol=1e-6)
    assert abs(y.mean() / X.mean() - 1) < 0.02  # expected value preserved
    assert np.all(_apply(layers.Dropout(1.0), training=True, rng=KEY) == 0)
    assert np.array_equal(_apply(layers.Dropout(0.0), training=True), X)  # rate 0 needs no key


def test_dropout_keys_seed_and_noise_shape():
    a = _apply(layers.Dropout(0.5), training=True, rng=KEY)
    b = _apply(layers.Dropout(0.5), training=True, rng=jax.random.key(8))
    c = _apply(layers.Dropout(0.5, seed=3), training=True, rng=KEY)
    assert np.array_equal(a, _apply(layers.Dropout(0.5), training=True, rng=KEY))  # deterministic
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    y = _apply(layers.Dropout(0.5, noise_shape=(None, 1, 8)), training=True, rng=KEY)
    zero = y == 0
    assert np.all(zero == zero[:, :1, :])  # the same features dropped at every step
    assert 0.4 < zero[:, 0, :].mean() < 0.6


def test_spatial_dropout_drops_whole_channels():
    y = _apply(layers.SpatialDropout1D(0.5), training=True, rng=KEY)
    zero = y == 0
    assert np.all(zero == zero[:, :1, :]) and 0.4 < zero[:, 0].mean() < 0.6
    img = X[:8].reshape(8, 10, 5, 8)
    y2 = np.asarray(layers.SpatialDropout2D(0.5).apply({}, img, training=True, rng=KEY)[0])
    zero2 = y2 == 0
    assert np.all(zero2 == zero2[:, :1, :1, :]) and 0.3 < zero2[:, 0, 0].mean() < 0.7
    y3 = np.asarray(
        layers.SpatialDropout2D(0.5, data_format="channels_first").apply({}, img, training=True, rng=KEY)[0]
    )
    assert np.all((y3 == 0) == (y3 == 0)[:, :, :1, :1])


def test_gaussian_layers_statistics():
    noise = _apply(layers.GaussianNoise(0.2), training=True, rng=KEY) - X
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.2) < 0.01
    ratio = _apply(layers.GaussianDropout(0.3), training=True, rng=KEY) / X
    assert abs(ratio.mean() - 1) < 0.02 and abs(ratio.std() - np.sqrt(0.3 / 0.7)) < 0.02


def test_training_without_rng_is_a_clear_error():
    for layer in (
        layers.Dropout(0.5),
        layers.SpatialDropout1D(0.5),
        layers.GaussianNoise(0.1),
        layers.GaussianDropout(0.1),
    ):
        with pytest.raises(ValueError, match=f"{type(layer).__name__} '.*': training=True needs a random key"):
            layer.apply({}, X, training=True)


def test_dropout_in_a_model_gets_per_layer_keys():
    x = jnet.Input((8,))
    y1, y2 = layers.Dropout(0.5)(x), layers.Dropout(0.5)(x)
    model = jnet.Model(x, [y1, y2])
    v = model.init(jax.random.key(0))
    ones = jnp.ones((16, 8))
    (a, b), _ = model.apply(v, ones, training=True, rng=KEY)
    assert not np.array_equal(a, b)  # each layer draws its own mask
    (c, d), _ = model.apply(v, ones)
    assert np.array_equal(c, ones) and np.array_equal(d, ones)
    with pytest.raises(ValueError, match="Dropout 'dropout': training=True needs a random key"):
        model.apply(v, ones, training=True)


def test_bad_config_names_layer():
    with pytest.raises(ValueError, match=r"Dropout 'dropout': rate must be a number in \[0, 1\]"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match="Dropout 'dropout': noise_shape must be a tuple"):
        layers.Dropout(0.5, noise_shape="auto")
    with pytest.raises(ValueError, match=r"Dropout 'd': noise_shape \(1, 2\) does not broadcast to input shape"):
        layers.Dropout(0.5, noise_shape=(1, 2), name="d").init(KEY, X)
    with pytest.raises(ValueError, match="GaussianDropout 'gaussian_dropout': rate must be < 1"):
        layers.GaussianDropout(1.0)
    with pytest.raises(ValueError, match="GaussianNoise 'gaussian_noise': stddev must be"):
        layers.GaussianNoise(-0.1)
    with pytest.raises(ValueError, match="SpatialDropout1D 'spatial_dropout1d': expected a 3D input"):
        layers.SpatialDropout1D(0.5).init(KEY, X[0])
