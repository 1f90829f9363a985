"""Keras example "Sequence to sequence learning for performing number addition" (keras-io
examples/nlp/addition_rnn.py), ported with `import jnet as keras`, `from jnet import layers`;
`CharacterTable`, the data generation, the LSTM + RepeatVector + LSTM model and the training loop
are the example's. Sizes: 50000 questions -> 40, LSTM 128 -> 16, 30 iterations -> 1 without the validation
set (test time), batch 32 -> 8."""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

TRAINING_SIZE = 40
DIGITS = 2
REVERSE = True
MAXLEN = DIGITS + 1 + DIGITS


class CharacterTable:
    """One-hot encode / decode characters (the example's class)."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.char_indices = dict((c, i) for i, c in enumerate(self.chars))
        self.indices_char = dict((i, c) for i, c in enumerate(self.chars))

    def encode(self, C, num_rows):
        x = np.zeros((num_rows, len(self.chars)))
        for i, c in enumerate(C):
            x[i, self.char_indices[c]] = 1
        return x

    def decode(self, x, calc_argmax=True):
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.indices_char[x] for x in x)


chars = "0123456789+ "
ctable = CharacterTable(chars)


def make_data():
    np.random.seed(0)
    questions = []
    expected = []
    seen = set()
    while len(questions) < TRAINING_SIZE:

        def f():
            return int("".join(np.random.choice(list("0123456789")) for i in range(np.random.randint(1, DIGITS + 1))))

        a, b = f(), f()
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        q = f"{a}+{b}"
        query = q + " " * (MAXLEN - len(q))
        ans = str(a + b)
        ans += " " * (DIGITS + 1 - len(ans))
        if REVERSE:
            query = query[::-1]
        questions.append(query)
        expected.append(ans)

    x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=bool)
    y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=bool)
    for i, sentence in enumerate(questions):
        x[i] = ctable.encode(sentence, MAXLEN)
    for i, sentence in enumerate(expected):
        y[i] = ctable.encode(sentence, DIGITS + 1)
    split_at = len(x) - len(x) // 10
    return (x[:split_at], x[split_at:]), (y[:split_at], y[split_at:])


def make_model(keras, layers, ops):
    num_layers = 1
    model = keras.Sequential()
    model.add(layers.LSTM(16, input_shape=(MAXLEN, len(chars))))
    model.add(layers.RepeatVector(DIGITS + 1))
    for _ in range(num_layers):
        model.add(layers.LSTM(16, return_sequences=True))
    model.add(layers.Dense(len(chars), activation="softmax"))
    return model


def test_addition_rnn_matches_keras_and_decodes():
    (x_train, x_val), (y_train, y_val) = make_data()
    assert x_train.dtype == bool and x_train.shape == (36, MAXLEN, 12) and y_train.shape == (36, DIGITS + 1, 12)
    model = make_model(*JNET)
    with keras_ok():
        km = make_model(*KERAS)
        copy_weights(model, km)
        np.testing.assert_allclose(np.asarray(model(x_val)), np.asarray(km(x_val)), rtol=1e-5, atol=1e-6)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=8, epochs=1, verbose=0).history
    assert set(history) == {"loss", "accuracy"}
    for _ in range(2):
        ind = np.random.randint(0, len(x_val))
        rowx, rowy = x_val[np.array([ind])], y_val[np.array([ind])]
        preds = np.argmax(model.predict(rowx, verbose=0), axis=-1)
        q = ctable.decode(rowx[0])
        correct = ctable.decode(rowy[0])
        guess = ctable.decode(preds[0], calc_argmax=False)
        assert "+" in q and len(correct) == len(guess) == DIGITS + 1
