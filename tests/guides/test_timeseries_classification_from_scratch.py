"""Keras example "Timeseries classification from scratch" (keras-io
examples/timeseries/timeseries_classification_from_scratch.py), ported with `import jnet as keras`;
`make_model` and the training setup are the example's. Left out: the FordA download (random
series instead) and matplotlib plots; epochs 500 -> 2, batch 32 -> 8."""

import numpy as np
from guide_util import fit_both, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

num_classes = 2


def make_model(keras, layers, ops, input_shape=(40, 1)):
    input_layer = keras.layers.Input(input_shape)

    conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)

    conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)

    conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
    conv3 = keras.layers.BatchNormalization()(conv3)
    conv3 = keras.layers.ReLU()(conv3)

    gap = keras.layers.GlobalAveragePooling1D()(conv3)

    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

    return keras.models.Model(inputs=input_layer, outputs=output_layer)


def _data():
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(32, 40)).astype("float32")
    y_train = rng.integers(0, 2, (32,))
    x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
    return x_train, y_train


def test_training_with_batchnorm_matches_keras():
    x_train, y_train = _data()
    # Deterministic (no dropout): jnet and Keras follow the same path, moving statistics included.
    fit_both(
        make_model,
        lambda keras: dict(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"]
        ),
        x_train,
        y_train,
        dict(batch_size=8, epochs=2, validation_split=0.25),
        # A conv bias feeding BatchNormalization has a gradient that is rounding noise
        # (BN removes the mean); Adam scales that noise to steps of ~lr, so those biases agree
        # with Keras only to ~1e-4. Losses and metrics are compared at rtol 1e-4.
        weights_atol=3e-4,
    )


def test_callbacks_and_best_model(tmp_path):
    x_train, y_train = _data()
    model = make_model(*JNET)
    epochs = 2
    batch_size = 8
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(tmp_path / "best_model.jnet"), save_best_only=True, monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=1),
    ]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=batch_size, epochs=epochs, callbacks=callbacks, validation_split=0.2, verbose=0
    )
    assert len(history.history["val_loss"]) == 2
    model = keras.models.load_model(str(tmp_path / "best_model.jnet"))
    test_loss, test_acc = model.evaluate(x_train, y_train, verbose=0)
    assert np.isfinite(test_loss) and 0 <= test_acc <= 1
