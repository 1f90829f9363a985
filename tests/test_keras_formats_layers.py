"""Keras's file formats for each layer family, both ways, from one table: Keras saves `.keras`,
`.weights.h5` and legacy `.h5` -> jnet loads -> same outputs; jnet saves the three -> Keras
loads -> same outputs. Weights are random (not the initializers' values) so a swapped weight
order or a wrong name shows."""

import h5py
import jax
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import jnet


def _allow():
    """Keras relies on implicit rank promotion, which jnet's tests make an error."""
    return jax.numpy_rank_promotion("allow")


def _seq(shape, layers, dtype="float32"):
    return lambda lib: lib.Sequential([lib.Input(shape, dtype=dtype), *layers(lib.layers)])


def _two_inputs(make):
    def build(lib):
        q, v = lib.Input((3, 4), name="query"), lib.Input((5, 4), name="value")
        return lib.Model([q, v], make(lib.layers)([q, v]))

    return build


def _normal(*shape):
    return lambda r: r.randn(2, *shape).astype("float32")


# name -> (model builder over `keras` or `jnet`, input maker over a RandomState)
CASES = {
    "conv1d": (_seq((6, 3), lambda A: [A.Conv1D(2, 3, padding="same", dilation_rate=2)]), _normal(6, 3)),
    "conv3d": (_seq((4, 4, 4, 2), lambda A: [A.Conv3D(2, 2, strides=(1, 2, 1))]), _normal(4, 4, 4, 2)),
    "conv1d_transpose": (_seq((4, 3), lambda A: [A.Conv1DTranspose(2, 3, strides=2)]), _normal(4, 3)),
    "conv2d_transpose": (
        _seq((3, 3, 2), lambda A: [A.Conv2DTranspose(2, 3, strides=2, padding="same")]),
        _normal(3, 3, 2),
    ),
    "conv3d_transpose": (_seq((3, 3, 3, 2), lambda A: [A.Conv3DTranspose(2, 2)]), _normal(3, 3, 3, 2)),
    "separable_conv1d": (_seq((6, 3), lambda A: [A.SeparableConv1D(4, 3, depth_multiplier=2)]), _normal(6, 3)),
    "separable_conv2d": (_seq((5, 5, 3), lambda A: [A.SeparableConv2D(4, 3, depth_multiplier=2)]), _normal(5, 5, 3)),
    "depthwise_conv1d": (_seq((6, 3), lambda A: [A.DepthwiseConv1D(3, depth_multiplier=2)]), _normal(6, 3)),
    "depthwise_conv2d": (_seq((5, 5, 3), lambda A: [A.DepthwiseConv2D(3, depth_multiplier=2)]), _normal(5, 5, 3)),
    "attention": (
        _two_inputs(lambda A: A.Attention(use_scale=True, score_mode="concat")),
        lambda r: [r.randn(2, 3, 4).astype("float32"), r.randn(2, 5, 4).astype("float32")],
    ),
    "additive_attention": (
        _two_inputs(lambda A: A.AdditiveAttention()),
        lambda r: [r.randn(2, 3, 4).astype("float32"), r.randn(2, 5, 4).astype("float32")],
    ),
    # negative values survive to PReLU, so its weight shows in the output
    "prelu_and_activations": (
        _seq(
            (3, 4),
            lambda A: [
                A.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.1),
                A.ELU(alpha=0.5),
                A.LeakyReLU(negative_slope=0.2),
                A.PReLU(shared_axes=[1]),
                A.Softmax(axis=1),
            ],
        ),
        _normal(3, 4),
    ),
    "time_distributed": (_seq((3, 4), lambda A: [A.TimeDistributed(A.Dense(2))]), _normal(3, 4)),
    "normalization_rescaling": (_seq((3,), lambda A: [A.Normalization(), A.Rescaling(0.5, offset=1.0)]), _normal(3)),
    "discretization": (_seq((3,), lambda A: [A.Discretization(bin_boundaries=[-0.5, 0.0, 0.5])]), _normal(3)),
    "category_encoding": (
        _seq((3,), lambda A: [A.CategoryEncoding(5, output_mode="count")], dtype="int32"),
        lambda r: r.randint(0, 5, (2, 3)).astype("int32"),
    ),
    "layer_normalization": (_seq((3, 4), lambda A: [A.LayerNormalization(axis=-1, epsilon=1e-3)]), _normal(3, 4)),
    "embedding_masking": (
        _seq((5,), lambda A: [A.Embedding(6, 3, mask_zero=True), A.GlobalAveragePooling1D()], dtype="int32"),
        lambda r: r.randint(0, 6, (2, 5)).astype("int32"),
    ),
    "pooling_reshaping_1d": (
        _seq(
            (8, 2),
            lambda A: [
                A.ZeroPadding1D(1),
                A.Cropping1D((1, 0)),
                A.MaxPooling1D(2),
                A.UpSampling1D(2),
                A.AveragePooling1D(2),
                A.Permute((2, 1)),
                A.Reshape((4, 2)),
                A.GlobalMaxPooling1D(),
                A.RepeatVector(2),
                A.Flatten(),
            ],
        ),
        _normal(8, 2),
    ),
    "pooling_reshaping_2d": (
        _seq(
            (6, 6, 2),
            lambda A: [
                A.ZeroPadding2D(1),
                A.Cropping2D(((1, 0), (0, 1))),
                A.MaxPooling2D(2),
                A.UpSampling2D(2),
                A.AveragePooling2D(2, padding="same"),
                A.GlobalAveragePooling2D(keepdims=True),
                A.Flatten(),
            ],
        ),
        _normal(6, 6, 2),
    ),
    "pooling_3d": (
        _seq((4, 4, 4, 2), lambda A: [A.MaxPooling3D(2), A.AveragePooling3D(1), A.GlobalMaxPooling3D()]),
        _normal(4, 4, 4, 2),
    ),
    "normalizations": (
        _seq((3, 4), lambda A: [A.GroupNormalization(groups=2), A.UnitNormalization(), A.RMSNormalization()]),
        _normal(3, 4),
    ),
    "einsum_dense": (
        _seq((3, 4), lambda A: [A.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d")]),
        _normal(3, 4),
    ),
    "reshaping_3d": (
        _seq((3, 3, 3, 2), lambda A: [A.ZeroPadding3D(1), A.Cropping3D(1), A.UpSampling3D(2)]),
        _normal(3, 3, 3, 2),
    ),
    "conv_lstm2d": (_seq((3, 4, 4, 2), lambda A: [A.ConvLSTM2D(2, 3, padding="same")]), _normal(3, 4, 4, 2)),
    "spectral_normalization": (_seq((4,), lambda A: [A.SpectralNormalization(A.Dense(3))]), _normal(4)),
    "stacked_rnn_cells": (
        _seq((3, 4), lambda A: [A.RNN(A.StackedRNNCells([A.LSTMCell(3), A.GRUCell(2)]))]),
        _normal(3, 4),
    ),
}


def _randomize(weights, rng):
    """Random values of each weight's shape; positive, so variances stay valid."""
    out = []
    for w in weights:
        w = np.asarray(w)
        out.append(
            rng.randint(1, 5, w.shape).astype(w.dtype)
            if w.dtype.kind in "iu"
            else rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
        )
    return out


def _outputs(model, x, keras_model=False):
    # Op by op: each model here runs once, and JAX caches the small ops across models, where
    # compiling every model whole would dominate the test's time.
    with jax.disable_jit(), jax.numpy_rank_promotion("allow" if keras_model else "raise"):
        return np.asarray(model(x, training=False))


def _close(a, b, what):
    np.testing.assert_allclose(np.asarray(a, "float64"), np.asarray(b, "float64"), rtol=1e-5, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_family_formats_both_ways(tmp_path, name):
    build, make_x = CASES[name]
    x = make_x(np.random.RandomState(0))
    with _allow():
        km = build(keras)
        km.set_weights(_randomize(km.get_weights(), np.random.RandomState(1)))
        for layer in km.layers:  # Keras's Normalization reads its weights only here (as on loading)
            if hasattr(layer, "finalize_state"):
                layer.finalize_state()
        expected = _outputs(km, x, keras_model=True)
        km.save(tmp_path / "k.keras")
        km.save_weights(tmp_path / "k.weights.h5")
        km.save(tmp_path / "k.h5")
        with h5py.File(tmp_path / "kw.h5", "w") as f:  # Keras 3 writes legacy weights files only this way
            legacy_h5_format.save_weights_to_hdf5_group(f, km)

    # Keras -> jnet
    _close(_outputs(jnet.models.load_model(tmp_path / "k.keras"), x), expected, "Keras .keras -> jnet")
    _close(_outputs(jnet.models.load_model(tmp_path / "k.h5"), x), expected, "Keras legacy .h5 -> jnet")
    jm = build(jnet)
    jm.load_weights(tmp_path / "k.weights.h5")
    _close(_outputs(jm, x), expected, "Keras .weights.h5 -> jnet")
    jm = build(jnet)
    jm.load_weights(tmp_path / "kw.h5")
    _close(_outputs(jm, x), expected, "Keras legacy weights .h5 -> jnet")

    # jnet -> Keras, from other random weights
    jm.set_weights(_randomize(jm.get_weights(), np.random.RandomState(2)))
    mine = _outputs(jm, x)
    assert not np.allclose(mine, expected) or not jm.get_weights()  # the weights did change
    jm.save(tmp_path / "j.keras")
    jm.save_weights(tmp_path / "j.weights.h5")
    jm.save(tmp_path / "j.h5")
    jm.save_weights(tmp_path / "jw.h5")
    with _allow():
        _close(_outputs(keras.models.load_model(tmp_path / "j.keras"), x, True), mine, "jnet .keras -> Keras")
        _close(_outputs(keras.models.load_model(tmp_path / "j.h5"), x, True), mine, "jnet legacy .h5 -> Keras")
        other = build(keras)
        other.load_weights(tmp_path / "j.weights.h5")
        _close(_outputs(other, x, True), mine, "jnet .weights.h5 -> Keras")
        other = build(keras)
        other.load_weights(tmp_path / "jw.h5")
        _close(_outputs(other, x, True), mine, "jnet legacy weights .h5 -> Keras")
