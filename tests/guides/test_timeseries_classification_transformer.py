"""Keras example "Timeseries classification with a Transformer model" (keras-io
examples/timeseries/timeseries_classification_transformer.py), ported with `import jnet as keras`,
`from jnet import layers`; `transformer_encoder`, `build_model`, the compile, summary and evaluate
are the example's. Left out: the FordA download (random series instead) and the 200-epoch fit
with EarlyStopping (test time; fit with callbacks is covered by the other ports). Sizes: 500
steps -> 16, head_size 256 -> 8, 4 blocks -> 2, mlp_units [128] -> [8]."""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
n_classes = 2


def example(keras, layers):
    def transformer_encoder(inputs, head_size, num_heads, ff_dim, dropout=0):
        # Attention and Normalization
        x = layers.MultiHeadAttention(key_dim=head_size, num_heads=num_heads, dropout=dropout)(inputs, inputs)
        x = layers.Dropout(dropout)(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        res = x + inputs

        # Feed Forward Part
        x = layers.Conv1D(filters=ff_dim, kernel_size=1, activation="relu")(res)
        x = layers.Dropout(dropout)(x)
        x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        return x + res

    def build_model(
        input_shape, head_size, num_heads, ff_dim, num_transformer_blocks, mlp_units, dropout=0, mlp_dropout=0
    ):
        inputs = keras.Input(shape=input_shape)
        x = inputs
        for _ in range(num_transformer_blocks):
            x = transformer_encoder(x, head_size, num_heads, ff_dim, dropout)

        x = layers.GlobalAveragePooling1D(data_format="channels_last")(x)
        for dim in mlp_units:
            x = layers.Dense(dim, activation="relu")(x)
            x = layers.Dropout(mlp_dropout)(x)
        outputs = layers.Dense(n_classes, activation="softmax")(x)
        return keras.Model(inputs, outputs)

    return build_model


def make_model(keras, layers):
    build_model = example(keras, layers)
    model = build_model(
        (16, 1),
        head_size=8,
        num_heads=4,
        ff_dim=4,
        num_transformer_blocks=2,
        mlp_units=[8],
        mlp_dropout=0.4,
        dropout=0.25,
    )
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=1e-4),
        metrics=["sparse_categorical_accuracy"],
    )
    return model


def test_transformer_classifier_evaluates_like_keras(capsys):
    rng = np.random.default_rng(0)
    x_test = rng.normal(size=(24, 16, 1)).astype("float32")
    y_test = rng.integers(0, 2, 24)
    JNET[0].backend.clear_session(free_memory=False)
    model = make_model(JNET[0], JNET[1])
    model.summary()
    assert "multi_head_attention" in capsys.readouterr().out
    with keras_ok():
        KERAS[0].backend.clear_session()
        km = make_model(KERAS[0], KERAS[1])
        copy_weights(model, km)
        k_eval = km.evaluate(x_test, y_test, verbose=0)
    assert model.count_params() == km.count_params()
    np.testing.assert_allclose(model.evaluate(x_test, y_test, verbose=0), k_eval, rtol=1e-4, atol=1e-6)
