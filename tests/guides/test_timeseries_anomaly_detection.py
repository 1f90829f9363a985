"""Keras example "Timeseries anomaly detection using an Autoencoder" (keras-io
examples/timeseries/timeseries_anomaly_detection.py), ported with `import jnet as keras`,
`from jnet import layers`; `create_sequences`, the Conv1D / Conv1DTranspose autoencoder, the
training call and the anomaly rule are the example's. Left out: the NAB download and pandas (a
synthetic daily sine, and the same with a jump), plots. Sizes: TIME_STEPS 288 -> 16, 50 epochs ->
1, batch 128 -> 8."""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

TIME_STEPS = 16


def create_sequences(values, time_steps=TIME_STEPS):
    output = []
    for i in range(len(values) - time_steps + 1):
        output.append(values[i : (i + time_steps)])
    return np.stack(output)


def make_model(keras, layers, x_train):
    return keras.Sequential(
        [
            layers.Input(shape=(x_train.shape[1], x_train.shape[2])),
            layers.Conv1D(filters=32, kernel_size=7, padding="same", strides=2, activation="relu"),
            layers.Dropout(rate=0.2),
            layers.Conv1D(filters=16, kernel_size=7, padding="same", strides=2, activation="relu"),
            layers.Conv1DTranspose(filters=16, kernel_size=7, padding="same", strides=2, activation="relu"),
            layers.Dropout(rate=0.2),
            layers.Conv1DTranspose(filters=32, kernel_size=7, padding="same", strides=2, activation="relu"),
            layers.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
        ]
    )


def test_autoencoder_matches_keras_and_flags_anomalies():
    t = np.arange(48, dtype="float32")
    small_noise = np.sin(t / 4.0)[:, None] + 0.05 * np.random.default_rng(0).normal(size=(48, 1))
    training_mean, training_std = small_noise.mean(), small_noise.std()
    df_training_value = (small_noise - training_mean) / training_std
    x_train = create_sequences(df_training_value)
    assert x_train.shape == (48 - TIME_STEPS + 1, TIME_STEPS, 1)

    model = make_model(keras, layers, x_train)
    with keras_ok():
        km = make_model(KERAS[0], KERAS[1], x_train)
        copy_weights(model, km)
        np.testing.assert_allclose(np.asarray(model(x_train)), np.asarray(km(x_train)), rtol=1e-5, atol=1e-5)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="mse")
    history = model.fit(
        x_train,
        x_train,
        epochs=1,
        batch_size=8,
        validation_split=0.1,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, mode="min")],
        verbose=0,
    )
    assert set(history.history) == {"loss", "val_loss"}

    x_train_pred = model.predict(x_train, verbose=0)
    assert x_train_pred.shape == x_train.shape
    train_mae_loss = np.mean(np.abs(x_train_pred - x_train), axis=1)
    threshold = np.max(train_mae_loss)

    jumps = df_training_value.copy()
    jumps[24:30] += 20.0  # a jump far outside anything the autoencoder reconstructs
    x_test = create_sequences(jumps)
    x_test_pred = model.predict(x_test, verbose=0)
    test_mae_loss = np.mean(np.abs(x_test_pred - x_test), axis=1)
    test_mae_loss = test_mae_loss.reshape(-1)
    anomalies = test_mae_loss > threshold
    # Windows covering the jump are anomalies, windows far from it are not.
    assert anomalies[24 - TIME_STEPS + 1 : 30].all() and not anomalies[:5].any()
