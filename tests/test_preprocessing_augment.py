"""Augmentation layers: Keras 3 parity with fixed factors, identity at inference, shapes and
ranges in training, reproducible with a seed, compiled once in fit."""

import jax
import keras
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers

X = (np.random.RandomState(0).rand(4, 7, 9, 3) * 255).astype("float32")
KEY = jax.random.key(3)

ALL = [
    lambda: layers.RandomFlip(),
    lambda: layers.RandomRotation(0.2),
    lambda: layers.RandomZoom(0.3),
    lambda: layers.RandomTranslation(0.2, 0.2),
    lambda: layers.RandomContrast(0.5),
    lambda: layers.RandomBrightness(0.2),
    lambda: layers.RandomGrayscale(0.5),
    lambda: layers.RandomInvert(0.9, seed=1),
    lambda: layers.RandomColorDegeneration(0.8),
    lambda: layers.RandomPosterization(4),
    lambda: layers.RandomSaturation(0.9),
    lambda: layers.RandomHue(0.5),
    lambda: layers.RandomSharpness(0.9),
    lambda: layers.RandomColorJitter(brightness_factor=0.2, contrast_factor=0.3, saturation_factor=0.4, hue_factor=0.2),
]


def _train(layer, x=X, rng=KEY):
    return np.asarray(layer.apply({}, x, training=True, rng=rng)[0])


@pytest.mark.parametrize(
    "name,kw",
    [
        ("RandomRotation", dict(factor=(0.1, 0.1))),
        ("RandomRotation", dict(factor=(-0.3, -0.3), fill_mode="constant", fill_value=5.0, interpolation="nearest")),
        ("RandomZoom", dict(height_factor=(0.2, 0.2))),
        ("RandomZoom", dict(height_factor=(-0.3, -0.3), width_factor=(0.4, 0.4), fill_mode="wrap")),
        ("RandomTranslation", dict(height_factor=(0.2, 0.2), width_factor=(-0.3, -0.3))),
        ("RandomTranslation", dict(height_factor=(0.1, 0.1), width_factor=(0.1, 0.1), fill_mode="nearest")),
        ("RandomBrightness", dict(factor=(0.1, 0.1))),
        ("RandomBrightness", dict(factor=(-0.2, -0.2), value_range=(0, 1))),
        ("RandomGrayscale", dict(factor=1.0)),
        ("RandomGrayscale", dict(factor=0.0)),
        ("RandomInvert", dict(factor=(1.0, 1.0))),
        ("RandomColorDegeneration", dict(factor=(0.5, 0.5))),
        ("RandomPosterization", dict(factor=(3, 3))),
        ("AutoContrast", dict()),
        ("RandomColorDegeneration", dict(factor=(-0.5, -0.5))),
        ("RandomSaturation", dict(factor=(0.3, 0.3))),
        ("RandomSharpness", dict(factor=(0.9, 0.9))),
        ("RandomSharpness", dict(factor=(0.1, 0.1))),
        ("RandomHue", dict(factor=(1.0, 1.0))),  # half a turn either way: the same image
    ],
)
def test_fixed_factor_augmentation_matches_keras(name, kw):
    with jax.numpy_rank_promotion("allow"):  # Keras relies on rank promotion
        expected = np.asarray(getattr(keras.layers, name)(**kw)(X, training=True))
    got = np.asarray(getattr(layers, name)(**kw)(X))  # called directly: augments, as in Keras
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)


def test_closed_forms():
    np.testing.assert_allclose(
        _train(layers.RandomRotation((0.25, 0.25)), X[:, :, :7]), np.rot90(X[:, :, :7], 1, axes=(1, 2)), atol=1e-3
    )  # a quarter turn
    t = _train(layers.RandomTranslation((3 / 7, 3 / 7), 0, fill_mode="constant"))
    np.testing.assert_allclose(t[:, 3:], X[:, :4], atol=1e-3)  # three rows down
    assert np.all(t[:, :3] == 0)
    flips = _train(layers.RandomFlip("horizontal"))
    for img, out in zip(X, flips):
        assert np.array_equal(out, img) or np.array_equal(out, img[:, ::-1])
    both = _train(layers.RandomFlip(), rng=jax.random.key(11))
    seen = {
        (
            np.array_equal(o, i),
            np.array_equal(o, i[::-1]),
            np.array_equal(o, i[:, ::-1]),
            np.array_equal(o, i[::-1, ::-1]),
        )
        for i, o in zip(X, both)
    }
    assert all(any(s) for s in seen)
    c = _train(layers.RandomContrast(0.5, value_range=(-1e9, 1e9)))
    mean = X.mean(axis=(1, 2), keepdims=True)
    ratio = (c - mean) / (X - mean)
    for r in ratio:  # one contrast factor per image, in [0.5, 1.5]
        assert 0.5 <= np.median(r) <= 1.5 and np.allclose(r, np.median(r), rtol=1e-3, atol=1e-3)
    crop = _train(layers.RandomCrop(4, 5))
    assert crop.shape == (4, 4, 5, 3)
    for img, out in zip(X, crop):  # each output is some window of its image
        assert any(np.array_equal(out, img[i : i + 4, j : j + 5]) for i in range(4) for j in range(5))


@pytest.mark.parametrize("make", ALL)
def test_identity_at_inference_shapes_ranges_and_harness(make):
    layer = make()
    check_layer(layer, X[:2], reference=lambda v, x: np.asarray(x))  # inference: identity
    np.testing.assert_array_equal(np.asarray(layer(X, training=False)), X)
    out = _train(layer)
    assert out.shape == X.shape and out.dtype == np.float32
    assert not np.allclose(out, X)
    assert out.min() >= -1e-3 and out.max() <= 255 + 1e-3  # stays in the value range
    np.testing.assert_array_equal(_train(layer), out)  # same key, same draw
    assert not np.array_equal(_train(layer, rng=jax.random.key(99)), out)
    jitted = jax.jit(lambda x, k: layer.apply({}, x, training=True, rng=k)[0])(X, KEY)
    np.testing.assert_allclose(np.asarray(jitted), out, rtol=1e-5, atol=1e-3)
    single = np.asarray(layer.apply({}, X[0], training=True, rng=KEY)[0])
    assert single.shape == X[0].shape


def test_seed_reproducible_and_channels_first():
    a = np.asarray(layers.RandomRotation(0.3, seed=5)(X))
    b = np.asarray(layers.RandomRotation(0.3, seed=5)(X))
    np.testing.assert_array_equal(a, b)  # a fresh layer with the same seed draws the same
    assert not np.array_equal(np.asarray(layers.RandomRotation(0.3, seed=6)(X)), a)
    chw = np.moveaxis(X, -1, 1)
    out = _train(layers.RandomRotation((0.1, 0.1), data_format="channels_first"), chw)
    ref = _train(layers.RandomRotation((0.1, 0.1)))
    np.testing.assert_allclose(np.moveaxis(out, 1, -1), ref, atol=1e-3)
    np.testing.assert_array_equal(
        np.asarray(layers.RandomCrop(4, 5)(X, training=False)),
        np.asarray(jnet.layers.Resizing(4, 5, crop_to_aspect_ratio=True)(X)),
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="RandomFlip.*mode"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="RandomRotation.*fill_mode"):
        layers.RandomRotation(0.1, fill_mode="bogus")
    with pytest.raises(ValueError, match="RandomZoom.*height_factor"):
        layers.RandomZoom(1.5)
    with pytest.raises(ValueError, match="RandomTranslation.*lower bound"):
        layers.RandomTranslation((0.3, 0.1), 0.1)
    with pytest.raises(ValueError, match="RandomContrast.*factor"):
        layers.RandomContrast(-0.2)
    with pytest.raises(ValueError, match="RandomBrightness.*value_range"):
        layers.RandomBrightness(0.1, value_range=(1, 0))
    with pytest.raises(ValueError, match="RandomFlip.*rank 3"):
        layers.RandomFlip()(np.zeros((4, 4), "float32"))
    with pytest.raises(ValueError, match="RandomFlip.*random key"):
        layers.RandomFlip().apply({}, X, training=True)
    with pytest.raises(ValueError, match="RandomGrayscale.*factor"):
        layers.RandomGrayscale(1.5)
    with pytest.raises(ValueError, match="RandomInvert.*factor"):
        layers.RandomInvert((0.2, 2.0))
    with pytest.raises(ValueError, match="RandomColorDegeneration.*RGB"):
        layers.RandomColorDegeneration(0.5)(np.zeros((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="RandomHue.*RGB"):
        layers.RandomHue(0.5)(np.zeros((1, 4, 4, 2), "float32"))
    with pytest.raises(ValueError, match="RandomSharpness.*factor"):
        layers.RandomSharpness(-0.5)
    with pytest.raises(ValueError, match="RandomPosterization.*factor"):
        layers.RandomPosterization(9)
    with pytest.raises(ValueError, match="RandomFlip.*strings"):
        layers.RandomFlip()(np.array([["a"]]))


def _compile_counter():
    counts = {"n": 0}

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            counts["n"] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    return counts


def test_augmentation_in_fit_compiles_once_and_is_off_in_predict():
    model = jnet.Sequential(
        [
            jnet.Input((7, 9, 3)),
            layers.Rescaling(1 / 255.0),
            layers.RandomFlip(),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.1),
            layers.RandomTranslation(0.1, 0.1),
            layers.RandomContrast(0.2, value_range=(0, 1)),
            layers.RandomBrightness(0.1, value_range=(0, 1)),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((4, 2), "float32")
    counts = _compile_counter()
    marks = []
    cb = jnet.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: marks.append(counts["n"]))
    model.fit(X, y, epochs=3, batch_size=2, verbose=0, callbacks=[cb])
    assert marks[0] > 0 and marks[0] == marks[1] == marks[2]  # epochs 2 and 3 compile nothing
    p1, p2 = model.predict(X, verbose=0), model.predict(X, verbose=0)
    np.testing.assert_array_equal(p1, p2)  # no augmentation at inference


def test_saturation_stays_in_range_where_keras_does_not():
    out = _train(layers.RandomSaturation((0.8, 0.8)))  # saturation x4, clipped to 1
    assert out.min() >= -1e-3 and out.max() <= 255 + 1e-3
    gray = _train(layers.RandomSaturation((0.0, 0.0)))  # no saturation: R = G = B = V
    np.testing.assert_allclose(gray, np.broadcast_to(X.max(-1, keepdims=True), X.shape), rtol=1e-5)


def test_color_jitter_composes_the_single_layers():
    jitter = layers.RandomColorJitter(brightness_factor=(0.1, 0.1), contrast_factor=(0.0, 0.0))
    expected = _train(layers.RandomBrightness((0.1, 0.1)))  # contrast x1: brightness alone
    np.testing.assert_allclose(_train(jitter), expected, rtol=1e-5, atol=1e-3)
    with pytest.raises(ValueError, match="RandomColorJitter.*hue_factor"):
        layers.RandomColorJitter(hue_factor=2.0)


def test_auto_contrast_always_applies_and_keeps_constant_channels():
    x = X.copy() * 0.5 + 20
    x[0, ..., 1] = 7.0  # a constant channel stays as it is
    k = keras.layers.AutoContrast(value_range=(0, 1))
    with jax.numpy_rank_promotion("allow"):
        expected = np.asarray(k(x / 400, training=False))
    ac = layers.AutoContrast(value_range=(0, 1))
    out = np.asarray(ac(x / 400, training=False))  # deterministic: also at inference
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1:].min(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(out[1:].max(axis=(1, 2)), 1, atol=1e-6)
    np.testing.assert_allclose(out[0, ..., 1], 7.0 / 400, rtol=1e-6)
    check_layer(
        layers.AutoContrast(), X, grad=False, reference=lambda v, x: np.asarray(layers.AutoContrast()(np.asarray(x)))
    )


def test_pipeline_threads_training_and_keys():
    import json

    from jnet.layers.base import deserialize, serialize

    p = layers.Pipeline([layers.RandomFlip(), layers.RandomRotation(0.2), layers.Rescaling(1 / 255.0)])
    np.testing.assert_allclose(np.asarray(p(X, training=False)), X / 255, rtol=1e-6)  # inference
    assert not np.allclose(np.asarray(p(X)), X / 255)  # called directly: augments, as in Keras
    a = _train(p)
    np.testing.assert_array_equal(_train(p), a)  # the same key, the same draws
    clone = deserialize(json.loads(json.dumps(serialize(p))))
    assert [type(layer).__name__ for layer in clone.layers] == ["RandomFlip", "RandomRotation", "Rescaling"]
    np.testing.assert_array_equal(_train(clone), a)
    model = jnet.Sequential([jnet.Input((7, 9, 3)), p, layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, np.zeros((4, 1)), epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))
    with pytest.raises(ValueError, match="Pipeline.*list of layers"):
        layers.Pipeline(["flip"])
