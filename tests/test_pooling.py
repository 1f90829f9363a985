"""Pooling layers: the harness, Keras 3 parity, a numpy reference for Keras's 'same' average
(padding left out of the count), input gradients against Keras, masks, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer

from jnet import layers

keras = pytest.importorskip("keras")


def _spec(shape):
    return jax.ShapeDtypeStruct(shape, jnp.float32)


def _x(shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


PARITY = [
    ("MaxPooling1D", dict(), (2, 7, 4)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (1, 8, 4)),
    ("MaxPooling2D", dict(), (1, 7, 7, 4)),
    ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same"), (1, 7, 7, 4)),
    ("MaxPooling2D", dict(pool_size=(2, 3), strides=1), (1, 7, 7, 4)),
    ("MaxPooling2D", dict(pool_size=2, padding="same", data_format="channels_first"), (1, 4, 7, 7)),
    ("MaxPooling3D", dict(), (1, 4, 5, 4, 2)),
    ("MaxPooling3D", dict(pool_size=3, strides=2, padding="same"), (1, 5, 5, 5, 2)),
    ("AveragePooling1D", dict(pool_size=2), (2, 7, 4)),
    ("AveragePooling1D", dict(pool_size=4, strides=3, padding="same"), (1, 7, 4)),
    ("AveragePooling2D", dict(pool_size=2), (1, 7, 7, 4)),
    ("AveragePooling2D", dict(pool_size=3, strides=2, padding="same"), (1, 7, 7, 4)),
    ("AveragePooling2D", dict(pool_size=(2, 3), strides=(1, 2), padding="same"), (1, 7, 8, 4)),
    ("AveragePooling2D", dict(pool_size=3, strides=1, padding="same", data_format="channels_first"), (1, 4, 7, 7)),
    ("AveragePooling3D", dict(pool_size=2, padding="same"), (1, 5, 5, 5, 2)),
    ("GlobalAveragePooling1D", dict(), (2, 7, 4)),
    ("GlobalAveragePooling1D", dict(keepdims=True, data_format="channels_first"), (2, 4, 7)),
    ("GlobalMaxPooling1D", dict(keepdims=True), (2, 7, 4)),
    ("GlobalAveragePooling2D", dict(), (2, 7, 7, 4)),
    ("GlobalAveragePooling2D", dict(keepdims=True), (2, 7, 7, 4)),
    ("GlobalMaxPooling2D", dict(data_format="channels_first"), (2, 4, 7, 7)),
    ("GlobalAveragePooling3D", dict(keepdims=True), (2, 3, 4, 3, 2)),
    ("GlobalMaxPooling3D", dict(), (2, 3, 4, 3, 2)),
]


def _case_id(case):
    name, kwargs, _ = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", PARITY, ids=[_case_id(c) for c in PARITY])
def test_pooling_matches_keras(case):
    name, kwargs, shape = case
    kl = getattr(keras.layers, name)(**kwargs)
    _, y = check_layer(getattr(layers, name)(**kwargs), _x(shape), reference=lambda v, x: np.asarray(kl(np.asarray(x))))
    assert y.shape == tuple(kl.compute_output_shape(shape))


def _numpy_avg_pool_same(x, pool, strides):
    """'same' average pooling over NHWC where the mean counts only real (unpadded) elements."""
    n, h, w, c = x.shape
    oh, ow = -(-h // strides[0]), -(-w // strides[1])
    top = max((oh - 1) * strides[0] + pool[0] - h, 0) // 2
    left = max((ow - 1) * strides[1] + pool[1] - w, 0) // 2
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * strides[0] - top, j * strides[1] - left
            window = x[:, max(r0, 0) : r0 + pool[0], max(c0, 0) : c0 + pool[1], :]
            out[:, i, j] = window.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("pool, strides", [((3, 3), (2, 2)), ((2, 4), (1, 3)), ((4, 4), (1, 1))])
def test_average_same_excludes_padding_numpy(pool, strides):
    x = _x((2, 7, 6, 3))
    check_layer(
        layers.AveragePooling2D(pool, strides, padding="same"),
        x,
        reference=lambda v, x: _numpy_avg_pool_same(np.asarray(x, np.float64), pool, strides),
    )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same")),
        ("AveragePooling2D", dict(pool_size=3, strides=2, padding="same")),
    ],
)
def test_input_gradients_match_keras(name, kwargs):
    x = jnp.asarray(_x((2, 7, 7, 3)))
    layer, kl = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    target = jnp.asarray(_x(layer.output_spec(_spec(x.shape)).shape, seed=1))
    g = jax.grad(lambda x: jnp.sum(jnp.square(layer.apply({}, x)[0] - target)))(x)
    k = jax.grad(lambda x: jnp.sum(jnp.square(kl(x) - target)))(x)
    np.testing.assert_allclose(g, k, rtol=1e-5, atol=1e-5)
    assert float(jnp.max(jnp.abs(g))) > 0


def test_unknown_sizes_stay_unknown():
    """Shape inference must not turn an unknown size into a known one (a stride-2 pool maps
    nearby stand-in sizes such as 16 and 17 to the same length)."""
    import jnet

    x = jnet.Input((None, None, 3))
    assert layers.MaxPooling2D()(x).shape == (None, None, None, 3)
    assert layers.AveragePooling2D(4, padding="same")(x).shape == (None, None, None, 3)
    assert layers.MaxPooling2D()(jnet.Input((9, None, 3))).shape == (None, 4, None, 3)
    assert layers.AveragePooling1D(3, strides=2)(jnet.Input((None, 2))).shape == (None, None, 2)


def test_defaults_like_keras():
    assert layers.MaxPooling2D().pool_size == (2, 2) and layers.MaxPooling2D().strides == (2, 2)
    assert layers.MaxPooling1D(3).strides == (3,)
    assert layers.MaxPooling3D(strides=1).strides == (1, 1, 1)
    with pytest.raises(TypeError):
        layers.AveragePooling2D()  # pool_size is required, as in Keras
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.GlobalAvgPool1D is layers.GlobalAveragePooling1D


# --------------------------------------------------------------------------- masks


def _mask():
    return np.array([[1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]], bool)


def _masked_apply(layer, x, mask):
    """Eager and jitted outputs agree. (Not `check_layer(apply_kwargs={"mask": ...})`: its
    unknown-batch check re-traces with other batch sizes but keeps the mask's batch.)"""
    y, _ = layer.apply({}, x, mask=mask)
    y_jit, _ = jax.jit(lambda x, m: layer.apply({}, x, mask=m))(x, mask)
    np.testing.assert_allclose(y, y_jit, rtol=1e-6)
    return np.asarray(y)


def test_global_average_1d_mask_matches_keras_and_unpadded():
    x, mask = _x((2, 7, 4)), _mask()
    y = _masked_apply(layers.GlobalAveragePooling1D(), x, mask)
    np.testing.assert_allclose(y, keras.layers.GlobalAveragePooling1D()(x, mask=mask), rtol=1e-5, atol=1e-6)
    # the same as pooling each sequence without its padding
    for row, length in enumerate(mask.sum(1)):
        np.testing.assert_allclose(y[row], x[row, :length].mean(0), rtol=1e-6)


def test_global_max_1d_mask_ignores_padded_steps():
    x, mask = _x((2, 7, 4)), _mask()
    x[:, 6] = 100.0  # a padded step with the largest values must not win
    y = _masked_apply(layers.GlobalMaxPooling1D(), x, mask)
    np.testing.assert_allclose(y, np.stack([x[r, :n].max(0) for r, n in enumerate(mask.sum(1))]), rtol=1e-6)
    assert float(np.max(y)) < 100.0


def test_global_pooling_1d_mask_channels_first():
    x, mask = _x((2, 7, 4)), _mask()
    y = _masked_apply(layers.GlobalAveragePooling1D(data_format="channels_first"), np.swapaxes(x, 1, 2), mask)
    np.testing.assert_allclose(y, _masked_apply(layers.GlobalAveragePooling1D(), x, mask), rtol=1e-6)


@pytest.mark.parametrize("name", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
def test_fully_masked_sample_pools_to_zero_with_finite_grads(name):
    layer = getattr(layers, name)(keepdims=True)
    x, mask = jnp.asarray(_x((2, 5, 3))), jnp.array([[True] * 5, [False] * 5])
    y, _ = layer.apply({}, x, mask=mask)
    assert y.shape == (2, 1, 3)
    np.testing.assert_array_equal(y[1], 0.0)
    g = jax.grad(lambda x: jnp.sum(layer.apply({}, x, mask=mask)[0] ** 2))(x)
    assert bool(jnp.all(jnp.isfinite(g))) and not bool(jnp.any(g[1]))


def test_mask_of_the_wrong_shape_names_the_layer():
    with pytest.raises(
        ValueError,
        match=r"GlobalAveragePooling1D 'global_average_pooling1d': expected a mask of shape \(batch, steps\) = \(2, 7\), got \(2, 6\)",
    ):
        layers.GlobalAveragePooling1D().apply({}, jnp.ones((2, 7, 4)), mask=jnp.ones((2, 6), bool))


# --------------------------------------------------------------------------- bad input


def test_pooling_fed_the_wrong_rank_names_the_layer():
    with pytest.raises(
        ValueError,
        match=r"MaxPooling2D 'max_pooling2d': expected input of rank 4 \(batch, height, width, channels\), got rank 3",
    ):
        layers.MaxPooling2D().output_spec(_spec((1, 7, 7)))
    with pytest.raises(
        ValueError, match=r"GlobalAveragePooling1D 'global_average_pooling1d': expected input of rank 3"
    ):
        layers.GlobalAveragePooling1D().output_spec(_spec((1, 7)))


def test_pool_larger_than_valid_input():
    with pytest.raises(
        ValueError,
        match=r"AveragePooling2D 'average_pooling2d': with padding='valid' the pool size \(4 along width\) is larger than the input \(3\)",
    ):
        layers.AveragePooling2D(4).output_spec(_spec((1, 5, 3, 2)))
    assert layers.AveragePooling2D(4, padding="same").output_spec(_spec((1, 5, 3, 2))).shape == (1, 2, 1, 2)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: layers.MaxPooling2D(padding="full"),
            r"MaxPooling2D 'max_pooling2d': padding must be one of 'valid', 'same', got 'full'",
        ),
        (lambda: layers.MaxPooling2D(pool_size=0), r"every entry of pool_size must be positive"),
        (lambda: layers.AveragePooling1D(2, strides=(1, 1)), r"strides must be an int or a tuple of 1 ints"),
        (
            lambda: layers.GlobalMaxPooling2D(data_format="nhwc"),
            r"data_format must be 'channels_last' or 'channels_first'",
        ),
    ],
)
def test_bad_config_is_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()
