"""Solarization, Equalization, RandomGaussianBlur, RandomErasing, RandomShear, RandomPerspective,
RandomElasticTransform: Keras 3 parity where the draw is fixed (a single-valued factor, or
Keras's own transform given the same parameters), closed forms, and bad arguments."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from jnet import layers
from jnet.layers.preprocessing.augment_geometric import perspective_warp

X = (np.random.RandomState(0).rand(4, 7, 9, 3) * 255).astype("float32")
KEY = jax.random.key(3)


def _train(layer, x=X, rng=KEY):
    return np.asarray(jax.jit(lambda a, k: layer.apply({}, a, training=True, rng=k)[0])(x, rng))


def _keras(fn):
    with jax.numpy_rank_promotion("allow"):  # Keras relies on rank promotion
        return np.asarray(fn())


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_solarization_matches_keras_transform(value_range):
    x = X / 255 * value_range[1]
    kl = keras.layers.Solarization(value_range=value_range)
    add, thr = 0.1, 0.6
    expected = _keras(
        lambda: kl.transform_images(
            x,
            {
                "additions": np.full((4, 1, 1, 1), add * 255, "float32"),
                "thresholds": np.full((4, 1, 1, 1), thr * 255, "float32"),
            },
        )
    )
    got = _train(layers.Solarization((add, add), (thr, thr), value_range=value_range), x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4 * value_range[1])
    # the defaults invert every pixel, in Keras too
    np.testing.assert_allclose(np.asarray(layers.Solarization()(X)), 255 - X, atol=1e-3)
    np.testing.assert_allclose(_keras(lambda: keras.layers.Solarization()(X)), 255 - X, atol=1e-3)


@pytest.mark.parametrize("kw", [dict(), dict(value_range=(0, 1), bins=64)])
def test_equalization_matches_keras_per_image(kw):
    x = X / 255 if kw else X.copy()
    x[1, ..., 2] = x[1, 0, 0, 2]  # a constant channel stays as it is
    got = np.asarray(layers.Equalization(**kw)(x))  # a direct call trains, as Keras
    np.testing.assert_array_equal(np.asarray(layers.Equalization(**kw)(x, training=False)), x)  # Keras: identity
    inference = np.asarray(_keras(lambda: keras.layers.Equalization(**kw)(x, training=False)))
    np.testing.assert_array_equal(inference, x)
    for i in (0, 1):  # Keras equalizes over its whole batch: compare one image at a time
        expected = _keras(lambda i=i: keras.layers.Equalization(**kw)(x[i : i + 1], training=True))
        np.testing.assert_allclose(got[i], expected[0], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(got[1, ..., 2], x[1, ..., 2])
    chw = np.asarray(layers.Equalization(data_format="channels_first", **kw)(np.moveaxis(x, -1, 1)))
    np.testing.assert_allclose(np.moveaxis(chw, 1, -1), got, rtol=1e-6)


@pytest.mark.parametrize("kw", [dict(kernel_size=5, sigma=(0.7, 0.7)), dict(kernel_size=(3, 5), sigma=(0.9, 0.9))])
def test_gaussian_blur_with_fixed_sigma_matches_keras(kw):
    expected = _keras(lambda: keras.layers.RandomGaussianBlur(factor=(1.0, 1.0), **kw)(X))
    got = _train(layers.RandomGaussianBlur(factor=(1.0, 1.0), **kw))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(_train(layers.RandomGaussianBlur(factor=0.0)), X)  # never applied


def test_shear_matches_keras_transform_for_either_sign():
    kl = keras.layers.RandomShear(x_factor=(0.2, 0.2), y_factor=(0.1, 0.1), fill_mode="constant", fill_value=3.0)
    shapes = {
        s: _keras(
            lambda s=s: kl.transform_images(
                X, {"shear_factor": np.tile([[0.2 * s, 0.1 * s]], (4, 1)), "input_shape": X.shape}
            )
        )
        for s in (1, -1)
    }
    got = _train(
        layers.RandomShear((0.2, 0.2), (0.1, 0.1), fill_mode="constant", fill_value=3.0), rng=jax.random.key(5)
    )
    signs = []
    for i in range(4):
        match = [s for s in (1, -1) if np.allclose(got[i], shapes[s][i], rtol=1e-5, atol=1e-3)]
        assert match, i
        signs.append(match[0])
    assert set(signs) == {1, -1}  # both directions drawn in this batch


def test_perspective_warp_matches_keras_and_layer_limits():
    rs = np.random.RandomState(1)
    corners = np.array([[0, 0], [8, 0], [0, 6], [8, 6]], "float32")
    start = np.broadcast_to(corners, (4, 4, 2)).astype("float32")
    end = (start + rs.uniform(-1.5, 1.5, start.shape)).astype("float32")
    expected = _keras(lambda: keras.ops.image.perspective_transform(X, start, end, fill_value=2.0))
    got = np.asarray(perspective_warp(jnp.asarray(X), jnp.asarray(start), jnp.asarray(end), fill_value=2.0))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(_train(layers.RandomPerspective(scale=0.0)), X, atol=1e-3)  # corners stay
    np.testing.assert_array_equal(_train(layers.RandomPerspective(factor=0.0)), X)  # never applied
    out = _train(layers.RandomPerspective(factor=(1.0, 1.0), scale=0.5))
    np.testing.assert_allclose(out[:, 0, 0], X[:, 0, 0], atol=1e-3)  # Keras's fixed top-left corner


def test_erasing_closed_form():
    out = _train(layers.RandomErasing(factor=(1.0, 1.0), scale=(0.25, 0.25), fill_value=7.0))
    for img, o in zip(X, out):
        erased = np.all(o == 7.0, axis=-1)
        rows, cols = np.nonzero(erased)
        assert rows.size and erased[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # a rectangle
        assert rows.max() - rows.min() + 1 in (3, 4) and cols.max() - cols.min() + 1 in (4, 5)  # half of 7 x 9
        np.testing.assert_array_equal(o[~erased], img[~erased])
    noise = _train(layers.RandomErasing(factor=(1.0, 1.0), value_range=(0, 1)), X / 255)
    assert noise.min() >= 0 and noise.max() <= 1
    per_channel = _train(layers.RandomErasing(factor=(1.0, 1.0), scale=(0.25, 0.25), fill_value=[1, 2, 3]))
    assert np.all(np.any(per_channel == np.array([1.0, 2.0, 3.0]), axis=(1, 2)))


def test_elastic_transform_limits():
    np.testing.assert_allclose(_train(layers.RandomElasticTransform(scale=0.0)), X, atol=1e-3)
    np.testing.assert_array_equal(_train(layers.RandomElasticTransform(factor=0.0)), X)
    big = (np.random.RandomState(2).rand(2, 24, 24, 1) * 255).astype("float32")
    out = _train(layers.RandomElasticTransform(factor=(1.0, 1.0), scale=(1.0, 1.0)), big)
    moved = np.abs(out - big).mean()
    assert 1.0 < moved < np.abs(big - big.mean()).mean()  # deformed, not scrambled


def test_bad_arguments():
    cases = [
        (lambda: layers.Solarization(addition_factor=1.5), "Solarization.*addition_factor"),
        (lambda: layers.Solarization(threshold_factor=(0.1, 2)), "Solarization.*threshold_factor"),
        (lambda: layers.Solarization(value_range=(1, 0)), "Solarization.*value_range"),
        (lambda: layers.Equalization(bins=1), "Equalization.*bins"),
        (lambda: layers.RandomGaussianBlur(kernel_size=4), "RandomGaussianBlur.*kernel_size"),
        (lambda: layers.RandomGaussianBlur(sigma=-1.0), "RandomGaussianBlur.*sigma"),
        (lambda: layers.RandomGaussianBlur(factor=2.0), "RandomGaussianBlur.*factor"),
        (lambda: layers.RandomErasing(scale=(0.2, 1.5)), "RandomErasing.*scale"),
        (lambda: layers.RandomErasing(fill_value="black"), "RandomErasing.*fill_value"),
        (lambda: layers.RandomShear(x_factor=-0.2), "RandomShear.*x_factor"),
        (lambda: layers.RandomShear(0.1, fill_mode="mirror"), "RandomShear.*fill_mode"),
        (lambda: layers.RandomShear(0.1, interpolation="bicubic"), "RandomShear.*interpolation"),
        (lambda: layers.RandomPerspective(scale=2.0), "RandomPerspective.*scale"),
        (lambda: layers.RandomPerspective(interpolation="cubic"), "RandomPerspective.*interpolation"),
        (lambda: layers.RandomElasticTransform(fill_mode="edge"), "RandomElasticTransform.*fill_mode"),
        (lambda: layers.RandomElasticTransform(scale=(0.5, 3)), "RandomElasticTransform.*scale"),
        (lambda: layers.Equalization()(np.zeros((4, 4), "float32")), "Equalization.*rank 3"),
        (lambda: layers.RandomShear(0.1)(np.zeros((2, 4, 4, 4, 1), "float32")), "RandomShear.*rank 3"),
        (lambda: layers.RandomErasing(fill_value=[1, 2])(X), "RandomErasing.*2 values for 3 channels"),
    ]
    for make, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            make()
