"""Keras example "Simple MNIST convnet" (keras-io examples/vision/mnist_convnet.py), ported with
`import jnet as keras`, `from jnet import layers`; the model and training code is the example's
with tiny random data in place of the MNIST download, 1 epoch and a smaller batch."""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

num_classes = 10
input_shape = (28, 28, 1)


def make_model(keras, layers, ops):
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def test_mnist_convnet():
    rng = np.random.default_rng(0)
    x_train = (rng.random((24, 28, 28)) * 255).astype("uint8")
    y_train = rng.integers(0, 10, (24,))
    # Scale images to the [0, 1] range
    x_train = x_train.astype("float32") / 255
    # Make sure images have shape (28, 28, 1)
    x_train = np.expand_dims(x_train, -1)
    # convert class vectors to binary class matrices
    y_train = keras.utils.to_categorical(y_train, num_classes)

    model = make_model(*JNET)
    assert model.count_params() == 34826  # the example's model.summary()
    # Inference (dropout off) matches Keras 3 on copied weights.
    with keras_ok():
        km = make_model(*KERAS)
        km.set_weights([np.asarray(w) for w in model.get_weights()])
        np.testing.assert_allclose(np.asarray(model(x_train[:4])), np.asarray(km(x_train[:4])), rtol=1e-4, atol=1e-6)

    batch_size = 8
    epochs = 1
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    h = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    score = model.evaluate(x_train, y_train, verbose=0)
    assert len(score) == 2 and 0.0 <= score[1] <= 1.0
