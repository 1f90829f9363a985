"""Keras example "Convolutional Autoencoder For Image Denoising" (keras-io
examples/vision/autoencoder.py, Keras 3 version), ported with `from jnet import layers` and
`from jnet.models import Model`. The model and training code is the example's; tiny random images
stand in for MNIST, with 1 epoch and a small batch. Left out: the matplotlib `display`. Training has
no randomness once shuffling is off, so the denoising fit is compared with Keras 3 on copied
weights (without the example's validation data, to keep the test fast)."""

import numpy as np
from guide_util import fit_both, frameworks, guide_broadcasting  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET


def preprocess(dataset):
    """
    Normalizes the supplied dataset and reshapes it into the appropriate format.
    """

    dataset = dataset.astype("float32") / 255.0
    dataset = np.reshape(dataset, (len(dataset), 28, 28, 1))
    return dataset


def noise(dataset):
    """
    Adds random noise to each image in the supplied dataset.
    """

    noise_factor = 0.4
    noisy_dataset = dataset + noise_factor * np.random.normal(loc=0.0, scale=1.0, size=dataset.shape)

    return np.clip(noisy_dataset, 0.0, 1.0)


def make_autoencoder(keras, layers, ops):
    Model = keras.models.Model
    input = layers.Input(shape=(28, 28, 1))

    # Encoder
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)

    # Decoder
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

    # Autoencoder
    autoencoder = Model(input, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    return autoencoder


def test_autoencoder_denoising_matches_keras():
    np.random.seed(0)
    rng = np.random.default_rng(0)
    train_dataset = preprocess((rng.random((16, 28, 28)) * 255).astype("uint8"))
    test_dataset = preprocess((rng.random((8, 28, 28)) * 255).astype("uint8"))
    noisy_train_dataset = noise(train_dataset)
    noisy_test_dataset = noise(test_dataset)

    autoencoder = make_autoencoder(*JNET)
    assert autoencoder.count_params() == 28353  # the example's autoencoder.summary()
    assert autoencoder.output_shape == (None, 28, 28, 1)

    # The denoising fit (noisy in, clean out), compared with Keras 3 step by step.
    jm, km, jh, kh = fit_both(
        make_autoencoder,
        lambda keras: dict(optimizer="adam", loss="binary_crossentropy"),
        noisy_train_dataset,
        train_dataset,
        dict(epochs=1, batch_size=8),
    )
    assert set(jh) == {"loss"}
    predictions = jm.predict(noisy_test_dataset, verbose=0)
    assert predictions.shape == (8, 28, 28, 1)
    assert ((predictions > 0) & (predictions < 1)).all()
