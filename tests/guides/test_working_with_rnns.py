"""Keras guide "Working with RNNs" (keras-io guides/working_with_rnns.py), ported with
`import jnet as keras`, `from jnet import layers, ops`; model code is the guide's (smaller vocab,
units and data). Left out: the MNIST download (random data) and cuDNN timing (no GPU here)."""

import numpy as np
from guide_util import copy_weights, fit_both, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET


def test_built_in_rnn_layers_shapes():
    model = keras.Sequential()
    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.LSTM(128))
    model.add(layers.Dense(10))
    assert model(np.ones((2, 7), "int32")).shape == (2, 10)

    model = keras.Sequential()
    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.GRU(256, return_sequences=True))
    model.add(layers.SimpleRNN(128))
    model.add(layers.Dense(10))
    assert model(np.ones((2, 7), "int32")).shape == (2, 10)
    assert model.count_params() == 64000 + 3 * (64 * 256 + 256 * 256 + 2 * 256) + (256 * 128 + 128 * 128 + 128) + 1290


def encoder_decoder(keras, layers, ops):
    encoder_vocab = 100  # 1000 in the guide
    decoder_vocab = 200  # 2000 in the guide
    encoder_input = layers.Input(shape=(None,))
    encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(encoder_input)
    # Return states in addition to output
    output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(encoder_embedded)
    encoder_state = [state_h, state_c]
    decoder_input = layers.Input(shape=(None,))
    decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(decoder_input)
    # Pass the 2 states to a new LSTM layer, as initial state
    decoder_output = layers.LSTM(64, name="decoder")(decoder_embedded, initial_state=encoder_state)
    output = layers.Dense(10)(decoder_output)
    return keras.Model([encoder_input, decoder_input], output)


def test_encoder_decoder_with_states_matches_keras():
    rng = np.random.default_rng(0)
    x = [rng.integers(0, 100, (3, 6)), rng.integers(0, 200, (3, 4))]
    keras.backend.clear_session(free_memory=False)
    jm = encoder_decoder(*JNET)
    with keras_ok():
        KERAS[0].backend.clear_session()
        km = encoder_decoder(*KERAS)

        # Default names follow creation order in both, so names pair the layers; so does
        # Keras's weight order (the whole list moves over at once).
        assert [l.name for l in jm.layers] == [l.name for l in km.layers]
        km.set_weights([np.asarray(w) for w in jm.get_weights()])
        np.testing.assert_allclose(np.asarray(jm(x)), np.asarray(km(x)), rtol=1e-5, atol=1e-5)


def test_stateful_lstm():
    paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
    paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
    lstm_layer = layers.LSTM(64, stateful=True)
    output = lstm_layer(paragraph1)
    output = lstm_layer(paragraph2)
    lstm_layer.reset_states()
    # After the reset, paragraph2 starts from zero states: a different output than when it
    # continued from paragraph1's states.
    fresh = lstm_layer(paragraph2)
    assert not np.allclose(np.asarray(output), np.asarray(fresh))


def test_bidirectional():
    model = keras.Sequential()
    model.add(keras.Input(shape=(5, 10)))
    model.add(layers.Bidirectional(layers.LSTM(64, return_sequences=True)))
    model.add(layers.Bidirectional(layers.LSTM(32)))
    model.add(layers.Dense(10))
    assert model.output_shape == (None, 10)
    assert model.count_params() == 2 * 4 * (10 * 64 + 64 * 64 + 64) + 2 * 4 * (128 * 32 + 32 * 32 + 32) + 650


batch_size = 8
units = 16
output_size = 10


def build_model(keras, layers, ops, allow_cudnn_kernel=True):
    input_dim = 28
    if allow_cudnn_kernel:
        lstm_layer = keras.layers.LSTM(units, input_shape=(None, input_dim))
    else:
        lstm_layer = keras.layers.RNN(keras.layers.LSTMCell(units), input_shape=(None, input_dim))
    model = keras.models.Sequential([lstm_layer, keras.layers.BatchNormalization(), keras.layers.Dense(output_size)])
    return model


def test_lstm_and_rnn_of_lstmcell_train_like_keras():
    rng = np.random.default_rng(0)
    x_train = rng.random((16, 28, 28)).astype("float32")
    y_train = rng.integers(0, 10, (16,))
    compile_args = lambda keras: dict(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd", metrics=["accuracy"]
    )
    fit_both(build_model, compile_args, x_train, y_train, dict(batch_size=batch_size, epochs=1))
    fit_both(
        lambda *fw: build_model(*fw, allow_cudnn_kernel=False),
        compile_args,
        x_train,
        y_train,
        dict(batch_size=batch_size, epochs=1),
    )


def test_custom_cell_with_nested_input_and_state():
    # Keras 3 itself fails on this section of its guide (RNN.build hands the cell one merged
    # shape: IndexError in the cell's build); jnet runs it as tf.keras did.
    class NestedCell(keras.layers.Layer):
        def __init__(self, unit_1, unit_2, unit_3, **kwargs):
            self.unit_1 = unit_1
            self.unit_2 = unit_2
            self.unit_3 = unit_3
            self.state_size = [unit_1, (unit_2, unit_3)]
            self.output_size = [unit_1, (unit_2, unit_3)]
            super().__init__(**kwargs)

        def build(self, input_shapes):
            # expect input_shape to contain 2 items, [(batch, i1), (batch, i2, i3)]
            input_1 = input_shapes[0][1]
            i2, i3 = input_shapes[1][1], input_shapes[1][2]
            self.kernel_1 = self.add_weight(shape=(input_1, self.unit_1), initializer="uniform", name="kernel_1")
            self.kernel_2_3 = self.add_weight(
                shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform", name="kernel_2_3"
            )

        def call(self, inputs, states):
            # inputs should be in [(batch, input_1), (batch, input_2, input_3)]
            # state should be in shape [(batch, unit_1), (batch, unit_2, unit_3)]
            input_1, input_2 = inputs
            s1, s2 = states
            output_1 = ops.matmul(input_1, self.kernel_1)
            output_2_3 = ops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
            state_1 = s1 + output_1
            state_2_3 = s2 + output_2_3
            output = (output_1, output_2_3)
            new_states = (state_1, state_2_3)
            return output, new_states

        def get_config(self):
            return {"unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}

    unit_1, unit_2, unit_3 = 10, 20, 32
    i1, i2, i3 = 32, 64, 32
    batch_size, num_batches, timestep = 8, 2, 5
    cell = NestedCell(unit_1, unit_2, unit_3)
    rnn = keras.layers.RNN(cell)
    input_1 = keras.Input((None, i1))
    input_2 = keras.Input((None, i2, i3))
    outputs = rnn((input_1, input_2))
    model = keras.models.Model([input_1, input_2], outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    input_1_data = rng.random((batch_size * num_batches, timestep, i1)).astype("float32")
    input_2_data = rng.random((batch_size * num_batches, timestep, i2, i3)).astype("float32")
    target_1_data = rng.random((batch_size * num_batches, unit_1)).astype("float32")
    target_2_data = rng.random((batch_size * num_batches, unit_2, unit_3)).astype("float32")
    input_data = [input_1_data, input_2_data]
    target_data = [target_1_data, target_2_data]
    model.fit(input_data, target_data, batch_size=batch_size, verbose=0)
    # The cell's output at a step is that step's projection; its states are their running sums.
    out1, out23 = model.predict(input_data, verbose=0)
    k1 = np.asarray(cell.kernel_1.value)
    np.testing.assert_allclose(out1, input_1_data[:, -1] @ k1, rtol=1e-4, atol=1e-5)
    k23 = np.asarray(cell.kernel_2_3.value)
    np.testing.assert_allclose(out23, np.einsum("bij,ijkl->bkl", input_2_data[:, -1], k23), rtol=1e-4, atol=1e-5)
    _, s1, s23 = keras.layers.RNN(cell, return_state=True)((input_1_data, input_2_data))
    np.testing.assert_allclose(np.asarray(s1), input_1_data.sum(1) @ k1, rtol=1e-4, atol=1e-4)
    assert s23.shape == (batch_size * num_batches, unit_2, unit_3)


def test_default_layer_names_follow_creation_order_like_keras():
    # jnet numbers default names per model (DESIGN §2), in creation order as Keras does, so a
    # script's first model gets Keras's names, and a second identical model gets the same ones.
    keras.backend.clear_session(free_memory=False)
    jm = encoder_decoder(*JNET)
    assert jm.get_layer("embedding").input_dim == 100
    assert jm.get_layer("embedding_1").input_dim == 200
    jm2 = encoder_decoder(*JNET)
    assert [l.name for l in jm2.layers] == [l.name for l in jm.layers]
    with keras_ok():
        KERAS[0].backend.clear_session()
        km = encoder_decoder(*KERAS)
        assert [l.name for l in km.layers] == [l.name for l in jm.layers]
