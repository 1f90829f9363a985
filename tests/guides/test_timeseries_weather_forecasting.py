"""Keras example "Timeseries forecasting for weather prediction" (keras-io
examples/timeseries/timeseries_weather_forecasting.py), ported with `import jnet as keras`; the
normalization, the train / validation windows from `keras.preprocessing.timeseries_dataset_from_array`,
the LSTM model, the EarlyStopping + ModelCheckpoint training and the predictions are the example's.
Left out: the Jena climate download and pandas (a synthetic 7-feature series as NumPy arrays, so
`.values` / `.iloc` become slicing), plots, and tf's `.numpy()` on batches (jnet's datasets yield
NumPy arrays). Sizes: 420551 rows -> 300, past 720 -> 24, future 72 -> 6, step 6 -> 3,
LSTM 32 -> 4, batch 256 -> 16, 10 epochs -> 2."""

import numpy as np
from guide_util import frameworks, guide_broadcasting  # noqa: F401

JNET, KERAS = frameworks()
keras = JNET[0]

split_fraction = 0.715
step = 3
past = 24
future = 6
learning_rate = 0.001
batch_size = 16
epochs = 2


def normalize(data, train_split):
    data_mean = data[:train_split].mean(axis=0)
    data_std = data[:train_split].std(axis=0)
    return (data - data_mean) / data_std


def test_weather_forecasting_windows_and_training(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(300)[:, None]
    raw = np.sin(t / (10.0 + np.arange(7))) + 0.1 * rng.normal(size=(300, 7))
    train_split = int(split_fraction * int(raw.shape[0]))
    features = normalize(raw, train_split)
    train_data = features[0:train_split]
    val_data = features[train_split:]

    start = past + future
    end = start + train_split
    x_train = train_data[:, [i for i in range(7)]]
    y_train = features[start:end][:, [1]]
    sequence_length = int(past / step)
    dataset_train = keras.preprocessing.timeseries_dataset_from_array(
        x_train, y_train, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size
    )

    x_end = len(val_data) - past - future
    label_start = train_split + past + future
    x_val = val_data[:x_end][:, [i for i in range(7)]]
    y_val = features[label_start:][:, [1]]
    dataset_val = keras.preprocessing.timeseries_dataset_from_array(
        x_val, y_val, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size
    )

    for batch in dataset_train.take(1):
        inputs, targets = batch
    assert inputs.shape == (batch_size, sequence_length, 7) and targets.shape == (batch_size, 1)
    # Window i holds rows i, i + step, ...; its target is row i of y_train (past + future ahead).
    np.testing.assert_allclose(inputs[2], x_train[2 : 2 + sequence_length * step : step], rtol=1e-6)
    np.testing.assert_allclose(targets[2], features[start + 2, [1]], rtol=1e-6)

    inputs = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
    lstm_out = keras.layers.LSTM(4)(inputs)
    outputs = keras.layers.Dense(1)(lstm_out)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")

    path_checkpoint = str(tmp_path / "model_checkpoint.weights.h5")
    es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)
    modelckpt_callback = keras.callbacks.ModelCheckpoint(
        monitor="val_loss", filepath=path_checkpoint, verbose=0, save_weights_only=True, save_best_only=True
    )
    history = model.fit(
        dataset_train,
        epochs=epochs,
        validation_data=dataset_val,
        callbacks=[es_callback, modelckpt_callback],
        verbose=0,
    )
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == epochs

    # The best epoch's weights are on disk and load back into the model.
    best = int(np.argmin(history.history["val_loss"]))
    model.load_weights(path_checkpoint)
    np.testing.assert_allclose(
        model.evaluate(dataset_val, verbose=0), history.history["val_loss"][best], rtol=1e-4, atol=1e-6
    )

    for x, y in dataset_val.take(2):
        plot_data = [x[0][:, 1], y[0], model.predict(x, verbose=0)[0]]
        assert plot_data[0].shape == (sequence_length,) and plot_data[1].shape == plot_data[2].shape == (1,)
