"""Keras example "English-to-Spanish translation with a sequence-to-sequence Transformer"
(keras-io examples/nlp/neural_machine_translation_with_transformer.py), ported with
`import jnet as keras`, `from jnet import layers, ops`; the Keras 3 version's model code
(`TransformerEncoder`, `PositionalEmbedding` with `compute_mask`, `TransformerDecoder` with its causal
mask built from ops, the encoder/decoder/transformer models, `decode_sequence`) is the example's.
Left out: the Anki download and the tf.data pipeline (a few sentence pairs in Python lists, batched
by `fit`, no validation set); the custom standardization is the same regex on Python strings instead of
`tf.strings`. The example notes that its `get_causal_attention_mask` (`ops.tile` with repeats
built by `ops.concatenate`) does not run on JAX, Keras 3 included: the model uses it with
static repeats, and a test checks jnet's error on the original. Sizes: vocab 15000 -> 20, sequence_length 20 -> 6, embed 256 -> 8, latent
2048 -> 16, heads 8 -> 2."""

import re
import string

import numpy as np
import pytest
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

strip_chars = string.punctuation + "¿"
strip_chars = strip_chars.replace("[", "")
strip_chars = strip_chars.replace("]", "")

vocab_size = 20  # fewer tokens than the sentences hold: every id is a word
sequence_length = 6
batch_size = 4


def custom_standardization(input_strings):
    return [re.sub("[%s]" % re.escape(strip_chars), "", s.lower()) for s in input_strings]  # noqa: UP031 (the example's)


def guide(keras, layers, ops):
    class TransformerEncoder(layers.Layer):
        def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim = embed_dim
            self.dense_dim = dense_dim
            self.num_heads = num_heads
            self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = keras.Sequential([layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.supports_masking = True

        def call(self, inputs, mask=None):
            if mask is not None:
                padding_mask = ops.cast(mask[:, None, :], dtype="int32")
            else:
                padding_mask = None

            attention_output = self.attention(query=inputs, value=inputs, key=inputs, attention_mask=padding_mask)
            proj_input = self.layernorm_1(inputs + attention_output)
            proj_output = self.dense_proj(proj_input)
            return self.layernorm_2(proj_input + proj_output)

        def get_config(self):
            config = super().get_config()
            config.update({"embed_dim": self.embed_dim, "dense_dim": self.dense_dim, "num_heads": self.num_heads})
            return config

    class PositionalEmbedding(layers.Layer):
        def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_embeddings = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.position_embeddings = layers.Embedding(input_dim=sequence_length, output_dim=embed_dim)
            self.sequence_length = sequence_length
            self.vocab_size = vocab_size
            self.embed_dim = embed_dim

        def call(self, inputs):
            length = ops.shape(inputs)[-1]
            positions = ops.arange(0, length, 1)
            embedded_tokens = self.token_embeddings(inputs)
            embedded_positions = self.position_embeddings(positions)
            return embedded_tokens + embedded_positions

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)

        def get_config(self):
            config = super().get_config()
            config.update(
                {"sequence_length": self.sequence_length, "vocab_size": self.vocab_size, "embed_dim": self.embed_dim}
            )
            return config

    class TransformerDecoder(layers.Layer):
        def __init__(self, embed_dim, latent_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim = embed_dim
            self.latent_dim = latent_dim
            self.num_heads = num_heads
            self.attention_1 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.attention_2 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = keras.Sequential([layers.Dense(latent_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.layernorm_3 = layers.LayerNormalization()
            self.supports_masking = True

        def call(self, inputs, encoder_outputs, mask=None):
            causal_mask = self.get_causal_attention_mask(inputs)
            if mask is not None:
                padding_mask = ops.cast(mask[:, None, :], dtype="int32")
                padding_mask = ops.minimum(padding_mask, causal_mask)
            else:
                padding_mask = None

            attention_output_1 = self.attention_1(query=inputs, value=inputs, key=inputs, attention_mask=causal_mask)
            out_1 = self.layernorm_1(inputs + attention_output_1)

            attention_output_2 = self.attention_2(
                query=out_1, value=encoder_outputs, key=encoder_outputs, attention_mask=padding_mask
            )
            out_2 = self.layernorm_2(out_1 + attention_output_2)

            proj_output = self.dense_proj(out_2)
            return self.layernorm_3(out_2 + proj_output)

        def get_causal_attention_mask(self, inputs):
            input_shape = ops.shape(inputs)
            batch_size, sequence_length = input_shape[0], input_shape[1]
            i = ops.arange(sequence_length)[:, None]
            j = ops.arange(sequence_length)
            mask = ops.cast(i >= j, dtype="int32")
            mask = ops.reshape(mask, (1, input_shape[1], input_shape[1]))
            mult = ops.concatenate([ops.expand_dims(batch_size, -1), ops.convert_to_tensor([1, 1])], axis=0)
            return ops.tile(mask, mult)

        def get_config(self):
            config = super().get_config()
            config.update({"embed_dim": self.embed_dim, "latent_dim": self.latent_dim, "num_heads": self.num_heads})
            return config

    class StaticTileTransformerDecoder(TransformerDecoder):
        # The example's own note: its causal mask does not run on JAX (Keras 3 included), since
        # `ops.tile` needs static repeats under jit. The one change: repeats from the static shape.
        def get_causal_attention_mask(self, inputs):
            batch_size, sequence_length = ops.shape(inputs)[0], ops.shape(inputs)[1]
            i = ops.arange(sequence_length)[:, None]
            j = ops.arange(sequence_length)
            mask = ops.cast(i >= j, dtype="int32")
            mask = ops.reshape(mask, (1, sequence_length, sequence_length))
            return ops.tile(mask, (batch_size, 1, 1))

    guide.TransformerDecoder = TransformerDecoder

    def make_transformer():
        embed_dim = 8
        latent_dim = 16
        num_heads = 2

        encoder_inputs = keras.Input(shape=(None,), dtype="int64", name="encoder_inputs")
        x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(encoder_inputs)
        encoder_outputs = TransformerEncoder(embed_dim, latent_dim, num_heads)(x)
        encoder = keras.Model(encoder_inputs, encoder_outputs)  # noqa: F841 (the example builds it too)

        decoder_inputs = keras.Input(shape=(None,), dtype="int64", name="decoder_inputs")
        encoded_seq_inputs = keras.Input(shape=(None, embed_dim), name="decoder_state_inputs")
        x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(decoder_inputs)
        x = StaticTileTransformerDecoder(embed_dim, latent_dim, num_heads)(x, encoded_seq_inputs)
        x = layers.Dropout(0.5)(x)
        decoder_outputs = layers.Dense(vocab_size, activation="softmax")(x)
        decoder = keras.Model([decoder_inputs, encoded_seq_inputs], decoder_outputs)

        decoder_outputs = decoder([decoder_inputs, encoder_outputs])
        transformer = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs, name="transformer")
        return transformer

    return make_transformer


text_pairs = [
    ("Go.", "Ve."),
    ("I see.", "Ya veo."),
    ("Tom ran.", "Tom corrió."),
    ("Who won?", "¿Quién ganó?"),
    ("I am cold.", "Tengo frío."),
    ("We lost.", "Perdimos."),
    ("He is tall.", "Él es alto."),
    ("Help me!", "¡Ayúdame!"),
    ("Be nice.", "Sé amable."),
    ("Call us.", "Llámanos."),
    ("Come in.", "Pasa."),
]
text_pairs = [(eng, "[start] " + spa + " [end]") for eng, spa in text_pairs]


def vectorizers():
    eng_vectorization = layers.TextVectorization(
        max_tokens=vocab_size, output_mode="int", output_sequence_length=sequence_length
    )
    spa_vectorization = layers.TextVectorization(
        max_tokens=vocab_size,
        output_mode="int",
        output_sequence_length=sequence_length + 1,
        standardize=custom_standardization,
    )
    train_eng_texts = [pair[0] for pair in text_pairs]
    train_spa_texts = [pair[1] for pair in text_pairs]
    eng_vectorization.adapt(train_eng_texts)
    spa_vectorization.adapt(train_spa_texts)
    return eng_vectorization, spa_vectorization


def format_dataset(eng_vectorization, spa_vectorization, eng, spa):
    eng = eng_vectorization(eng)
    spa = spa_vectorization(spa)
    return ({"encoder_inputs": eng, "decoder_inputs": spa[:, :-1]}, spa[:, 1:])


@pytest.fixture(scope="module")
def models():
    """The example's transformer on jnet and on Keras 3, built once for the module."""
    with keras_ok():  # the module fixture runs outside guide_broadcasting
        keras.backend.clear_session(free_memory=False)
        transformer = guide(*JNET)()
        KERAS[0].backend.clear_session()
        kt = guide(*KERAS)()
    return transformer, kt


def same_weights(transformer, kt):
    with keras_ok():
        kt.set_weights([np.asarray(w) for w in transformer.get_weights()])


@pytest.mark.xfail(
    strict=True,
    reason="gap: Keras 3 attaches masks to tensors inside a custom layer's call (the MultiHeadAttention in "
    "TransformerEncoder.call reads query/value masks from `inputs`); jnet passes masks only as call's mask=",
)
def test_padded_sentences_match_keras(models):
    transformer, kt = models
    same_weights(transformer, kt)
    x = [np.array([[3, 4, 0, 0, 0, 0]]), np.array([[2, 5, 6, 0, 0, 0]])]
    with keras_ok():
        np.testing.assert_allclose(np.asarray(transformer(x)), np.asarray(kt(x)), rtol=1e-4, atol=1e-6)


def test_translation_transformer_matches_keras_and_decodes(models):
    transformer, kt = models
    same_weights(transformer, kt)
    eng_vectorization, spa_vectorization = vectorizers()
    spa_vocab = spa_vectorization.get_vocabulary()
    assert "[start]" in spa_vocab and "[end]" in spa_vocab and "quién" in spa_vocab  # ¿ stripped
    inputs, targets = format_dataset(eng_vectorization, spa_vectorization, *map(list, zip(*text_pairs)))
    assert inputs["decoder_inputs"].shape == (11, sequence_length) and targets.shape == (11, sequence_length)
    assert len(spa_vocab) == vocab_size

    # Full-length sentences (no padding): the causal mask and the mask flow agree with Keras.
    x = [np.random.default_rng(0).integers(1, vocab_size, (3, sequence_length)) for _ in range(2)]
    with keras_ok():
        np.testing.assert_allclose(np.asarray(transformer(x)), np.asarray(kt(x)), rtol=1e-4, atol=1e-6)
    x = [np.asarray(inputs["encoder_inputs"]), np.asarray(inputs["decoder_inputs"])]

    # The causal mask: a decoder position does not see later target tokens.
    changed = np.array(x[1])
    changed[:, 3:] = 1
    a, b = np.asarray(transformer(x)), np.asarray(transformer([x[0], changed]))
    np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, 3:], b[:, 3:])

    transformer.compile("rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = transformer.fit(inputs, targets, batch_size=batch_size, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and 0 <= history.history["accuracy"][0] <= 1

    spa_index_lookup = dict(zip(range(len(spa_vocab)), spa_vocab))
    max_decoded_sentence_length = sequence_length

    def decode_sequence(input_sentence):
        tokenized_input_sentence = eng_vectorization([input_sentence])
        decoded_sentence = "[start]"
        for i in range(max_decoded_sentence_length):
            tokenized_target_sentence = spa_vectorization([decoded_sentence])[:, :-1]
            predictions = transformer([tokenized_input_sentence, tokenized_target_sentence])

            # ops.argmax(predictions[0, i, :]) in the example: the same on host arrays
            sampled_token_index = int(np.argmax(np.asarray(predictions)[0, i, :]))
            sampled_token = spa_index_lookup[sampled_token_index]
            decoded_sentence += " " + sampled_token

            if sampled_token == "[end]":
                break
        return decoded_sentence

    translated = decode_sequence("Tom ran.")
    assert translated.startswith("[start] ") and len(translated.split()) <= max_decoded_sentence_length + 1


def test_example_causal_mask_needs_static_repeats_on_jax():
    """The example's mask, verbatim: outside jit it runs; traced (as in a functional model), jnet
    says why `ops.tile` cannot take computed repeats (Keras 3 on JAX fails here too)."""
    guide(*JNET)
    decoder = guide.TransformerDecoder(8, 16, 2)
    x = np.zeros((2, 3, 8), "float32")
    np.testing.assert_array_equal(np.asarray(decoder.get_causal_attention_mask(x))[1], np.tril(np.ones((3, 3))))
    with pytest.raises(TypeError, match="ops.tile: repeats must be known"):
        import jax

        jax.jit(decoder.get_causal_attention_mask)(x)
