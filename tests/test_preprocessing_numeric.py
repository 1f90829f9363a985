"""Numeric and image preprocessing layers against Keras 3 (JAX backend) and numpy closed forms."""

import json

import jax
import keras
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers
from jnet.layers.base import deserialize, serialize

RS = np.random.RandomState(0)
X = (RS.randn(40, 3) * 3 + 1).astype("float32")
IMG = (RS.rand(2, 7, 10, 3) * 255).astype("float32")


def _np(x):
    return np.asarray(x)


def _k(kl, x):
    """A Keras layer's output (Keras relies on rank promotion, which these tests make an error)."""
    with jax.numpy_rank_promotion("allow"):
        return np.asarray(kl(np.asarray(x)))


@pytest.mark.parametrize("axis", [-1, None, (1, 2)])
def test_normalization_adapt_matches_keras_and_numpy(axis):
    x = RS.randn(6, 4, 5).astype("float32") * 2 + 3
    n = layers.Normalization(axis=axis)
    n.adapt(x)
    k = keras.layers.Normalization(axis=axis)
    k.adapt(x)
    np.testing.assert_allclose(_np(n(x)), _np(k(x)), rtol=1e-5, atol=1e-5)
    keep = () if axis is None else ((axis,) if isinstance(axis, int) else axis)
    reduce = tuple(a for a in range(3) if a % 3 not in [k % 3 for k in keep])
    np.testing.assert_allclose(_np(n.adapt_mean), x.mean(axis=reduce), rtol=1e-5)
    np.testing.assert_allclose(_np(n.adapt_variance), x.var(axis=reduce), rtol=1e-5)


def test_normalization_batches_weights_invert_and_fixed_stats():
    n = layers.Normalization()
    n.adapt([X[:7], (X[7:30], np.zeros(23)), X[30:]])  # iterable of batches, (x, y) pairs too
    np.testing.assert_allclose(_np(n.adapt_mean), X.mean(0), rtol=1e-5)
    np.testing.assert_allclose(_np(n.adapt_variance), X.var(0), rtol=1e-5)
    assert int(n.count.numpy()) == 40
    assert [w.name for w in n.weights] == ["mean", "variance", "count"] and not n.trainable_weights
    y = _np(n(X))
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-4)
    inv = layers.Normalization(invert=True)
    inv.adapt(X)
    np.testing.assert_allclose(_np(inv(y)), X, rtol=1e-4, atol=1e-4)
    fixed = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25])
    np.testing.assert_allclose(_np(fixed(X)), (X - [1, 2, 3]) / [2, 1, 0.5], rtol=1e-5)
    kf = keras.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25])
    np.testing.assert_allclose(_np(fixed(X)), _np(kf(X)), rtol=1e-5)
    check_layer(fixed, X[:4], reference=lambda v, x: _k(kf, x))


def test_normalization_saves_adapted_stats_with_the_model(tmp_path):
    n = layers.Normalization()
    n.adapt(X)
    model = jnet.Sequential([jnet.Input((3,)), n, layers.Dense(2)])
    expected = _np(model.predict(X, verbose=0))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = jnet.saving.load_model(path)
    np.testing.assert_allclose(_np(loaded.predict(X, verbose=0)), expected, rtol=1e-5)


def test_normalization_bad_input():
    with pytest.raises(ValueError, match="Normalization.*adapt.*empty"):
        layers.Normalization().adapt([])
    with pytest.raises(ValueError, match="Normalization.*numeric"):
        layers.Normalization().adapt(np.array([["a"], ["b"]]))
    with pytest.raises(ValueError, match="Normalization.*numeric"):
        layers.Normalization(mean=0.0, variance=1.0)(np.array([["a"]]))
    with pytest.raises(ValueError, match="Normalization.*mean and variance"):
        layers.Normalization(mean=1.0)
    n = layers.Normalization()
    n.adapt(X)
    with pytest.raises(ValueError, match="Normalization.*adapt.*batch of shape"):
        n.adapt(np.zeros((3, 4), "float32"))


def test_rescaling_matches_keras():
    for scale, offset in [(1 / 255.0, 0.0), (1 / 127.5, -1.0), ([0.5, 1.0, 2.0], [0.0, 1.0, 0.0])]:
        layer = layers.Rescaling(scale, offset=offset)
        k = keras.layers.Rescaling(scale, offset=offset)
        check_layer(layer, IMG, reference=lambda v, x: _k(k, x))
    out = layers.Rescaling(0.5)(np.arange(4, dtype="int32"))
    assert out.dtype == np.float32 and np.allclose(out, [0, 0.5, 1, 1.5])


@pytest.mark.parametrize("num_bins,epsilon", [(4, 0.01), (7, 0.07), (3, 0.3)])
def test_discretization_adapt_gives_keras_boundaries(num_bins, epsilon):
    x = (RS.randn(300) * 3).astype("float32")
    d = layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    d.adapt([x[:100], x[100:]])
    k = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    k.reset_state()  # Keras's adapt needs TensorFlow; its numpy state update does not
    k.update_state(x[:100])
    k.update_state(x[100:])
    k.finalize_state()
    np.testing.assert_allclose(d.bin_boundaries, k.bin_boundaries, rtol=1e-6)
    assert len(d.bin_boundaries) == num_bins - 1
    clone = deserialize(json.loads(json.dumps(serialize(d))))  # adapted boundaries live in the config
    assert clone.bin_boundaries == d.bin_boundaries


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_output_modes_match_keras(mode):
    d = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode=mode)
    k = keras.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode=mode)
    for x in [X[:5, :2], X[:4, :1], X[:3, 0], np.array([[0.0, 1.0, 2.0, -1.0]], "float32")]:
        a, b = _np(d(x)), _np(k(x))
        assert a.dtype == b.dtype and a.shape == d.compute_output_shape(x.shape)
        np.testing.assert_array_equal(a, b)
    check_layer(d, X[:5, :2], grad=False)


def test_discretization_bad_input():
    with pytest.raises(ValueError, match="Discretization.*pass bin_boundaries, or num_bins"):
        layers.Discretization()
    with pytest.raises(ValueError, match="Discretization.*output_mode"):
        layers.Discretization([0.0], output_mode="tf_idf")
    with pytest.raises(ValueError, match="Discretization.*sorted"):
        layers.Discretization([1.0, 0.0])
    with pytest.raises(ValueError, match="Discretization.*adapt.*empty"):
        layers.Discretization(num_bins=3).adapt(np.zeros((0,), "float32"))


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"interpolation": "nearest"},
        {"interpolation": "bicubic"},
        {"interpolation": "lanczos3"},
        {"crop_to_aspect_ratio": True},
        {"pad_to_aspect_ratio": True, "fill_value": 3.0},
        {"antialias": True},
    ],
)
@pytest.mark.parametrize("size", [(5, 5), (9, 4), (14, 20)])
def test_resizing_matches_keras(kw, size):
    a = _np(layers.Resizing(*size, **kw)(IMG))
    b = _np(keras.layers.Resizing(*size, **kw)(IMG))
    assert a.shape == b.shape == (2,) + size + (3,)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


def test_resizing_dtypes_formats_and_harness():
    u8 = IMG.astype("uint8")
    a, b = _np(layers.Resizing(5, 6)(u8)), _np(keras.layers.Resizing(5, 6)(u8))
    assert a.dtype == np.uint8 and np.array_equal(a, b)
    chw = np.moveaxis(IMG, -1, 1)
    a = _np(layers.Resizing(4, 5, data_format="channels_first")(chw))
    b = _np(keras.layers.Resizing(4, 5, data_format="channels_first")(chw))
    assert a.shape == (2, 3, 4, 5)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    check_layer(
        layers.Resizing(4, 6), IMG, reference=lambda v, x: _np(keras.layers.Resizing(4, 6)(np.asarray(x))), atol=1e-3
    )
    with pytest.raises(ValueError, match="Resizing.*interpolation"):
        layers.Resizing(2, 2, interpolation="cubic-ish")
    with pytest.raises(ValueError, match="Resizing.*only one"):
        layers.Resizing(2, 2, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match="Resizing.*rank 3"):
        layers.Resizing(2, 2)(np.zeros((4, 4), "float32"))


@pytest.mark.parametrize("size", [(5, 5), (7, 10), (9, 4), (14, 20), (3, 12)])
def test_center_crop_matches_keras(size):
    for x in [IMG, IMG[0], IMG.astype("uint8")]:
        a, b = _np(layers.CenterCrop(*size)(x)), _np(keras.layers.CenterCrop(*size)(x))
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(_np(layers.CenterCrop(3, 4)(IMG)), IMG[:, 2:5, 3:7])
