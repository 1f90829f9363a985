"""Every code snippet of the seed document (../shared/seed/), typos fixed, with only the imports
changed: `tensorflow.keras` / `keras` / `tf.keras` become jnet."""

import types

import numpy as np
import pytest

import jnet

# The only change to the snippets: where they import Keras, these names now come from jnet.
keras = jnet
tf = types.SimpleNamespace(keras=jnet)
from jnet import layers, models  # noqa: E402  (was: from tensorflow.keras import layers / from keras import ...)


def test_dense_input_shape_snippet():
    layer = layers.Dense(32, input_shape=(784,))
    assert layer.units == 32 and layer.input_shape == (784,)


def test_sequential_stack_summary_and_plot(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = models.Sequential()
    model.add(layers.Dense(32, input_shape=(784,)))
    model.add(layers.Dense(10))
    model.add(layers.Dense(20))

    model = models.Sequential()
    model.add(tf.keras.layers.Dense(32, input_shape=(784,)))
    model.add(tf.keras.layers.Dense(10))
    model.add(tf.keras.layers.Dense(20))
    model.summary()
    tf.keras.utils.plot_model(model, "sequential.png")
    out = capsys.readouterr().out
    assert "(None, 20)" in out and "Total params: 25,670" in out
    assert (tmp_path / "sequential.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _triage_model():
    num_tags = 12  # Number of unique issue tags
    num_words = 10000  # Size of vocabulary obtained when preprocessing text data
    num_departments = 4  # Number of departments for predictions
    title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
    tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`
    # Embed each word in the title into a 64-dimensional vector
    title_features = layers.Embedding(num_words, 64)(title_input)
    # Embed each word in the text into a 64-dimensional vector
    body_features = layers.Embedding(num_words, 64)(body_input)
    # Reduce sequence of embedded words in the title into a single 128-dimensional vector
    title_features = layers.LSTM(128)(title_features)
    # Reduce sequence of embedded words in the body into a single 32-dimensional vector
    body_features = layers.LSTM(32)(body_features)
    # Merge all available features into a single large vector via concatenation
    x = layers.concatenate([title_features, body_features, tags_input])
    # Stick a logistic regression for priority prediction on top of the features
    priority_pred = layers.Dense(1, name="priority")(x)
    # Stick a department classifier on top of the features
    department_pred = layers.Dense(num_departments, name="department")(x)
    # Instantiate an end-to-end model predicting both priority and department
    model = keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])
    return model


def test_functional_triage_model_builds_and_summarises(capsys):
    model = _triage_model()
    model.summary()
    out = capsys.readouterr().out
    for name in (
        "title (InputLayer)",
        "body (InputLayer)",
        "tags (InputLayer)",
        "embedding (Embedding)",
        "embedding_1 (Embedding)",
        "lstm (LSTM)",
        "lstm_1 (LSTM)",
        "concatenate (Concatenate)",
        "priority (Dense)",
        "department (Dense)",
    ):
        assert name in out, name
    # 2 embeddings, LSTM(128) on 64, LSTM(32) on 64, heads on 128+32+12=172
    expected = 2 * 10000 * 64 + 4 * (64 * 128 + 128 * 128 + 128) + 4 * (64 * 32 + 32 * 32 + 32) + 173 + 173 * 4
    assert model.count_params() == expected
    assert f"Total params: {expected:,}" in out
    rng = np.random.RandomState(0)
    priority, department = model.predict(
        [rng.randint(1, 10000, (3, 7)), rng.randint(1, 10000, (3, 11)), rng.randint(0, 2, (3, 12)).astype("float32")],
        verbose=0,
    )
    assert priority.shape == (3, 1) and department.shape == (3, 4)


def _data(n=256, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.rand(n, 784).astype("float32")
    labels = x[:, :10].argmax(1)
    return x, np.eye(10, dtype="float32")[labels]


def test_sequential_and_functional_definitions_compile_and_fit():
    model = models.Sequential()
    model.add(layers.Dense(32, activation="relu", input_shape=(784,)))
    model.add(layers.Dense(10, activation="softmax"))

    input_tensor = layers.Input(shape=(784,))
    x = layers.Dense(32, activation="relu")(input_tensor)
    output_tensor = layers.Dense(10, activation="softmax")(x)
    functional = models.Model(inputs=input_tensor, outputs=output_tensor)

    inputs, targets = _data()
    for m in (model, functional):
        m.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
        history = m.fit(inputs, targets, batch_size=128, epochs=10, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]
        loss, acc = m.evaluate(inputs, targets, verbose=0)
        assert 0.0 <= acc <= 1.0 and np.isfinite(loss)


def test_save_weights_and_load_weights_snippet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = np.linspace(-1, 1, 64, dtype="float32")[:, None]
    y = 3 * x + 1
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Dense(units=1, input_dim=1))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=3, verbose=0)
    model.save_weights("simple_weights.h5")
    trained = model.get_weights()

    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Dense(units=1, input_dim=1))
    model.compile(optimizer="sgd", loss="mse")
    model.load_weights("simple_weights.h5")
    for a, b in zip(model.get_weights(), trained):
        np.testing.assert_array_equal(a, b)


def test_save_and_load_model_snippet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x_test = np.linspace(-1, 1, 32, dtype="float32")[:, None]
    y_test = 3 * x_test + 1
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Dense(units=1, input_dim=1))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x_test, y_test, epochs=2, verbose=0)
    before = model.evaluate(x_test, y_test, verbose=0)
    model.save("simple_model.h5")

    model = tf.keras.models.load_model("simple_model.h5")
    after = model.evaluate(x_test, y_test, verbose=0)
    assert after == pytest.approx(before, rel=1e-6)


def test_tensorboard_snippet(tmp_path):
    logdir = str(tmp_path / "logs")
    tensorboard_callback = tf.keras.callbacks.TensorBoard(logdir, histogram_freq=1)
    model = models.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.RandomState(0).rand(32, 3).astype("float32")
    model.fit(x, x.sum(1, keepdims=True), epochs=2, validation_split=0.25, callbacks=[tensorboard_callback], verbose=0)
    events = list((tmp_path / "logs").rglob("events.out.tfevents.*"))
    assert events, "TensorBoard wrote no event files"
