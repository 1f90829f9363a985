"""The random parts of the newer augmentation layers (Solarization ... AugMix): identity at
inference, shapes and ranges in training, reproducible with a key or a seed, new draws on new
steps, config round trips, no recompile across epochs; MixUp and CutMix closed forms."""

import json

import jax
import numpy as np
import pytest

import jnet
from jnet import layers
from jnet.layers.base import deserialize, serialize

X = (np.random.RandomState(0).rand(4, 7, 9, 3) * 255).astype("float32")
KEY = jax.random.key(3)

RANDOM = [
    lambda: layers.Solarization(0.3, 0.8),
    lambda: layers.RandomGaussianBlur(),
    lambda: layers.RandomErasing(),
    lambda: layers.RandomShear(0.3, 0.3),
    lambda: layers.RandomPerspective(scale=0.5),
    lambda: layers.RandomElasticTransform(),
    lambda: layers.MixUp(alpha=1.0),
    lambda: layers.CutMix(),
    lambda: layers.RandAugment(),
    lambda: layers.AugMix(chain_depth=1, num_chains=2, all_ops=False),
]


def _run(layer, x, rng):
    return np.asarray(jax.jit(lambda a, k: layer.apply({}, a, training=True, rng=k)[0])(x, rng))


@pytest.mark.parametrize("make", RANDOM)
def test_random_layer_contract(make):
    layer = make()
    np.testing.assert_array_equal(np.asarray(layer(X, training=False)), X)  # inference: identity
    step = jax.jit(lambda x, k: layer.apply({}, x, training=True, rng=k)[0])
    out = np.asarray(step(X, KEY))
    assert out.shape == X.shape and out.dtype == np.float32
    assert not np.allclose(out, X)
    assert out.min() >= -1e-3 and out.max() <= 255 + 1e-3  # stays in the value range
    np.testing.assert_array_equal(np.asarray(step(X, KEY)), out)  # same key, same draw
    assert not np.array_equal(np.asarray(step(X, jax.random.key(99))), out)  # a new step, a new draw
    assert jax.eval_shape(step, X[0], KEY).shape == X[0].shape  # one unbatched image
    clone = deserialize(json.loads(json.dumps(serialize(layer))))  # config round trip
    assert type(clone) is type(layer)
    # Equal as JSON: a tuple argument (RandomErasing's scale) comes back a list, as in Keras.
    assert json.loads(json.dumps(clone.get_config())) == json.loads(json.dumps(layer.get_config()))


def test_seed_and_channels_first():
    a, b = layers.Solarization(0.5, 0.5, seed=4), layers.Solarization(0.5, 0.5, seed=4)
    first = np.asarray(a(X))
    np.testing.assert_array_equal(np.asarray(b(X)), first)  # same seed, same draws
    assert not np.array_equal(np.asarray(a(X)), first)  # the seed's next draw differs
    assert not np.array_equal(np.asarray(layers.Solarization(0.5, 0.5, seed=5)(X)), first)
    chw = np.moveaxis(X, -1, 1)
    for make in (lambda f: layers.RandomErasing(data_format=f), lambda f: layers.CutMix(data_format=f)):
        np.testing.assert_allclose(
            np.moveaxis(_run(make("channels_first"), chw, KEY), 1, -1),
            _run(make("channels_last"), X, KEY),
            rtol=1e-5,
            atol=1e-3,
        )


def _recover(labels):
    """From one-hot-of-index labels mixed as `w e_i + (1 - w) e_j`: each row's (w, j)."""
    n = len(labels)
    w = labels[np.arange(n), np.arange(n)]
    other = np.where(np.isclose(w, 1.0), np.arange(n), np.argmax(labels - np.diag(w), axis=1))
    return w, other


def test_mixup_mixes_images_and_labels_alike():
    x = np.random.RandomState(1).rand(6, 5, 5, 3).astype("float32")
    out = layers.MixUp(alpha=1.0, seed=2)({"images": x, "labels": np.eye(6, dtype="float32")})
    w, j = _recover(np.asarray(out["labels"]))
    expected = w[:, None, None, None] * x + (1 - w[:, None, None, None]) * x[j]
    np.testing.assert_allclose(np.asarray(out["images"]), expected, rtol=1e-5, atol=1e-5)
    assert np.any((w > 0.05) & (w < 0.95))  # really mixed
    np.testing.assert_allclose(np.asarray(out["labels"]).sum(axis=1), 1.0, rtol=1e-6)
    same = layers.MixUp()({"images": x, "labels": np.eye(6)}, training=False)
    np.testing.assert_array_equal(np.asarray(same["labels"]), np.eye(6))


def test_cutmix_pastes_a_box_and_weights_labels_by_its_area():
    x = np.random.RandomState(1).rand(6, 8, 8, 3).astype("float32")
    out = layers.CutMix(seed=3)({"images": x, "labels": np.eye(6, dtype="float32")})
    images, (w, j) = np.asarray(out["images"]), _recover(np.asarray(out["labels"]))
    assert np.any(j != np.arange(6))
    for i in range(6):
        pasted = np.all(images[i] == x[j[i]], axis=-1) & ~np.all(images[i] == x[i], axis=-1)
        kept = np.all(images[i] == x[i], axis=-1)
        assert np.all(pasted | kept)  # every pixel is its own or its partner's
        if j[i] != i:
            np.testing.assert_allclose(1 - w[i], pasted.mean(), atol=1e-6)  # label share = pasted area
            rows, cols = np.nonzero(pasted)
            if rows.size:
                assert pasted[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # a box


def test_policies_compose_the_single_layers():
    np.testing.assert_array_equal(_run(layers.RandAugment(num_ops=0), X, KEY), X)
    ra = layers.RandAugment(num_ops=1, factor=0.4)
    out = _run(ra, X, KEY)
    # num_ops=1: each image is one of the 11 operations' outputs, from the same draws
    (k,) = jax.random.split(KEY, 1)
    candidates = jax.jit(lambda x, key: ra._candidates(x, jax.random.split(key)[1]))(X, k)
    picks = [[i for i, c in enumerate(candidates) if np.allclose(out[n], c[n], atol=1e-3)] for n in range(4)]
    assert all(picks), picks
    assert len({p[0] for p in picks}) > 1  # images draw their own operation
    assert len(layers.AugMix(all_ops=False)._ops) == 7 and len(layers.AugMix()._ops) == 11


def test_bad_arguments():
    cases = [
        (lambda: layers.MixUp(alpha=0), "MixUp.*alpha"),
        (lambda: layers.CutMix(factor=1.5), "CutMix.*factor"),
        (lambda: layers.RandAugment(num_ops=-1), "RandAugment.*num_ops"),
        (lambda: layers.RandAugment(factor=2.0), "RandAugment.*factor"),
        (lambda: layers.RandAugment(interpolation="area"), "RandAugment.*interpolation"),
        (lambda: layers.AugMix(num_chains=0), "AugMix.*num_chains"),
        (lambda: layers.AugMix(alpha=-1.0), "AugMix.*alpha"),
        (lambda: layers.AugMix(all_ops="yes"), "AugMix.*all_ops"),
        (lambda: layers.AugMix(value_range=(0,)), "AugMix.*value_range"),
        (lambda: layers.MixUp()({"pixels": X}), "MixUp.*'images'"),
        (lambda: layers.MixUp()({"images": X, "labels": np.eye(3)}), "MixUp.*labels"),
        (lambda: layers.CutMix()(np.zeros((4, 4), "float32")), "CutMix.*rank 3"),
        (lambda: layers.RandAugment(seed=1.5), "RandAugment.*seed"),
    ]
    for make, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            make()


def _compile_counter():
    counts = {"n": 0}

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            counts["n"] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    return counts


def test_new_layers_in_fit_compile_once_and_are_off_in_predict():
    model = jnet.Sequential(
        [
            jnet.Input((7, 9, 3)),
            layers.Solarization(0.1, 0.5),
            layers.RandomShear(0.1, 0.1),
            layers.RandomGaussianBlur(0.5),
            layers.RandomErasing(0.5),
            layers.MixUp(),
            layers.CutMix(),
            layers.Rescaling(1 / 255.0),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    counts = _compile_counter()
    marks = []
    cb = jnet.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: marks.append(counts["n"]))
    model.fit(X, np.zeros((4, 2), "float32"), epochs=3, batch_size=2, verbose=0, callbacks=[cb])
    assert marks[0] > 0 and marks[0] == marks[1] == marks[2]  # epochs 2 and 3 compile nothing
    np.testing.assert_array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))


@pytest.mark.parametrize(
    "name,kw",
    [
        ("Solarization", {"addition_factor": 0.2, "threshold_factor": 0.5}),
        ("Equalization", {"bins": 64}),
        ("RandomGaussianBlur", {"factor": 0.5, "sigma": 0.5}),
        ("RandomErasing", {}),
        ("RandomShear", {"x_factor": 0.2}),
        ("RandomPerspective", {"scale": 0.3}),
        ("RandomElasticTransform", {"scale": 0.5}),
        ("MixUp", {"alpha": 0.4}),
        ("CutMix", {"factor": 0.5}),
        ("RandAugment", {"num_ops": 3}),
        ("AugMix", {"all_ops": False}),
    ],
)
def test_keras_configs_load(name, kw):
    import keras

    config = getattr(keras.layers, name)(**kw).get_config()
    layer = getattr(layers, name).from_config(config)
    for key, value in kw.items():
        kept = getattr(layer, key)
        assert kept == value or kept == config[key] or list(kept) == list(config[key]), key
