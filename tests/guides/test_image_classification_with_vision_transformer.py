"""Keras example "Image classification with Vision Transformer" (keras-io
examples/vision/image_classification_with_vision_transformer.py), ported with `import jnet as
keras`, `from jnet import layers, ops`. `Patches` (ops.image.extract_patches), `PatchEncoder`
(Dense + position Embedding), the augmentation pipeline, `mlp`, `create_vit_classifier` and
`run_experiment` are the example's; the hyperparameters are scaled down (16x16 images resized to
24, 6x6 patches, 2 transformer blocks, small heads) and tiny random images stand in for CIFAR-100.
Left out: the matplotlib plots. Training is random (dropout, augmentation); the patches are
checked against numpy, the model's size against Keras 3's count (a number: building the Keras
twin costs seconds; its layers are compared with Keras in the layer tests)."""

import numpy as np
import pytest
from guide_util import frameworks, guide_broadcasting  # noqa: F401

JNET, _ = frameworks()

num_classes = 10
input_shape = (16, 16, 3)

learning_rate = 0.001
weight_decay = 0.0001
batch_size = 8
num_epochs = 1
image_size = 24  # We'll resize input images to this size
patch_size = 6  # Size of the patches to be extract from the input images
num_patches = (image_size // patch_size) ** 2
projection_dim = 8
num_heads = 2
hidden_dim = projection_dim * num_heads
transformer_units = [hidden_dim * 2, hidden_dim]  # Size of the transformer layers
transformer_layers = 1
mlp_head_units = [32, 16]  # Size of the dense layers of the final classifier


def define(keras, layers, ops, x_train):
    data_augmentation = keras.Sequential(
        [
            layers.Normalization(),
            layers.Resizing(image_size, image_size),
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(factor=0.02),
            layers.RandomZoom(height_factor=0.2, width_factor=0.2),
        ],
        name="data_augmentation",
    )
    # Compute the mean and the variance of the training data for normalization.
    data_augmentation.layers[0].adapt(x_train)

    def mlp(x, hidden_units, dropout_rate):
        for units in hidden_units:
            x = layers.Dense(units, activation=keras.activations.gelu)(x)
            x = layers.Dropout(dropout_rate)(x)
        return x

    class Patches(layers.Layer):
        def __init__(self, patch_size):
            super().__init__()
            self.patch_size = patch_size

        def call(self, images):
            input_shape = ops.shape(images)
            batch_size = input_shape[0]
            height = input_shape[1]
            width = input_shape[2]
            channels = input_shape[3]
            num_patches_h = height // self.patch_size
            num_patches_w = width // self.patch_size
            patches = keras.ops.image.extract_patches(images, size=self.patch_size)
            patches = ops.reshape(
                patches, (batch_size, num_patches_h * num_patches_w, self.patch_size * self.patch_size * channels)
            )
            return patches

        def get_config(self):
            config = super().get_config()
            config.update({"patch_size": self.patch_size})
            return config

    class PatchEncoder(layers.Layer):
        def __init__(self, num_patches, projection_dim):
            super().__init__()
            self.num_patches = num_patches
            self.projection = layers.Dense(units=projection_dim)
            self.position_embedding = layers.Embedding(input_dim=num_patches, output_dim=projection_dim)

        def call(self, patch):
            positions = ops.expand_dims(ops.arange(start=0, stop=self.num_patches, step=1), axis=0)
            projected_patches = self.projection(patch)
            encoded = projected_patches + self.position_embedding(positions)
            return encoded

        def get_config(self):
            config = super().get_config()
            config.update({"num_patches": self.num_patches})
            return config

    def create_vit_classifier():
        inputs = keras.Input(shape=input_shape)
        # Augment data.
        augmented = data_augmentation(inputs)
        # Create patches.
        patches = Patches(patch_size)(augmented)
        # Encode patches.
        encoded_patches = PatchEncoder(num_patches, hidden_dim)(patches)

        # Create multiple layers of the Transformer block.
        for _ in range(transformer_layers):
            # Layer normalization 1.
            x1 = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
            # Create a multi-head attention layer.
            attention_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=projection_dim, dropout=0.1)(
                x1, x1
            )
            # Skip connection 1.
            x2 = layers.Add()([attention_output, encoded_patches])
            # Layer normalization 2.
            x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
            # MLP.
            x3 = mlp(x3, hidden_units=transformer_units, dropout_rate=0.1)
            # Skip connection 2.
            encoded_patches = layers.Add()([x3, x2])

        # Create a [batch_size, projection_dim] tensor.
        representation = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
        representation = layers.Flatten()(representation)
        representation = layers.Dropout(0.5)(representation)
        # Add MLP.
        features = mlp(representation, hidden_units=mlp_head_units, dropout_rate=0.5)
        # Classify outputs.
        logits = layers.Dense(num_classes)(features)
        # Create the Keras model.
        model = keras.Model(inputs=inputs, outputs=logits)
        return model

    return Patches, create_vit_classifier


def run_experiment(keras, model, x_train, y_train, x_test, y_test, checkpoint_filepath):
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)

    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(5, name="top-5-accuracy"),
        ],
    )

    checkpoint_callback = keras.callbacks.ModelCheckpoint(
        checkpoint_filepath, monitor="val_accuracy", save_best_only=True, save_weights_only=True
    )

    history = model.fit(
        x=x_train,
        y=y_train,
        batch_size=batch_size,
        epochs=num_epochs,
        validation_split=0.1,
        callbacks=[checkpoint_callback],
        verbose=0,
    )

    model.load_weights(checkpoint_filepath)
    _, accuracy, top_5_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return history, accuracy, top_5_accuracy


def data():
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (18, *input_shape)).astype("uint8")
    y_train = rng.integers(0, num_classes, (18, 1)).astype("uint8")
    return x_train, y_train, x_train[:8], y_train[:8]


def test_patches_shape():
    keras, layers, ops = JNET
    x_train, *_ = data()
    Patches, _ = define(keras, layers, ops, x_train)
    image = x_train[0]
    resized_image = ops.image.resize(ops.convert_to_tensor([image], dtype="float32"), size=(image_size, image_size))
    patches = Patches(patch_size)(resized_image)
    assert patches.shape == (1, num_patches, patch_size * patch_size * 3)
    # The first patch is the top-left 6x6 block, row-major with channels last.
    np.testing.assert_allclose(
        np.asarray(patches[0, 0]), np.asarray(resized_image)[0, :patch_size, :patch_size].reshape(-1), rtol=1e-6
    )


# About 15 s of CPU (compiling the ViT with its augmentation pipeline for training):
# outside the default run's time budget; `pytest -m slow` runs it.
@pytest.mark.slow
def test_vit_trains(tmp_path):
    x_train, y_train, x_test, y_test = data()
    _, create = define(*JNET, x_train)
    vit_classifier = create()
    assert vit_classifier.count_params() == 13185  # Keras 3's count for the same classifier
    logits = np.asarray(vit_classifier(x_test, training=False))
    assert logits.shape == (8, num_classes)
    np.testing.assert_allclose(np.asarray(vit_classifier(x_test, training=False)), logits)  # no augmentation

    history, accuracy, top_5_accuracy = run_experiment(
        JNET[0], vit_classifier, x_train, y_train, x_test, y_test, str(tmp_path / "checkpoint.weights.h5")
    )
    assert set(history.history) == {
        "loss",
        "accuracy",
        "top-5-accuracy",
        "val_loss",
        "val_accuracy",
        "val_top-5-accuracy",
    }
    assert 0.0 <= accuracy <= top_5_accuracy <= 1.0
