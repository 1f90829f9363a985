"""Keras example "Text generation with a miniature GPT" (keras-io
examples/generative/text_generation_with_miniature_gpt.py), Keras 3 version, ported with
`import jnet as keras`, `from jnet import layers, ops`; `TransformerBlock` (MultiHeadAttention with a
causal mask), `TokenAndPositionEmbedding`, `create_model` (two outputs, `loss=[loss_fn, None]`),
`prepare_lm_inputs_labels` and the `TextGenerator` sampling callback are the example's. The
example notes that its `causal_attention_mask` (`ops.tile` with repeats built by
`ops.concatenate`) does not run on JAX, Keras 3 included: here the repeats come from the static
batch size, the one change. Left out: the IMDB download and tf.data (a few sentences); the custom
standardization is the same regexes on Python strings. Sizes: vocab 20000 -> 30, maxlen 80 -> 8,
embed 256 -> 8, ff 256 -> 8, 25 epochs -> 1."""

import re
import string

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

vocab_size = 30
maxlen = 8
embed_dim = 8
num_heads = 2
feed_forward_dim = 8
batch_size = 4


def guide(keras, layers, ops):
    def causal_attention_mask(batch_size, n_dest, n_src, dtype):
        """
        Mask the upper half of the dot product matrix in self attention.
        This prevents flow of information from future tokens to current token.
        1's in the lower triangle, counting from the lower right corner.
        """
        i = ops.arange(n_dest)[:, None]
        j = ops.arange(n_src)
        m = i >= j - n_src + n_dest
        mask = ops.cast(m, dtype)
        mask = ops.reshape(mask, [1, n_dest, n_src])
        return ops.tile(mask, (batch_size, 1, 1))  # static repeats (see the module docstring)

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads, embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            input_shape = ops.shape(inputs)
            batch_size = input_shape[0]
            seq_len = input_shape[1]
            causal_mask = causal_attention_mask(batch_size, seq_len, seq_len, "bool")
            attention_output = self.att(inputs, inputs, attention_mask=causal_mask)
            attention_output = self.dropout1(attention_output)
            out1 = self.layernorm1(inputs + attention_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(0, maxlen, 1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    def create_model():
        inputs = layers.Input(shape=(maxlen,), dtype="int32")
        embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
        x = embedding_layer(inputs)
        transformer_block = TransformerBlock(embed_dim, num_heads, feed_forward_dim)
        x = transformer_block(x)
        outputs = layers.Dense(vocab_size)(x)
        model = keras.Model(inputs=inputs, outputs=[outputs, x])
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(
            "adam", loss=[loss_fn, None]
        )  # No loss and optimization based on word embeddings from transformer block
        return model

    return create_model


def custom_standardization(input_strings):
    """Remove html line-break tags and handle punctuation"""
    out = []
    for s in input_strings:
        stripped_html = s.lower().replace("<br />", " ")
        out.append(re.sub(f"([{re.escape(string.punctuation)}])", r" \1", stripped_html))
    return out


texts = [
    "This movie is great.<br />I loved it!",
    "This movie is bad, the plot is thin.",
    "A fine film: the actors are good and the story is fun.",
    "I did not like this film at all.",
    "The music is great and the ending is sad.",
    "What a waste of time, this movie is boring.",
    "Great acting, good story, I will watch it again.",
    "The plot is fun but the actors are bad.",
]


class TextGenerator(keras.callbacks.Callback):
    """A callback to generate text from a trained model (the example's)."""

    def __init__(self, max_tokens, start_tokens, index_to_word, top_k=10, print_every=1):
        self.max_tokens = max_tokens
        self.start_tokens = start_tokens
        self.index_to_word = index_to_word
        self.print_every = print_every
        self.k = top_k
        self.generated = []

    def sample_from(self, logits):
        logits, indices = ops.top_k(logits, k=self.k, sorted=True)
        indices = np.asarray(indices).astype("int32")
        preds = keras.activations.softmax(ops.expand_dims(logits, 0))[0]
        preds = np.asarray(preds).astype("float32")
        return np.random.choice(indices, p=preds)

    def detokenize(self, number):
        return self.index_to_word[number]

    def on_epoch_end(self, epoch, logs=None):
        start_tokens = [_ for _ in self.start_tokens]
        if (epoch + 1) % self.print_every != 0:
            return
        num_tokens_generated = 0
        tokens_generated = []
        while num_tokens_generated <= self.max_tokens:
            pad_len = maxlen - len(start_tokens)
            sample_index = len(start_tokens) - 1
            if pad_len < 0:
                x = start_tokens[:maxlen]
                sample_index = maxlen - 1
            elif pad_len > 0:
                x = start_tokens + [0] * pad_len
            else:
                x = start_tokens
            x = np.array([x])
            y, _ = self.model.predict(x, verbose=0)
            sample_token = self.sample_from(y[0][sample_index])
            tokens_generated.append(sample_token)
            start_tokens.append(sample_token)
            num_tokens_generated = len(tokens_generated)
        txt = " ".join([self.detokenize(_) for _ in self.start_tokens + tokens_generated])
        self.generated.append(txt)


def test_miniature_gpt_matches_keras_and_generates():
    vectorize_layer = layers.TextVectorization(
        standardize=custom_standardization,
        max_tokens=vocab_size - 1,
        output_mode="int",
        output_sequence_length=maxlen + 1,
    )
    vectorize_layer.adapt(texts)
    vocab = vectorize_layer.get_vocabulary()
    assert len(vocab) == vocab_size - 1 and "." in vocab  # punctuation split off as tokens

    def prepare_lm_inputs_labels(text):
        text = np.expand_dims(np.array(text), -1)  # tf.expand_dims in the example
        tokenized_sentences = vectorize_layer(text)
        x = tokenized_sentences[:, :-1]
        y = tokenized_sentences[:, 1:]
        return x, y

    x, y = prepare_lm_inputs_labels(texts)
    assert x.shape == y.shape == (8, maxlen)

    model = guide(*JNET)()
    with keras_ok():
        km = guide(*KERAS)()
        copy_weights(model, km)
        for a, b in zip(model(x), km(x)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
    # Causal: a change in the last token leaves the earlier positions' logits alone.
    changed = np.array(x)
    changed[:, -1] = 3
    a, b = np.asarray(model(x)[0]), np.asarray(model(changed)[0])
    np.testing.assert_allclose(a[:, :-1], b[:, :-1], rtol=1e-5, atol=1e-5)

    word_to_index = {}
    for index, word in enumerate(vocab):
        word_to_index[word] = index
    start_prompt = "this movie is"
    start_tokens = [word_to_index.get(_, 1) for _ in start_prompt.split()]
    num_tokens_generated = 2
    text_gen_callback = TextGenerator(num_tokens_generated, start_tokens, vocab)

    np.random.seed(0)
    history = model.fit(x, y, batch_size=batch_size, verbose=0, epochs=1, callbacks=[text_gen_callback])
    assert np.isfinite(history.history["loss"][0])
    (txt,) = text_gen_callback.generated
    assert txt.startswith("this movie is ") and len(txt.split()) == 3 + num_tokens_generated + 1
