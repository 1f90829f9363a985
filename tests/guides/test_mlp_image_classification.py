"""Keras example "Image classification with modern MLP models" (keras-io
examples/vision/mlp_image_classification.py, the Keras 3 version), ported with `import jnet as
keras`, `from jnet import layers`. The augmentation pipeline, `Patches`
(`keras.ops.image.extract_patches`), `PositionEmbedding`, `build_classifier`, `run_experiment` and
the three blocks (`MLPMixerLayer`, `FNetLayer` with `keras.ops.fft2`, `gMLPLayer` with
`keras.ops.split`) are the example's; the hyperparameters are scaled down (8x8 images resized to
12, 4x4 patches, embedding_dim 8, one block each) and tiny random images stand in for CIFAR-100.
Inference (augmentation off) of each classifier is compared with Keras 3 on copied weights; the
gMLP classifier is trained for one epoch with the example's `run_experiment` (random: dropout and
augmentation; a slow test). Left out: the printed test accuracy."""

import numpy as np
import pytest
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()

num_classes = 10
input_shape = (8, 8, 3)

weight_decay = 0.0001
batch_size = 8
num_epochs = 1
dropout_rate = 0.2
image_size = 12  # We'll resize input images to this size.
patch_size = 4  # Size of the patches to be extracted from the input images.
num_patches = (image_size // patch_size) ** 2  # Size of the data array.
embedding_dim = 8  # Number of hidden units.
num_blocks = 1  # Number of blocks.


def define(keras, layers, x_train):
    """The example's code, for one framework (`keras`, `layers`)."""

    def build_classifier(blocks, positional_encoding=False):
        inputs = layers.Input(shape=input_shape)
        # Augment data.
        augmented = data_augmentation(inputs)
        # Create patches.
        patches = Patches(patch_size)(augmented)
        # Encode patches to generate a [batch_size, num_patches, embedding_dim] tensor.
        x = layers.Dense(units=embedding_dim)(patches)
        if positional_encoding:
            x = x + PositionEmbedding(sequence_length=num_patches)(x)
        # Process x using the module blocks.
        x = blocks(x)
        # Apply global average pooling to generate a [batch_size, embedding_dim] representation tensor.
        representation = layers.GlobalAveragePooling1D()(x)
        # Apply dropout.
        representation = layers.Dropout(rate=dropout_rate)(representation)
        # Compute logits outputs.
        logits = layers.Dense(num_classes)(representation)
        # Create the Keras model.
        return keras.Model(inputs=inputs, outputs=logits)

    data_augmentation = keras.Sequential(
        [
            layers.Normalization(),
            layers.Resizing(image_size, image_size),
            layers.RandomFlip("horizontal"),
            layers.RandomZoom(height_factor=0.2, width_factor=0.2),
        ],
        name="data_augmentation",
    )
    # Compute the mean and the variance of the training data for normalization.
    data_augmentation.layers[0].adapt(x_train)

    class Patches(layers.Layer):
        def __init__(self, patch_size, **kwargs):
            super().__init__(**kwargs)
            self.patch_size = patch_size

        def call(self, x):
            patches = keras.ops.image.extract_patches(x, self.patch_size)
            batch_size = keras.ops.shape(patches)[0]
            num_patches = keras.ops.shape(patches)[1] * keras.ops.shape(patches)[2]
            patch_dim = keras.ops.shape(patches)[3]
            out = keras.ops.reshape(patches, (batch_size, num_patches, patch_dim))
            return out

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

    class MLPMixerLayer(layers.Layer):
        def __init__(self, num_patches, hidden_units, dropout_rate, *args, **kwargs):
            super().__init__(*args, **kwargs)

            self.mlp1 = keras.Sequential(
                [
                    layers.Dense(units=num_patches, activation="gelu"),
                    layers.Dense(units=num_patches),
                    layers.Dropout(rate=dropout_rate),
                ]
            )
            self.mlp2 = keras.Sequential(
                [
                    layers.Dense(units=num_patches, activation="gelu"),
                    layers.Dense(units=hidden_units),
                    layers.Dropout(rate=dropout_rate),
                ]
            )
            self.normalize = layers.LayerNormalization(epsilon=1e-6)

        def build(self, input_shape):
            return super().build(input_shape)

        def call(self, inputs):
            # Apply layer normalization.
            x = self.normalize(inputs)
            # Transpose inputs from [num_batches, num_patches, hidden_units] to [num_batches, hidden_units, num_patches].
            x_channels = keras.ops.transpose(x, axes=(0, 2, 1))
            # Apply mlp1 on each channel independently.
            mlp1_outputs = self.mlp1(x_channels)
            # Transpose mlp1_outputs from [num_batches, hidden_dim, num_patches] to [num_batches, num_patches, hidden_units].
            mlp1_outputs = keras.ops.transpose(mlp1_outputs, axes=(0, 2, 1))
            # Add skip connection.
            x = mlp1_outputs + inputs
            # Apply layer normalization.
            x_patches = self.normalize(x)
            # Apply mlp2 on each patch independtenly.
            mlp2_outputs = self.mlp2(x_patches)
            # Add skip connection.
            x = x + mlp2_outputs
            return x

    class FNetLayer(layers.Layer):
        def __init__(self, embedding_dim, dropout_rate, *args, **kwargs):
            super().__init__(*args, **kwargs)

            self.ffn = keras.Sequential(
                [
                    layers.Dense(units=embedding_dim, activation="gelu"),
                    layers.Dropout(rate=dropout_rate),
                    layers.Dense(units=embedding_dim),
                ]
            )

            self.normalize1 = layers.LayerNormalization(epsilon=1e-6)
            self.normalize2 = layers.LayerNormalization(epsilon=1e-6)

        def call(self, inputs):
            # Apply fourier transformations.
            real_part = inputs
            im_part = keras.ops.zeros_like(inputs)
            x = keras.ops.fft2((real_part, im_part))[0]
            # Add skip connection.
            x = x + inputs
            # Apply layer normalization.
            x = self.normalize1(x)
            # Apply Feedfoward network.
            x_ffn = self.ffn(x)
            # Add skip connection.
            x = x + x_ffn
            # Apply layer normalization.
            return self.normalize2(x)

    class gMLPLayer(layers.Layer):
        def __init__(self, num_patches, embedding_dim, dropout_rate, *args, **kwargs):
            super().__init__(*args, **kwargs)

            self.channel_projection1 = keras.Sequential(
                [layers.Dense(units=embedding_dim * 2, activation="gelu"), layers.Dropout(rate=dropout_rate)]
            )

            self.channel_projection2 = layers.Dense(units=embedding_dim)

            self.spatial_projection = layers.Dense(units=num_patches, bias_initializer="Ones")

            self.normalize1 = layers.LayerNormalization(epsilon=1e-6)
            self.normalize2 = layers.LayerNormalization(epsilon=1e-6)

        def spatial_gating_unit(self, x):
            # Split x along the channel dimensions.
            # Tensors u and v will in th shape of [batch_size, num_patchs, embedding_dim].
            u, v = keras.ops.split(x, indices_or_sections=2, axis=2)
            # Apply layer normalization.
            v = self.normalize2(v)
            # Apply spatial projection.
            v_channels = keras.ops.transpose(v, axes=(0, 2, 1))
            v_projected = self.spatial_projection(v_channels)
            v_projected = keras.ops.transpose(v_projected, axes=(0, 2, 1))
            # Apply element-wise multiplication.
            return u * v_projected

        def call(self, inputs):
            # Apply layer normalization.
            x = self.normalize1(inputs)
            # Apply the first channel projection. x_projected shape: [batch_size, num_patches, embedding_dim * 2].
            x_projected = self.channel_projection1(x)
            # Apply the spatial gating unit. x_spatial shape: [batch_size, num_patches, embedding_dim].
            x_spatial = self.spatial_gating_unit(x_projected)
            # Apply the second channel projection. x_projected shape: [batch_size, num_patches, embedding_dim].
            x_projected = self.channel_projection2(x_spatial)
            # Add skip connection.
            return x + x_projected

    def mlpmixer_classifier():
        mlpmixer_blocks = keras.Sequential(
            [MLPMixerLayer(num_patches, embedding_dim, dropout_rate) for _ in range(num_blocks)]
        )
        return build_classifier(mlpmixer_blocks)

    def fnet_classifier():
        fnet_blocks = keras.Sequential([FNetLayer(embedding_dim, dropout_rate) for _ in range(num_blocks)])
        return build_classifier(fnet_blocks, positional_encoding=True)

    def gmlp_classifier():
        gmlp_blocks = keras.Sequential([gMLPLayer(num_patches, embedding_dim, dropout_rate) for _ in range(num_blocks)])
        return build_classifier(gmlp_blocks)

    return {"mlpmixer": mlpmixer_classifier, "fnet": fnet_classifier, "gmlp": gmlp_classifier}


def run_experiment(keras, model, learning_rate, x_train, y_train, x_test, y_test):
    # Create Adam optimizer with weight decay.
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    # Compile the model.
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="acc"),
            keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5-acc"),
        ],
    )
    # Create a learning rate scheduler callback.
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5)
    # Create an early stopping callback.
    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    # Fit the model.
    history = model.fit(
        x=x_train,
        y=y_train,
        batch_size=batch_size,
        epochs=num_epochs,
        validation_split=0.1,
        callbacks=[early_stopping, reduce_lr],
        verbose=0,
    )

    _, accuracy, top_5_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return history, accuracy, top_5_accuracy


def data():
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (18, *input_shape)).astype("uint8")
    y_train = rng.integers(0, num_classes, (18, 1)).astype("uint8")
    return x_train, y_train, x_train[:8], y_train[:8]


@pytest.mark.parametrize("name", ["mlpmixer", "fnet", "gmlp"])
def test_inference_matches_keras(name):
    x_train, _, x_test, _ = data()
    jnet_fw, keras_fw = frameworks()
    model = define(jnet_fw[0], jnet_fw[1], x_train)[name]()
    with keras_ok():
        km = define(keras_fw[0], keras_fw[1], x_train)[name]()
        assert model.count_params() == km.count_params()
        km.set_weights([np.asarray(w) for w in model.get_weights()])
        expected = np.asarray(km(x_test, training=False))
    np.testing.assert_allclose(np.asarray(model(x_test, training=False)), expected, rtol=1e-4, atol=1e-5)


# About 8 s of CPU (compiling the training step with the augmentation pipeline): outside the
# default run's time budget; `pytest -m slow` runs it.
@pytest.mark.slow
def test_gmlp_trains():
    x_train, y_train, x_test, y_test = data()
    model = define(JNET[0], JNET[1], x_train)["gmlp"]()
    history, accuracy, top_5_accuracy = run_experiment(JNET[0], model, 0.003, x_train, y_train, x_test, y_test)
    assert set(history.history) == {"loss", "acc", "top5-acc", "val_loss", "val_acc", "val_top5-acc", "learning_rate"}
    assert np.isfinite(history.history["loss"][0])
    assert 0.0 <= accuracy <= top_5_accuracy <= 1.0
