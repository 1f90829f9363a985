"""Reshaping layers against Keras 3 and numpy; masks are dropped, errors name the layer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer
from keras_ref import keras_run

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(3)
SEQ = RS.randn(2, 6, 4).astype(np.float32)  # (batch, steps, features)
IMG = RS.randn(2, 5, 6, 3).astype(np.float32)  # NHWC
VEC = RS.randn(2, 4).astype(np.float32)

CASES = [
    ("Flatten", {}, SEQ),
    ("Flatten", {}, IMG),
    ("Flatten", {"data_format": "channels_first"}, IMG),
    ("Flatten", {}, RS.randn(3).astype(np.float32)),  # (batch,) -> (batch, 1)
    ("Reshape", {"target_shape": (4, 6)}, SEQ),
    ("Reshape", {"target_shape": (-1, 2)}, SEQ),
    ("Permute", {"dims": (2, 1)}, SEQ),
    ("Permute", {"dims": (3, 1, 2)}, IMG),
    ("RepeatVector", {"n": 3}, VEC),
    ("UpSampling1D", {}, SEQ),
    ("UpSampling1D", {"size": 3}, SEQ),
    ("UpSampling2D", {}, IMG),
    ("UpSampling2D", {"size": (1, 3)}, IMG),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, IMG),
    ("UpSampling2D", {"size": 2, "data_format": "channels_first"}, IMG),
    ("ZeroPadding1D", {}, SEQ),
    ("ZeroPadding1D", {"padding": (2, 0)}, SEQ),
    ("ZeroPadding2D", {}, IMG),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, IMG),
    ("ZeroPadding2D", {"padding": 1, "data_format": "channels_first"}, IMG),
    ("Cropping1D", {}, SEQ),
    ("Cropping1D", {"cropping": (0, 2)}, SEQ),
    ("Cropping2D", {"cropping": 1}, IMG),
    ("Cropping2D", {"cropping": ((0, 2), (1, 0))}, IMG),
    ("Cropping2D", {"cropping": ((1, 1), (0, 2)), "data_format": "channels_first"}, IMG),
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_reshaping_layers_match_keras(i):
    name, kwargs, x = CASES[i]
    layer = getattr(layers, name)(**kwargs)
    check_layer(layer, x, reference=lambda v, x: keras_run(getattr(keras.layers, name)(**kwargs), x))


def test_reshaping_numpy_semantics():
    out = lambda layer, x: np.asarray(layer.apply({}, x)[0])  # noqa: E731
    np.testing.assert_array_equal(out(layers.Flatten(), IMG), IMG.reshape(2, -1))
    np.testing.assert_array_equal(out(layers.Reshape((-1, 3)), IMG), IMG.reshape(2, -1, 3))
    np.testing.assert_array_equal(out(layers.Permute((2, 1)), SEQ), SEQ.transpose(0, 2, 1))
    np.testing.assert_array_equal(out(layers.RepeatVector(2), VEC), np.stack([VEC, VEC], 1))
    np.testing.assert_array_equal(out(layers.UpSampling2D((2, 1)), IMG), IMG.repeat(2, axis=1))
    np.testing.assert_array_equal(out(layers.ZeroPadding1D(1), SEQ), np.pad(SEQ, ((0, 0), (1, 1), (0, 0))))
    np.testing.assert_array_equal(out(layers.Cropping2D(((1, 2), (0, 1))), IMG), IMG[:, 1:3, 0:5])


def test_variable_length_axes_stay_unknown():
    x = jnet.Input((None, 4))
    assert layers.Flatten()(x).shape == (None, None)
    assert layers.Permute((2, 1))(x).shape == (None, 4, None)
    assert layers.UpSampling1D(2)(x).shape == (None, None, 4)
    assert layers.ZeroPadding1D(1)(x).shape == (None, None, 4)
    assert layers.Reshape((-1, 2))(x).shape == (None, None, 2)


def test_masks_are_dropped_as_in_keras():
    m = jnp.ones((2, 6), bool)
    for layer in (
        layers.Flatten(),
        layers.Reshape((24,)),
        layers.Permute((2, 1)),
        layers.UpSampling1D(),
        layers.ZeroPadding1D(),
        layers.Cropping1D(),
    ):
        assert layer.compute_mask(SEQ, m) is None
        tokens = jnet.Input((6,), dtype="int32")
        model = jnet.Model(tokens, layer(layers.Embedding(5, 4, mask_zero=True)(tokens)))
        assert model.compute_mask(None, None) is None
        _, out_mask = model._call_with_mask((jnp.ones((2, 6), jnp.int32),), {}, None)
        assert out_mask is None
    assert not keras.layers.Flatten().supports_masking and not keras.layers.Reshape((24,)).supports_masking


def test_reshaping_errors_name_layer():
    with pytest.raises(
        ValueError, match=r"Reshape 'reshape': cannot reshape a sample of shape \(6, 4\) \(24 values\) to \(5, 5\)"
    ):
        layers.Reshape((5, 5)).apply({}, SEQ)
    with pytest.raises(ValueError, match=r"Reshape 'r': cannot reshape .* 24 is not a multiple of 5"):
        layers.Reshape((5, -1), name="r").init(jax.random.key(0), SEQ)
    with pytest.raises(ValueError, match="Reshape 'reshape': target_shape may hold positive ints and at most one -1"):
        layers.Reshape((-1, -1))
    x = jnet.Input((6, 4))
    with pytest.raises(ValueError, match=r"Reshape 'reshape'.*\(7,\)"):
        layers.Reshape((7,))(x)
    with pytest.raises(ValueError, match=r"Permute 'permute': dims must be a permutation of 1..2"):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match=r"Permute 'permute': expected a 4D input"):
        layers.Permute((1, 2, 3))(x)
    with pytest.raises(ValueError, match="RepeatVector 'repeat_vector': expected a 2D input"):
        layers.RepeatVector(2)(x)
    with pytest.raises(ValueError, match="RepeatVector 'repeat_vector': n must be a positive integer"):
        layers.RepeatVector(0)
    with pytest.raises(
        ValueError, match=r"Cropping1D 'cropping1d': cropping \(3, 3\) removes all of axis 1 \(size 6\)"
    ):
        layers.Cropping1D(3)(x)
    with pytest.raises(ValueError, match="Cropping2D 'cropping2d': cropping.* must be a non-negative int"):
        layers.Cropping2D(((1, -1), (0, 0)))
    with pytest.raises(ValueError, match="UpSampling2D 'up_sampling2d': interpolation must be one of"):
        layers.UpSampling2D(interpolation="cubic")
    with pytest.raises(ValueError, match="ZeroPadding2D 'zero_padding2d': data_format must be"):
        layers.ZeroPadding2D(data_format="NHWC")
    with pytest.raises(ValueError, match="UpSampling1D 'up_sampling1d': expected a 3D input"):
        layers.UpSampling1D().apply({}, VEC)
