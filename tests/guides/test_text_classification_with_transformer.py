"""Keras example "Text classification with Transformer" (keras-io
examples/nlp/text_classification_with_transformer.py), ported with `import jnet as keras`,
`from jnet import layers, ops`; TransformerBlock, TokenAndPositionEmbedding and the model are the
example's. Left out: the IMDB download (random token ids instead; vocab 20000 -> 200,
maxlen 200 -> 16)."""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()


def guide(keras, layers, ops):
    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
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
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    def make_model():
        embed_dim = 32  # Embedding size for each token
        num_heads = 2  # Number of attention heads
        ff_dim = 32  # Hidden layer size in feed forward network inside transformer

        inputs = layers.Input(shape=(maxlen,))
        embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
        x = embedding_layer(inputs)
        transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
        x = transformer_block(x)
        x = layers.GlobalAveragePooling1D()(x)
        x = layers.Dropout(0.1)(x)
        x = layers.Dense(20, activation="relu")(x)
        x = layers.Dropout(0.1)(x)
        outputs = layers.Dense(2, activation="softmax")(x)
        return keras.Model(inputs=inputs, outputs=outputs)

    return make_model


vocab_size = 200  # Only consider the top 20k words
maxlen = 16  # Only consider the first 200 words of each movie review


def test_transformer_classifier():
    rng = np.random.default_rng(0)
    x_train = keras_pad(rng, 32)
    y_train = rng.integers(0, 2, (32,))
    x_val = keras_pad(rng, 8)
    y_val = rng.integers(0, 2, (8,))
    JNET[0]
    model = guide(*JNET)()
    # Inference (dropout off) matches Keras 3 on copied weights.
    with keras_ok():
        km = guide(*KERAS)()
        km.set_weights([np.asarray(w) for w in model.get_weights()])
        np.testing.assert_allclose(model.predict(x_val, verbose=0), km.predict(x_val, verbose=0), rtol=1e-4, atol=1e-6)

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=16, epochs=2, validation_data=(x_val, y_val), verbose=0)
    assert len(history.history["val_accuracy"]) == 2
    # Dropout inside the custom block is active in fit: two training-mode calls differ.
    block = model.layers[2]
    x = model.layers[1](x_val)
    a = np.asarray(block(x, training=True))
    b = np.asarray(block(x, training=True))
    assert not np.allclose(a, b)
    np.testing.assert_allclose(np.asarray(block(x)), np.asarray(block(x)))


def keras_pad(rng, n):
    """Random reviews of random lengths, padded/truncated the example's way."""
    seqs = [list(rng.integers(1, vocab_size, size=rng.integers(4, 24))) for _ in range(n)]
    return JNET[0].utils.pad_sequences(seqs, maxlen=maxlen)
