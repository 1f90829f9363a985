"""Keras example "Compact Convolutional Transformers" (keras-io examples/vision/cct.py, the Keras 3
version), ported with `import jnet as keras`, `from jnet import layers`. `CCTTokenizer`,
`PositionEmbedding`, `SequencePooling`, `StochasticDepth` (a `SeedGenerator`-driven random drop),
`mlp`, the augmentation pipeline and `create_cct_model` are the example's; the hyperparameters are
scaled down (8x8 images, key_dim 8, MLP units [8, 128] to end at the tokenizer's 128 channels, one
transformer layer) for the inference check (a slow test), which compares the model with Keras 3
on copied weights (augmentation, dropout and stochastic depth are off at inference); the
full-size model's parameter count is checked against Keras 3's, and `StochasticDepth` against
its definition. Left
out: the 30-epoch training run and its plot (the training loop is the ViT port's)."""

import numpy as np
import pytest
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()

positional_emb = True
conv_layers = 2
stochastic_depth_rate = 0.1
num_classes = 10


def define(keras, layers, image_size, projection_dim, transformer_layers):
    num_heads = 2
    transformer_units = [projection_dim, projection_dim]
    input_shape = (image_size, image_size, 3)

    class CCTTokenizer(layers.Layer):
        def __init__(
            self,
            kernel_size=3,
            stride=1,
            padding=1,
            pooling_kernel_size=3,
            pooling_stride=2,
            num_conv_layers=conv_layers,
            num_output_channels=[64, 128],  # noqa: B006 (the example's default)
            positional_emb=positional_emb,
            **kwargs,
        ):
            super().__init__(**kwargs)

            # This is our tokenizer.
            self.conv_model = keras.Sequential()
            for i in range(num_conv_layers):
                self.conv_model.add(
                    layers.Conv2D(
                        num_output_channels[i],
                        kernel_size,
                        stride,
                        padding="valid",
                        use_bias=False,
                        activation="relu",
                        kernel_initializer="he_normal",
                    )
                )
                self.conv_model.add(layers.ZeroPadding2D(padding))
                self.conv_model.add(layers.MaxPooling2D(pooling_kernel_size, pooling_stride, "same"))

            self.positional_emb = positional_emb

        def call(self, images):
            outputs = self.conv_model(images)
            # After passing the images through our mini-network the spatial dimensions
            # are flattened to form sequences.
            reshaped = keras.ops.reshape(
                outputs, (-1, keras.ops.shape(outputs)[1] * keras.ops.shape(outputs)[2], keras.ops.shape(outputs)[-1])
            )
            return reshaped

    class PositionEmbedding(keras.layers.Layer):
        def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
            super().__init__(**kwargs)
            if sequence_length is None:
                raise ValueError("`sequence_length` must be an Integer, received `None`.")
            self.sequence_length = int(sequence_length)
            self.initializer = keras.initializers.get(initializer)

        def get_config(self):
            config = super().get_config()
            config.update(
                {"sequence_length": self.sequence_length, "initializer": keras.initializers.serialize(self.initializer)}
            )
            return config

        def build(self, input_shape):
            feature_size = input_shape[-1]
            self.position_embeddings = self.add_weight(
                name="embeddings",
                shape=[self.sequence_length, feature_size],
                initializer=self.initializer,
                trainable=True,
            )

            super().build(input_shape)

        def call(self, inputs, start_index=0):
            shape = keras.ops.shape(inputs)
            feature_length = shape[-1]
            sequence_length = shape[-2]
            # trim to match the length of the input sequence, which might be less
            # than the sequence_length of the layer.
            position_embeddings = keras.ops.convert_to_tensor(self.position_embeddings)
            position_embeddings = keras.ops.slice(
                position_embeddings, (start_index, 0), (sequence_length, feature_length)
            )
            return keras.ops.broadcast_to(position_embeddings, shape)

        def compute_output_shape(self, input_shape):
            return input_shape

    class SequencePooling(layers.Layer):
        def __init__(self):
            super().__init__()
            self.attention = layers.Dense(1)

        def call(self, x):
            attention_weights = keras.ops.softmax(self.attention(x), axis=1)
            attention_weights = keras.ops.transpose(attention_weights, axes=(0, 2, 1))
            weighted_representation = keras.ops.matmul(attention_weights, x)
            return keras.ops.squeeze(weighted_representation, -2)

    class StochasticDepth(layers.Layer):
        def __init__(self, drop_prop, **kwargs):
            super().__init__(**kwargs)
            self.drop_prob = drop_prop
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, x, training=None):
            if training:
                keep_prob = 1 - self.drop_prob
                shape = (keras.ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
                random_tensor = keep_prob + keras.random.uniform(shape, 0, 1, seed=self.seed_generator)
                random_tensor = keras.ops.floor(random_tensor)
                return (x / keep_prob) * random_tensor
            return x

    def mlp(x, hidden_units, dropout_rate):
        for units in hidden_units:
            x = layers.Dense(units, activation=keras.ops.gelu)(x)
            x = layers.Dropout(dropout_rate)(x)
        return x

    # Note the rescaling layer. These layers have pre-defined inference behavior.
    data_augmentation = keras.Sequential(
        [layers.Rescaling(scale=1.0 / 255), layers.RandomCrop(image_size, image_size), layers.RandomFlip("horizontal")],
        name="data_augmentation",
    )

    def create_cct_model(
        image_size=image_size,
        input_shape=input_shape,
        num_heads=num_heads,
        projection_dim=projection_dim,
        transformer_units=transformer_units,
    ):
        inputs = layers.Input(input_shape)

        # Augment data.
        augmented = data_augmentation(inputs)

        # Encode patches.
        cct_tokenizer = CCTTokenizer()
        encoded_patches = cct_tokenizer(augmented)

        # Apply positional embedding.
        if positional_emb:
            sequence_length = encoded_patches.shape[1]
            encoded_patches += PositionEmbedding(sequence_length=sequence_length)(encoded_patches)

        # Calculate Stochastic Depth probabilities.
        dpr = [x for x in np.linspace(0, stochastic_depth_rate, transformer_layers)]

        # Create multiple layers of the Transformer block.
        for i in range(transformer_layers):
            # Layer normalization 1.
            x1 = layers.LayerNormalization(epsilon=1e-5)(encoded_patches)

            # Create a multi-head attention layer.
            attention_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=projection_dim, dropout=0.1)(
                x1, x1
            )

            # Skip connection 1.
            attention_output = StochasticDepth(dpr[i])(attention_output)
            x2 = layers.Add()([attention_output, encoded_patches])

            # Layer normalization 2.
            x3 = layers.LayerNormalization(epsilon=1e-5)(x2)

            # MLP.
            x3 = mlp(x3, hidden_units=transformer_units, dropout_rate=0.1)

            # Skip connection 2.
            x3 = StochasticDepth(dpr[i])(x3)
            encoded_patches = layers.Add()([x3, x2])

        # Apply sequence pooling.
        representation = layers.LayerNormalization(epsilon=1e-5)(encoded_patches)
        weighted_representation = SequencePooling()(representation)

        # Classify outputs.
        logits = layers.Dense(num_classes)(weighted_representation)
        # Create the Keras model.
        model = keras.Model(inputs=inputs, outputs=logits)
        return model

    return create_cct_model, StochasticDepth


def test_cct_full_size():
    model = define(JNET[0], JNET[1], image_size=32, projection_dim=128, transformer_layers=2)[0]()
    assert model.count_params() == 416_331  # Keras 3's count ("0.4 million parameters")


def test_stochastic_depth():
    _, StochasticDepth = define(JNET[0], JNET[1], image_size=8, projection_dim=8, transformer_layers=1)
    depth = StochasticDepth(0.5)
    x = np.ones((64, 3, 2), "float32")
    np.testing.assert_array_equal(np.asarray(depth(x)), x)  # identity at inference
    # In training it drops whole samples (scaling the kept ones by 1 / keep_prob).
    y = np.asarray(depth(np.ones((64, 3, 2), "float32"), training=True))
    kept = y[:, 0, 0] > 0
    assert 0 < kept.sum() < 64
    np.testing.assert_allclose(y[kept], 2.0)
    np.testing.assert_allclose(y[~kept], 0.0)


# About 9 s of CPU (building and calling the transformer eagerly on both frameworks): outside the
# default run's time budget; `pytest -m slow` runs it.
@pytest.mark.slow
def test_small_cct_matches_keras():
    args = dict(image_size=8, projection_dim=8, transformer_layers=1)
    model = define(JNET[0], JNET[1], **args)[0](num_heads=2, projection_dim=8, transformer_units=[8, 128])
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype("float32")
    with keras_ok():
        kmodel = define(KERAS[0], KERAS[1], **args)[0](num_heads=2, projection_dim=8, transformer_units=[8, 128])
        copy_weights(model, kmodel)
        expected = np.asarray(kmodel(x, training=False))
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected, rtol=1e-4, atol=1e-5)
