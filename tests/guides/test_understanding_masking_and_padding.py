"""Keras guide "Understanding masking & padding" (keras-io
guides/understanding_masking_and_padding.py), ported with `import jnet as keras`,
`from jnet import layers, ops`; layer code is the guide's. Left out: printing `_keras_mask` of
eager outputs (the masks are read with `compute_mask` instead; symbolic tensors carry it)."""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

raw_inputs = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]


def test_pad_sequences():
    padded_inputs = keras.utils.pad_sequences(raw_inputs, padding="post")
    np.testing.assert_array_equal(
        padded_inputs, [[711, 632, 71, 0, 0, 0], [73, 8, 3215, 55, 927, 0], [83, 91, 1, 645, 1253, 927]]
    )


def test_mask_generating_layers():
    padded_inputs = keras.utils.pad_sequences(raw_inputs, padding="post")
    embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
    masked_output = embedding(padded_inputs)
    assert tuple(masked_output.shape) == (3, 6, 16)
    expected = padded_inputs != 0
    np.testing.assert_array_equal(np.asarray(embedding.compute_mask(padded_inputs)), expected)

    masking_layer = layers.Masking()
    unmasked_embedding = ops.cast(ops.tile(ops.expand_dims(padded_inputs, axis=-1), [1, 1, 10]), dtype="float32")
    masked_embedding = masking_layer(unmasked_embedding)
    np.testing.assert_array_equal(np.asarray(masking_layer.compute_mask(unmasked_embedding)), expected)
    np.testing.assert_array_equal(np.asarray(masked_embedding), np.asarray(unmasked_embedding))


def functional_model(keras, layers, ops):
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=50, output_dim=16, mask_zero=True)(inputs)  # 5000 in the guide
    outputs = layers.LSTM(32)(x)
    return keras.Model(inputs, outputs)


def test_symbolic_tensors_carry_masks_as_keras():
    for keras_, layers_, _ in (JNET, KERAS):
        with keras_ok():
            inputs = keras_.Input(shape=(None,), dtype="int32")
            x = layers_.Embedding(input_dim=50, output_dim=16, mask_zero=True)(inputs)
            y = layers_.Dense(4)(x)  # supports masking: passes the mask on
            z = layers_.LSTM(3)(y)  # consumes it
            assert tuple(x._keras_mask.shape) == tuple(y._keras_mask.shape) == (None, None)
            assert getattr(z, "_keras_mask", None) is None and getattr(inputs, "_keras_mask", None) is None


def test_mask_propagation_functional_matches_keras():
    padded = np.array([[7, 3, 1, 0, 0, 0], [5, 8, 2, 9, 4, 0]])
    jm = functional_model(*JNET)
    y = np.asarray(jm(padded))
    # The mask makes the LSTM stop at the last real step: same as running on the unpadded row.
    np.testing.assert_allclose(y[0], np.asarray(jm(padded[:1, :3]))[0], rtol=1e-5, atol=1e-6)
    with keras_ok():
        km = functional_model(*KERAS)
        km.set_weights([np.asarray(w) for w in jm.get_weights()])
        np.testing.assert_allclose(y, np.asarray(km(padded)), rtol=1e-5, atol=1e-6)


def test_passing_mask_tensors_directly():
    class MyLayer(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(input_dim=50, output_dim=16, mask_zero=True)
            self.lstm = layers.LSTM(32)

        def call(self, inputs):
            x = self.embedding(inputs)
            # Note that you could also prepare a `mask` tensor manually.
            # It only needs to be a boolean tensor
            # with the right shape, i.e. (batch_size, timesteps).
            mask = self.embedding.compute_mask(inputs)
            output = self.lstm(x, mask=mask)  # The layer will ignore the masked values
            return output

    layer = MyLayer()
    x = np.random.default_rng(0).integers(0, 50, size=(4, 10)) * (np.arange(10) < 6)
    out = np.asarray(layer(x))
    assert out.shape == (4, 32)
    np.testing.assert_allclose(out, np.asarray(layer(x[:, :6])), rtol=1e-5, atol=1e-6)


def test_custom_mask_layers():
    class TemporalSplit(keras.layers.Layer):
        """Split the input tensor into 2 tensors along the time dimension."""

        def call(self, inputs):
            # Expect the input to be 3D and mask to be 2D, split the input tensor into 2
            # subtensors along the time axis (axis 1).
            return ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            # Also split the mask into 2 if it presents.
            if mask is None:
                return None
            return ops.split(mask, 2, axis=1)

    class CustomEmbedding(keras.layers.Layer):
        def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
            super().__init__(**kwargs)
            self.input_dim = input_dim
            self.output_dim = output_dim
            self.mask_zero = mask_zero

        def build(self, input_shape):
            self.embeddings = self.add_weight(
                shape=(self.input_dim, self.output_dim), initializer="random_normal", dtype="float32"
            )

        def call(self, inputs):
            inputs = ops.cast(inputs, "int32")
            return ops.take(self.embeddings, inputs)

        def compute_mask(self, inputs, mask=None):
            if not self.mask_zero:
                return None
            return ops.not_equal(inputs, 0)

    first_half, second_half = TemporalSplit()(np.ones((2, 4, 3), "float32"))
    assert tuple(first_half.shape) == tuple(second_half.shape) == (2, 2, 3)
    mask_halves = TemporalSplit().compute_mask(None, np.array([[True, True, False, False]] * 2))
    np.testing.assert_array_equal(np.asarray(mask_halves[1]), np.zeros((2, 2), bool))

    layer = CustomEmbedding(10, 32, mask_zero=True)
    x = np.random.default_rng(0).random((3, 10)) * 9
    x = x.astype("int32")
    y = layer(x)
    mask = layer.compute_mask(x)
    np.testing.assert_array_equal(np.asarray(mask), x != 0)
    # The guide's `ops.take` has no axis: it indexes the flattened table (as in Keras 3).
    np.testing.assert_allclose(np.asarray(y), np.take(np.asarray(layer.embeddings.value), x), rtol=1e-6)


def test_supports_masking_and_mask_in_call():
    class MyActivation(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            # Signal that the layer is safe for mask propagation
            self.supports_masking = True

        def call(self, inputs):
            return ops.relu(inputs)

    class TemporalSoftmax(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
            inputs_exp = ops.exp(inputs) * broadcast_float_mask
            inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
            return inputs_exp / inputs_sum

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=50, output_dim=16, mask_zero=True)(inputs)
    x = MyActivation()(x)  # Will pass the mask along
    outputs = layers.LSTM(32)(x)  # Will receive the mask
    model = keras.Model(inputs, outputs)
    ids = np.array([[4, 2, 0, 0]])
    np.testing.assert_allclose(np.asarray(model(ids)), np.asarray(model(ids[:, :2])), rtol=1e-5, atol=1e-6)


def temporal_softmax_model(keras, layers, ops):
    class TemporalSoftmax(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
            inputs_exp = ops.exp(inputs) * broadcast_float_mask
            inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
            return inputs_exp / inputs_sum

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    x = layers.Dense(1)(x)
    outputs = TemporalSoftmax()(x)
    return keras.Model(inputs, outputs)


def test_temporal_softmax_on_keras():
    with keras_ok():
        model = temporal_softmax_model(*KERAS)
        y = np.asarray(model(np.random.default_rng(0).integers(0, 10, size=(32, 100)), training=False))
    assert y.shape == (32, 100, 1)


def test_temporal_softmax_on_jnet():
    model = temporal_softmax_model(*JNET)
    y = np.asarray(model(np.random.default_rng(0).integers(0, 10, size=(32, 100)), training=False))
    assert y.shape == (32, 100, 1)
