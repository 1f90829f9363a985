"""Keras example "Image classification from scratch" (keras-io
examples/vision/image_classification_from_scratch.py, Keras 3 version), ported with
`import jnet as keras`, `from jnet import layers`. The corrupted-file filter, the
`image_dataset_from_directory` call, the augmentation function mapped over the training dataset,
`make_model` (small Xception: SeparableConv2D residual blocks) and the training/inference code
are the example's. The data is a tiny synthetic "PetImages" tree of JPEGs written with Pillow
(16 images of 16x16, plus one corrupted file), image_size 16, 1 epoch. `tf_data.AUTOTUNE` (from
TensorFlow in the example) is a plain stand-in constant: jnet's `Dataset.map` maps in order. Left
out: the matplotlib plots and `plot_model`. Augmentation and dropout make training random, and
this model's layers are compared with Keras 3 in the layer tests; here the model's size is
checked against Keras 3's count (kept as a number: building the Keras twin costs seconds)."""

import os
import types

import numpy as np
import pytest
from guide_util import frameworks, guide_broadcasting  # noqa: F401

# About 15 s of CPU (compiling the example's 2.7M-parameter Xception-like model for training):
# outside the default run's time budget; `pytest -m slow` runs it.
pytestmark = pytest.mark.slow

JNET, _ = frameworks()
keras, layers, ops = JNET
tf_data = types.SimpleNamespace(AUTOTUNE=-1)

image_size = (16, 16)
batch_size = 8


@pytest.fixture
def pet_images(tmp_path, monkeypatch):
    """A "PetImages" folder with Cat/ and Dog/ JPEGs, and one file that is not a JPEG."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder_name in ("Cat", "Dog"):
        os.makedirs(tmp_path / "PetImages" / folder_name)
        for i in range(8):
            pixels = rng.integers(0, 256, (20, 24, 3)).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "PetImages" / folder_name / f"{i}.jpg")
    (tmp_path / "PetImages" / "Dog" / "666.jpg").write_bytes(b"GIF89a not a jpeg at all")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_model(keras, layers, input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)

    # Entry block
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(128, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    for size in [256, 512, 728]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    x = layers.SeparableConv2D(1024, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    x = layers.GlobalAveragePooling2D()(x)
    if num_classes == 2:
        units = 1
    else:
        units = num_classes

    x = layers.Dropout(0.25)(x)
    # We specify activation=None so as to return logits
    outputs = layers.Dense(units, activation=None)(x)
    return keras.Model(inputs, outputs)


def test_image_classification_from_scratch(pet_images):
    num_skipped = 0
    for folder_name in ("Cat", "Dog"):
        folder_path = os.path.join("PetImages", folder_name)
        for fname in os.listdir(folder_path):
            fpath = os.path.join(folder_path, fname)
            try:
                fobj = open(fpath, "rb")
                is_jfif = b"JFIF" in fobj.peek(10)
            finally:
                fobj.close()

            if not is_jfif:
                num_skipped += 1
                # Delete corrupted image
                os.remove(fpath)
    assert num_skipped == 1

    train_ds, val_ds = keras.utils.image_dataset_from_directory(
        "PetImages", validation_split=0.2, subset="both", seed=1337, image_size=image_size, batch_size=batch_size
    )
    assert train_ds.class_names == ["Cat", "Dog"]
    for images, labels in train_ds.take(1):
        assert images.shape == (batch_size, *image_size, 3) and labels.shape == (batch_size,)

    data_augmentation_layers = [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)]

    def data_augmentation(images):
        for layer in data_augmentation_layers:
            images = layer(images)
        return images

    for images, _ in train_ds.take(1):
        augmented_images = data_augmentation(images)
        assert augmented_images.shape == images.shape
        assert not np.allclose(np.asarray(augmented_images), images)

    # Apply `data_augmentation` to the training images.
    train_ds = train_ds.map(lambda img, label: (data_augmentation(img), label), num_parallel_calls=tf_data.AUTOTUNE)
    # Prefetching samples in GPU memory helps maximize GPU utilization.
    train_ds = train_ds.prefetch(tf_data.AUTOTUNE)
    val_ds = val_ds.prefetch(tf_data.AUTOTUNE)

    model = make_model(keras, layers, input_shape=image_size + (3,), num_classes=2)
    assert model.count_params() == 2731065  # Keras 3's count for the same make_model

    epochs = 1

    callbacks = [keras.callbacks.ModelCheckpoint("save_at_{epoch}.keras")]
    model.compile(
        optimizer=keras.optimizers.Adam(3e-4),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(name="acc")],
    )
    history = model.fit(train_ds, epochs=epochs, callbacks=callbacks, validation_data=val_ds, verbose=0)
    assert set(history.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert os.path.exists("save_at_1.keras")

    img = keras.utils.load_img("PetImages/Cat/6.jpg", target_size=image_size)
    img_array = keras.utils.img_to_array(img)
    img_array = keras.ops.expand_dims(img_array, 0)  # Create batch axis

    predictions = model.predict(img_array, verbose=0)
    score = float(keras.ops.sigmoid(predictions[0][0]))
    assert 0.0 < score < 1.0
    # Inference is deterministic (no augmentation, no dropout).
    np.testing.assert_allclose(predictions, np.asarray(model(img_array)), rtol=1e-5, atol=1e-6)
