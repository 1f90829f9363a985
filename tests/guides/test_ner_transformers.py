"""Keras example "Named Entity Recognition using Transformers" (keras-io
examples/nlp/ner_transformers.py, Keras 3 version with `keras.ops`), ported with
`import jnet as keras`, `from jnet import layers, ops`; TransformerBlock, TokenAndPositionEmbedding, the subclassed
NERModel, the masked CustomLoss, the compile/fit and the tag-id predictions are the example's.
Left out: the CoNLL download, the `tf.data` pipeline and conlleval (random token ids, padded
the way `padded_batch` pads: zeros at the end). Sizes: vocab 20000 -> 50, maxlen 128 -> 12,
10 epochs -> 1."""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()


def example(keras, layers, ops):
    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([keras.layers.Dense(ff_dim, activation="relu"), keras.layers.Dense(embed_dim)])
            self.layernorm1 = keras.layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = keras.layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = keras.layers.Dropout(rate)
            self.dropout2 = keras.layers.Dropout(rate)

        def call(self, inputs, training=False):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output, training=training)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output, training=training)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = keras.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = keras.layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    class NERModel(keras.Model):
        def __init__(self, num_tags, vocab_size, maxlen=128, embed_dim=32, num_heads=2, ff_dim=32):
            super().__init__()
            self.embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
            self.transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
            self.dropout1 = layers.Dropout(0.1)
            self.ff = layers.Dense(ff_dim, activation="relu")
            self.dropout2 = layers.Dropout(0.1)
            self.ff_final = layers.Dense(num_tags, activation="softmax")

        def call(self, inputs, training=False):
            x = self.embedding_layer(inputs)
            x = self.transformer_block(x)
            x = self.dropout1(x, training=training)
            x = self.ff(x)
            x = self.dropout2(x, training=training)
            x = self.ff_final(x)
            return x

    class CustomLoss(keras.losses.Loss):
        def __init__(self, name="custom_ner_loss"):
            super().__init__(name=name)

        def call(self, y_true, y_pred):
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=False, reduction=None)
            loss = loss_fn(y_true, y_pred)
            mask = ops.cast((y_true > 0), dtype="float32")
            loss = loss * mask
            return ops.sum(loss) / ops.sum(mask)

    return NERModel, CustomLoss


num_tags = 10
vocab_size = 50
maxlen = 12


def make_data(rng, n):
    # `padded_batch`: each sentence's ids and tags (tags from 1; 0 is padding) zero-padded at the end.
    lengths = rng.integers(3, maxlen + 1, n)
    x = np.zeros((n, maxlen), "int32")
    y = np.zeros((n, maxlen), "int32")
    for i, length in enumerate(lengths):
        x[i, :length] = rng.integers(1, vocab_size, length)
        y[i, :length] = rng.integers(1, num_tags, length)
    return x, y


def test_ner_model_matches_keras_and_trains():
    rng = np.random.default_rng(0)
    x_train, y_train = make_data(rng, 32)
    NERModel, CustomLoss = example(*JNET)
    ner_model = NERModel(num_tags, vocab_size, maxlen=maxlen, embed_dim=16, num_heads=2, ff_dim=16)
    preds = ner_model.predict(x_train, verbose=0)
    loss = float(CustomLoss()(y_train, preds))
    # The masked loss: mean cross-entropy over the real (non-padding) tokens only.
    picked = np.take_along_axis(preds, y_train[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(loss, -np.log(picked)[y_train > 0].mean(), rtol=1e-5)
    with keras_ok():
        KNERModel, KCustomLoss = example(*KERAS)
        km = KNERModel(num_tags, vocab_size, maxlen=maxlen, embed_dim=16, num_heads=2, ff_dim=16)
        km(x_train[:1])
        km.set_weights([np.asarray(w) for w in ner_model.get_weights()])
        kpreds = km.predict(x_train, verbose=0)
        np.testing.assert_allclose(preds, kpreds, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(loss, float(KCustomLoss()(y_train, kpreds)), rtol=1e-5)

    tags = np.argmax(preds, axis=-1)
    assert tags.shape == (32, maxlen) and tags.max() < num_tags

    before = [np.asarray(w) for w in ner_model.get_weights()]
    ner_model.compile(optimizer="adam", loss=CustomLoss())
    history = ner_model.fit(x_train, y_train, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # Every weight but the attention's key bias (softmax ignores a per-query constant) moved.
    moved = [not np.allclose(a, b) for a, b in zip(before, ner_model.get_weights())]
    assert moved.count(False) == 1
