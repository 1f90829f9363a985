"""Keras guide "Introduction to Keras for engineers" (keras-io
guides/intro_to_keras_for_engineers.py), ported with `import jnet as keras`: the MNIST convnet
(fit with validation_split, ModelCheckpoint and EarlyStopping, evaluate, save / load_model,
predict) and the cross-framework custom components (`MyDense`, `MyDropout` over
`keras.random.SeedGenerator`, the subclassed `MyModel`).
Changes: tiny random digits instead of MNIST, 2 epochs, files in a temporary folder. Dropout
draws differ between frameworks, so Keras 3 checks inference: the trained jnet weights copied
into the guide's Keras model give the same evaluate / predict numbers.
Left out: the PyTorch DataLoader and tf.data sections (neither library is a jnet dependency)."""

import os

import numpy as np
import pytest
from guide_util import guide_broadcasting, keras_ok  # noqa: F401

import jnet

# Model parameters
num_classes = 10
input_shape = (28, 28, 1)
batch_size = 16


def data():
    rng = np.random.default_rng(0)
    x = rng.random((40, 28, 28, 1)).astype("float32")
    y = rng.integers(0, num_classes, 40)
    return (x[:32], y[:32]), (x[32:], y[32:])


def convnet(keras):
    return keras.Sequential(
        [
            keras.layers.Input(shape=input_shape),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
            keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )


def compile_model(keras, model):
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(),
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
    )


def components(keras):
    class MyDense(keras.layers.Layer):
        def __init__(self, units, activation=None, name=None):
            super().__init__(name=name)
            self.units = units
            self.activation = keras.activations.get(activation)

        def build(self, input_shape):
            input_dim = input_shape[-1]
            self.w = self.add_weight(
                shape=(input_dim, self.units),
                initializer=keras.initializers.GlorotNormal(),
                name="kernel",
                trainable=True,
            )

            self.b = self.add_weight(
                shape=(self.units,), initializer=keras.initializers.Zeros(), name="bias", trainable=True
            )

        def call(self, inputs):
            # Use Keras ops to create backend-agnostic layers/metrics/etc.
            x = keras.ops.matmul(inputs, self.w) + self.b
            return self.activation(x)

    class MyDropout(keras.layers.Layer):
        def __init__(self, rate, name=None):
            super().__init__(name=name)
            self.rate = rate
            # Use seed_generator for managing RNG state.
            # It is a state element and its seed variable is
            # tracked as part of `layer.variables`.
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            # Use `keras.random` for random ops.
            return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)

    class MyModel(keras.Model):
        def __init__(self, num_classes):
            super().__init__()
            self.conv_base = keras.Sequential(
                [
                    keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                    keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                    keras.layers.MaxPooling2D(pool_size=(2, 2)),
                    keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
                    keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
                    keras.layers.GlobalAveragePooling2D(),
                ]
            )
            self.dp = MyDropout(0.5)
            self.dense = MyDense(num_classes, activation="softmax")

        def call(self, x):
            x = self.conv_base(x)
            x = self.dp(x)
            return self.dense(x)

    return MyDense, MyDropout, MyModel


@pytest.mark.slow  # about 10 s of CPU: two frameworks' compiles of a 4-conv model
def test_mnist_convnet_section(tmp_path):
    keras = jnet
    (x_train, y_train), (x_test, y_test) = data()
    model = convnet(keras)
    model.summary(print_fn=lambda *a, **k: None)
    compile_model(keras, model)
    callbacks = [
        keras.callbacks.ModelCheckpoint(filepath=os.path.join(tmp_path, "model_at_epoch_{epoch}.keras")),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
    ]
    history = model.fit(
        x_train, y_train, batch_size=batch_size, epochs=2, validation_split=0.15, callbacks=callbacks, verbose=0
    )
    assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]
    assert sorted(os.listdir(tmp_path)) == ["model_at_epoch_1.keras", "model_at_epoch_2.keras"]
    score = model.evaluate(x_test, y_test, verbose=0)
    model.save(os.path.join(tmp_path, "final_model.keras"))
    model = keras.saving.load_model(os.path.join(tmp_path, "final_model.keras"))
    predictions = model.predict(x_test, verbose=0)
    assert predictions.shape == (8, num_classes)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)

    import keras as real_keras

    with keras_ok():
        km = convnet(real_keras)
        compile_model(real_keras, km)
        km.set_weights(model.get_weights())
        np.testing.assert_allclose(km.evaluate(x_test, y_test, verbose=0), score, rtol=1e-5)
        np.testing.assert_allclose(km.predict(x_test, verbose=0), predictions, rtol=1e-5, atol=1e-6)
        # The checkpoint Keras reads back is jnet's last epoch.
        reloaded = real_keras.saving.load_model(os.path.join(tmp_path, "model_at_epoch_2.keras"))
        np.testing.assert_allclose(reloaded.predict(x_test, verbose=0), predictions, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # fit of the guide's subclassed convnet; tests/guides/test_mnist_convnet.py covers fit
def test_custom_components_section():
    keras = jnet
    (x_train, y_train), _ = data()
    MyDense, MyDropout, MyModel = components(keras)
    model = MyModel(num_classes=10)
    compile_model(keras, model)
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=1,  # For speed
        validation_split=0.15,
        verbose=0,
    )
    assert np.isfinite(history.history["loss"][0]) and "val_acc" in history.history
    # Each call of the custom dropout draws a new mask from its seed generator.
    dp = MyDropout(0.5)
    x = np.ones((4, 8), "float32")
    a, b = np.asarray(dp(x)), np.asarray(dp(x))
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)
    dense = MyDense(3, activation="relu")
    out = np.asarray(dense(x))
    np.testing.assert_allclose(out, np.maximum(x @ np.asarray(dense.w.value) + np.asarray(dense.b.value), 0), rtol=1e-6)
    assert [w.path.split("/")[-1] for w in dense.weights] == ["kernel", "bias"]
