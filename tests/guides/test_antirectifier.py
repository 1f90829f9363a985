"""Keras example "Simple custom layer example: Antirectifier" (keras-io
examples/keras_recipes/antirectifier.py, Keras 3 version with `keras.ops`), ported with
`import jnet as keras`, `from jnet import layers, ops`; the Antirectifier layer, the model and its
compile() are the example's. Sizes: MNIST -> 64 random 784-vectors, Dense 256 -> 16, 20 epochs ->
1 without the validation split, batch 128 -> 16 (test time)."""

import numpy as np
from guide_util import fit_both, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()


def example(keras, layers, ops):
    class Antirectifier(layers.Layer):
        def __init__(self, initializer="he_normal", **kwargs):
            super().__init__(**kwargs)
            self.initializer = keras.initializers.get(initializer)

        def build(self, input_shape):
            output_dim = input_shape[-1]
            self.kernel = self.add_weight(
                shape=(output_dim * 2, output_dim), initializer=self.initializer, name="kernel", trainable=True
            )

        def call(self, inputs):
            inputs -= ops.mean(inputs, axis=-1, keepdims=True)
            pos = ops.relu(inputs)
            neg = ops.relu(-inputs)
            concatenated = ops.concatenate([pos, neg], axis=-1)
            mixed = ops.matmul(concatenated, self.kernel)
            return mixed

        def get_config(self):
            # Implement get_config to enable serialization. This is optional.
            base_config = super().get_config()
            config = {"initializer": keras.initializers.serialize(self.initializer)}
            return dict(list(base_config.items()) + list(config.items()))

    return Antirectifier


def make_model(keras, layers, ops):
    Antirectifier = example(keras, layers, ops)
    return keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(16),
            Antirectifier(),
            layers.Dense(16),
            Antirectifier(),
            layers.Dropout(0.5),
            layers.Dense(10),
        ]
    )


def compile_kwargs(keras):
    return dict(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )


def test_antirectifier_trains_like_keras():
    rng = np.random.default_rng(0)
    x_train = rng.random((64, 784)).astype("float32")
    y_train = rng.integers(0, 10, (64,))
    # Dropout draws differ between the libraries: compare inference, then train jnet alone.
    jm = make_model(*JNET)
    with keras_ok():
        km = make_model(*KERAS)
        km.set_weights([np.asarray(w) for w in jm.get_weights()])
        np.testing.assert_allclose(jm.predict(x_train, verbose=0), km.predict(x_train, verbose=0), rtol=1e-4, atol=1e-5)
    jm.compile(**compile_kwargs(JNET[0]))
    history = jm.fit(x_train, y_train, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "sparse_categorical_accuracy" in history.history

    # The layer's config round-trips through the serialized initializer.
    layer = jm.layers[1]
    clone = type(layer).from_config(layer.get_config())
    assert type(clone.initializer).__name__ == "HeNormal"
