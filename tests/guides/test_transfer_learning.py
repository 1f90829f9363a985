"""Keras guide "Transfer learning & fine-tuning" (keras-io guides/transfer_learning.py), ported
with `import jnet as keras`, `from jnet import layers, ops`. The guide's base is a pretrained
Xception on cats-vs-dogs (downloads + pretrained weights + tf.data): left out; the end-to-end
section runs with a small random-init convolutional base built here, and random images. Also left out: `Rescaling` and the
data-augmentation layers (jnet has no preprocessing layers)."""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET


def test_trainable_and_non_trainable_weights():
    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    assert len(layer.weights) == 2 and len(layer.trainable_weights) == 2
    assert len(layer.non_trainable_weights) == 0

    layer = keras.layers.BatchNormalization()
    layer.build((None, 4))
    assert (len(layer.weights), len(layer.trainable_weights), len(layer.non_trainable_weights)) == (4, 2, 2)

    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    layer.trainable = False
    assert (len(layer.weights), len(layer.trainable_weights), len(layer.non_trainable_weights)) == (2, 0, 2)


def test_frozen_layer_does_not_train():
    layer1 = keras.layers.Dense(3, activation="relu")
    layer2 = keras.layers.Dense(3, activation="sigmoid")
    model = keras.Sequential([keras.Input(shape=(3,)), layer1, layer2])
    layer1.trainable = False
    initial_layer1_weights_values = layer1.get_weights()
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.random((2, 3)), np.random.random((2, 3)), verbose=0)
    final_layer1_weights_values = layer1.get_weights()
    np.testing.assert_allclose(initial_layer1_weights_values[0], final_layer1_weights_values[0])
    np.testing.assert_allclose(initial_layer1_weights_values[1], final_layer1_weights_values[1])


def test_trainable_is_recursive():
    inner_model = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(3, activation="relu")]
    )
    model = keras.Sequential([keras.Input(shape=(3,)), inner_model, keras.layers.Dense(3, activation="sigmoid")])
    model.trainable = False
    assert inner_model.trainable is False
    assert inner_model.layers[0].trainable is False


def small_base(keras, layers):
    """Stand-in for `keras.applications.Xception(weights="imagenet", include_top=False)`."""
    inputs = keras.Input(shape=(24, 24, 3))
    x = layers.Conv2D(8, 3, strides=2)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(8, 3)(x)
    return keras.Model(inputs, x, name="base")


def transfer_model(keras, layers, ops):
    base_model = small_base(keras, layers)
    base_model.trainable = False
    inputs = keras.Input(shape=(24, 24, 3))
    # The guide's `keras.layers.Rescaling(scale=1 / 127.5, offset=-1)` and data augmentation
    # (`RandomFlip`, `RandomRotation`) are left out: jnet has no preprocessing layers. The test
    # feeds inputs already scaled to [-1, 1].
    x = inputs
    # The base model contains batchnorm layers: keep it in inference mode when we unfreeze it for
    # fine-tuning, by passing `training=False`.
    x = base_model(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(1)(x)
    return keras.Model(inputs, outputs), base_model


def test_end_to_end_freeze_then_fine_tune():
    model, base_model = transfer_model(*JNET)
    rng = np.random.default_rng(0)
    x = (rng.random((8, 24, 24, 3)) * 2 - 1).astype("float32")
    y = rng.integers(0, 2, (8, 1)).astype("float32")
    assert len(model.trainable_weights) == 2
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    before = base_model.get_weights()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    for a, b in zip(before, base_model.get_weights()):
        np.testing.assert_array_equal(a, b)  # frozen base, moving stats included

    # Fine-tuning: unfreeze the base, recompile (the change only counts after compile()).
    base_model.trainable = True
    assert len(model.trainable_weights) == 2 + 6
    model.compile(
        optimizer=keras.optimizers.Adam(1e-5),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    after = base_model.get_weights()
    # The convolution kernel moved; BatchNorm ran with training=False, so its moving statistics
    # (weights 4 and 5 of the base: conv kernel, bias, gamma, beta, moving_mean, moving_var) did not.
    assert not np.allclose(before[0], after[0])
    np.testing.assert_array_equal(before[4], after[4])
    np.testing.assert_array_equal(before[5], after[5])
