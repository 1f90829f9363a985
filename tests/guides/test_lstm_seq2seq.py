"""Keras example "Character-level recurrent sequence-to-sequence model" (keras-io
examples/nlp/lstm_seq2seq.py), ported with `import jnet as keras`; the data vectorization, the
encoder/decoder training model, the save / load round trip, the inference models rebuilt from the
loaded model's layers and `decode_sequence` are the example's. Left out: the fra-eng download (a
few sentence pairs). Sizes: latent_dim 256 -> 8, 100 epochs -> 1 without the validation split (test time),
batch 64 -> 4."""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras = JNET[0]

batch_size = 4
epochs = 1
latent_dim = 8
lines = ["Go.\tVa !\tx", "Hi.\tSalut !\tx", "Run!\tCours !\tx", "Wow!\tÇa alors !\tx", "Stop!\tArrête !\tx"]


def vectorize():
    input_texts = []
    target_texts = []
    input_characters = set()
    target_characters = set()
    for line in lines:
        input_text, target_text, _ = line.split("\t")
        target_text = "\t" + target_text + "\n"
        input_texts.append(input_text)
        target_texts.append(target_text)
        for char in input_text:
            if char not in input_characters:
                input_characters.add(char)
        for char in target_text:
            if char not in target_characters:
                target_characters.add(char)
    input_characters.add(" ")  # the padding character (the real corpus has spaces)
    input_characters = sorted(list(input_characters))
    target_characters = sorted(list(target_characters))
    num_encoder_tokens = len(input_characters)
    num_decoder_tokens = len(target_characters)
    max_encoder_seq_length = max([len(txt) for txt in input_texts])
    max_decoder_seq_length = max([len(txt) for txt in target_texts])
    input_token_index = dict([(char, i) for i, char in enumerate(input_characters)])
    target_token_index = dict([(char, i) for i, char in enumerate(target_characters)])

    encoder_input_data = np.zeros((len(input_texts), max_encoder_seq_length, num_encoder_tokens), dtype="float32")
    decoder_input_data = np.zeros((len(input_texts), max_decoder_seq_length, num_decoder_tokens), dtype="float32")
    decoder_target_data = np.zeros((len(input_texts), max_decoder_seq_length, num_decoder_tokens), dtype="float32")
    for i, (input_text, target_text) in enumerate(zip(input_texts, target_texts)):
        for t, char in enumerate(input_text):
            encoder_input_data[i, t, input_token_index[char]] = 1.0
        encoder_input_data[i, t + 1 :, input_token_index[" "]] = 1.0
        for t, char in enumerate(target_text):
            decoder_input_data[i, t, target_token_index[char]] = 1.0
            if t > 0:
                decoder_target_data[i, t - 1, target_token_index[char]] = 1.0
        decoder_input_data[i, t + 1 :, target_token_index[" "]] = 1.0
        decoder_target_data[i, t:, target_token_index[" "]] = 1.0
    return (
        (encoder_input_data, decoder_input_data, decoder_target_data),
        (num_encoder_tokens, num_decoder_tokens, max_decoder_seq_length),
        target_token_index,
    )


def make_model(keras, num_encoder_tokens, num_decoder_tokens):
    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    return keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)


def test_seq2seq_train_save_load_and_decode(tmp_path):
    (encoder_input_data, decoder_input_data, decoder_target_data), sizes, target_token_index = vectorize()
    num_encoder_tokens, num_decoder_tokens, max_decoder_seq_length = sizes
    model = make_model(keras, num_encoder_tokens, num_decoder_tokens)
    with keras_ok():
        km = make_model(KERAS[0], num_encoder_tokens, num_decoder_tokens)
        copy_weights(model, km)
        x = [encoder_input_data, decoder_input_data]
        np.testing.assert_allclose(np.asarray(model(x)), np.asarray(km(x)), rtol=1e-5, atol=1e-6)

    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        [encoder_input_data, decoder_input_data], decoder_target_data, batch_size=batch_size, epochs=epochs, verbose=0
    )
    model.save(str(tmp_path / "s2s_model.keras"))
    trained = model.predict([encoder_input_data, decoder_input_data], verbose=0)

    # Inference models from the loaded model's layers (the example's indices).
    model = keras.models.load_model(str(tmp_path / "s2s_model.keras"))
    np.testing.assert_allclose(model.predict([encoder_input_data, decoder_input_data], verbose=0), trained, atol=1e-6)
    encoder_inputs = model.input[0]  # input_1
    encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output  # lstm_1
    encoder_states = [state_h_enc, state_c_enc]
    encoder_model = keras.Model(encoder_inputs, encoder_states)

    decoder_inputs = model.input[1]  # input_2
    decoder_state_input_h = keras.Input(shape=(latent_dim,))
    decoder_state_input_c = keras.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
    decoder_states = [state_h_dec, state_c_dec]
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = keras.Model([decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states)

    reverse_target_char_index = dict((i, char) for char, i in target_token_index.items())

    def decode_sequence(input_seq):
        states_value = encoder_model.predict(input_seq, verbose=0)
        target_seq = np.zeros((1, 1, num_decoder_tokens))
        target_seq[0, 0, target_token_index["\t"]] = 1.0
        stop_condition = False
        decoded_sentence = ""
        while not stop_condition:
            output_tokens, h, c = decoder_model.predict([target_seq] + states_value, verbose=0)
            sampled_token_index = np.argmax(output_tokens[0, -1, :])
            sampled_char = reverse_target_char_index[sampled_token_index]
            decoded_sentence += sampled_char
            if sampled_char == "\n" or len(decoded_sentence) > max_decoder_seq_length:
                stop_condition = True
            target_seq = np.zeros((1, 1, num_decoder_tokens))
            target_seq[0, 0, sampled_token_index] = 1.0
            states_value = [h, c]
        return decoded_sentence

    # Teacher forcing and step-by-step decoding agree: the inference models share the trained
    # layers. The first decoded character is the training model's first prediction.
    decoded = decode_sequence(encoder_input_data[0:1])
    assert 1 <= len(decoded) <= max_decoder_seq_length + 1
    assert decoded[0] == reverse_target_char_index[int(np.argmax(trained[0, 0]))]
    h, c = encoder_model.predict(encoder_input_data[0:1], verbose=0)
    step, _, _ = decoder_model.predict([decoder_input_data[0:1, :3], h, c], verbose=0)
    np.testing.assert_allclose(step, trained[0:1, :3], rtol=1e-5, atol=1e-6)
