"""Keras example "Image segmentation with a U-Net-like architecture" (keras-io
examples/vision/oxford_pets_image_segmentation.py), ported with `import jnet as keras`,
`from jnet import layers`. `get_model` (the Xception-style U-Net), the training code
(`compile`, `ModelCheckpoint(save_best_only=True)`, `fit` with validation data) and `display_mask`
are the example's, with a 16x16 `img_size`. The example reads the Oxford-IIIT Pets JPEG/PNG pairs
with `tf.data`; here random images and trimaps (labels 1..3, minus one as the example does) go
through a `keras.utils.PyDataset` of batches in its place. Left out: the IPython `display` calls.
The default test checks the model's size against the example's summary; slow tests check the
predicted masks and, the model being deterministic (no dropout; BatchNorm uses batch statistics
in training), compare inference and one epoch of training with Keras 3 on copied weights."""

import numpy as np
import pytest
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401
from PIL import ImageOps

JNET, KERAS = frameworks()

img_size = (16, 16)
num_classes = 3
batch_size = 4


def get_model(keras, layers, img_size, num_classes):
    inputs = keras.Input(shape=img_size + (3,))

    ### [First half of the network: downsampling inputs] ###

    # Entry block
    x = layers.Conv2D(32, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    # Blocks 1, 2, 3 are identical apart from the feature depth.
    for filters in [64, 128, 256]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    ### [Second half of the network: upsampling inputs] ###

    for filters in [256, 128, 64, 32]:
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.UpSampling2D(2)(x)

        # Project residual
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    # Add a per-pixel classification layer
    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)

    # Define the model
    model = keras.Model(inputs, outputs)
    return model


def get_dataset(keras, batch_size, img_size, n, seed):
    """Stand-in for the example's `tf.data` pipeline: batches of float32 images in [0, 1] and
    uint8 trimaps (labels 1, 2, 3 minus one, as the example does)."""
    rng = np.random.default_rng(seed)
    images = rng.random((n, *img_size, 3)).astype("float32")
    targets = rng.integers(1, 4, (n, *img_size, 1)).astype("uint8") - 1

    class Pets(keras.utils.PyDataset):
        def __len__(self):
            return n // batch_size

        def __getitem__(self, idx):
            s = slice(idx * batch_size, (idx + 1) * batch_size)
            return images[s], targets[s]

    return Pets()


def test_unet_size():
    keras, layers, _ = JNET
    model = get_model(keras, layers, img_size, num_classes)
    # The example's summary at 160x160: 2,055,203 trainable + 3,776 non-trainable parameters.
    assert model.count_params() == 2_055_203 + 3_776
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 3_776
    assert model.output_shape == (None, *img_size, num_classes)


# About 6 s of CPU (compiling the 2M-parameter U-Net's predict step): outside the default run's
# time budget; `pytest -m slow` runs it.
@pytest.mark.slow
def test_unet_predicts_masks():
    keras, layers, _ = JNET
    model = get_model(keras, layers, img_size, num_classes)
    # Generate predictions for all images in the validation set
    val_dataset = get_dataset(keras, batch_size, img_size, 8, seed=1)
    val_preds = model.predict(val_dataset, verbose=0)
    assert val_preds.shape == (8, *img_size, num_classes)
    np.testing.assert_allclose(val_preds.sum(-1), 1.0, rtol=1e-5)

    def display_mask(i):
        """Quick utility to display a model's prediction."""
        mask = np.argmax(val_preds[i], axis=-1)
        mask = np.expand_dims(mask, axis=-1)
        img = ImageOps.autocontrast(keras.utils.array_to_img(mask))
        return img

    img = display_mask(1)
    assert img.size == img_size[::-1] and img.mode == "L"
    mask = np.argmax(val_preds[1], axis=-1)
    # array_to_img scales the mask to 0..255; autocontrast stretches its range to the full 0..255.
    expected = np.round(mask / mask.max() * 255) if mask.max() > 0 else mask
    np.testing.assert_array_equal(np.asarray(img) > 0, expected > 0)


# About 30 s of CPU (building the 2M-parameter U-Net in Keras costs most of it, then compiling
# its training step on both frameworks): outside the default run's time budget; `pytest -m slow`
# runs it.
@pytest.mark.slow
def test_unet_matches_keras(tmp_path):
    (keras, layers, _), (K, KL, _) = JNET, KERAS
    keras.backend.clear_session(free_memory=False)
    K.backend.clear_session()
    losses = []
    model = get_model(keras, layers, img_size, num_classes)
    x = get_dataset(keras, batch_size, img_size, 4, seed=1)[0][0]
    with keras_ok():
        km = get_model(K, KL, img_size, num_classes)
        copy_weights(model, km)
        np.testing.assert_allclose(model.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    for fw, m in ((keras, model), (K, km)):
        train_dataset = get_dataset(fw, batch_size, img_size, 8, seed=0)
        valid_dataset = get_dataset(fw, batch_size, img_size, 4, seed=1)
        # Configure the model for training.
        # We use the "sparse" version of categorical_crossentropy
        # because our target data is integers.
        m.compile(optimizer=fw.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")

        callbacks = [fw.callbacks.ModelCheckpoint(str(tmp_path / f"{fw.__name__}.keras"), save_best_only=True)]

        # Train the model, doing validation at the end of each epoch.
        epochs = 1
        with keras_ok():
            h = m.fit(train_dataset, epochs=epochs, validation_data=valid_dataset, callbacks=callbacks, verbose=0)
        losses.append(h.history)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(losses[0][key], losses[1][key], rtol=1e-4, err_msg=key)
    restored = keras.models.load_model(str(tmp_path / "jnet.keras"))
    np.testing.assert_allclose(np.asarray(restored.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-5)
