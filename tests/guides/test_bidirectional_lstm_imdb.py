"""Keras example "Bidirectional LSTM on IMDB" (keras-io examples/nlp/bidirectional_lstm_imdb.py),
ported with `import jnet as keras`, `from jnet import layers`; the model and training call are the
example's, padding through `keras.preprocessing.sequence.pad_sequences` as written there. Left out:
the IMDB download (random reviews). Sizes: 20000 words -> 50, maxlen 200 -> 10, embedding 128 -> 8,
LSTM 64 -> 4, 2 epochs -> 1 without the validation set (test time)."""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

max_features = 50
maxlen = 10


def make_model(keras, layers, ops):
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 8)(inputs)
    x = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(4))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def test_bidirectional_lstm_matches_keras_and_trains():
    rng = np.random.default_rng(0)
    x_train = [list(rng.integers(1, max_features, rng.integers(3, 15))) for _ in range(16)]
    x_val = [list(rng.integers(1, max_features, rng.integers(3, 15))) for _ in range(4)]
    y_train = rng.integers(0, 2, 16)
    x_train = keras.preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.preprocessing.sequence.pad_sequences(x_val, maxlen=maxlen)
    assert x_train.shape == (16, maxlen)

    model = make_model(*JNET)
    with keras_ok():
        km = make_model(*KERAS)
        copy_weights(model, km)
        np.testing.assert_allclose(np.asarray(model(x_val)), np.asarray(km(x_val)), rtol=1e-5, atol=1e-6)

    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
