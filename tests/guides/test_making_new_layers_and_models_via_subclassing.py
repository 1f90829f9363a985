"""Keras guide "Making new layers and models via subclassing" (keras-io
guides/making_new_layers_and_models_via_subclassing.py, Keras 3 edition), ported with
`import jnet as keras`, `from jnet import layers, ops`. The guide's classes are defined once per
framework by `guide(keras, layers, ops)` so the same lines run on jnet and on Keras 3.
Left out: the MNIST download (tiny random data instead) and the tf.data / GradientTape loop of
the TensorFlow edition (the VAE is trained with fit(), as the guide's last section does)."""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()


def guide(keras, layers, ops):
    class Linear(keras.layers.Layer):
        def __init__(self, units=32, input_dim=32):
            super().__init__()
            self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(ops.sum(inputs, axis=0))
            return self.total

    class LazyLinear(keras.layers.Layer):  # the guide's `Linear` with build() and get_config()
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units})
            return config

    class MLPBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = LazyLinear(32)
            self.linear_2 = LazyLinear(32)
            self.linear_3 = LazyLinear(1)

        def call(self, inputs):
            x = self.linear_1(inputs)
            x = keras.activations.relu(x)
            x = self.linear_2(x)
            x = keras.activations.relu(x)
            return self.linear_3(x)

    class ActivityRegularizationLayer(keras.layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.mean(inputs))
            return inputs

    class OuterLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)

    class OuterLayerWithKernelRegularizer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(32, kernel_regularizer=keras.regularizers.l2(1e-3))

        def call(self, inputs):
            return self.dense(inputs)

    class CustomDropout(keras.layers.Layer):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs, training=None):
            if training:
                return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
            return inputs

    class Sampling(layers.Layer):
        """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = ops.shape(z_mean)[0]
            dim = ops.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class Encoder(layers.Layer):
        def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_mean = layers.Dense(latent_dim)
            self.dense_log_var = layers.Dense(latent_dim)
            self.sampling = Sampling()

        def call(self, inputs):
            x = self.dense_proj(inputs)
            z_mean = self.dense_mean(x)
            z_log_var = self.dense_log_var(x)
            z = self.sampling((z_mean, z_log_var))
            return z_mean, z_log_var, z

    class Decoder(layers.Layer):
        def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_output = layers.Dense(original_dim, activation="sigmoid")

        def call(self, inputs):
            x = self.dense_proj(inputs)
            return self.dense_output(x)

    class VariationalAutoEncoder(keras.Model):
        def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.original_dim = original_dim
            self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
            self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

        def call(self, inputs):
            z_mean, z_log_var, z = self.encoder(inputs)
            reconstructed = self.decoder(z)
            kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
            self.add_loss(kl_loss)
            return reconstructed

    return dict(locals())


G = guide(*JNET)


def test_linear_layer_weights_tracked_and_output():
    x = np.ones((2, 2), "float32")
    linear_layer = G["Linear"](4, 2)
    y = linear_layer(x)
    assert linear_layer.weights == [linear_layer.w, linear_layer.b]
    w = np.asarray(linear_layer.w.value)
    np.testing.assert_allclose(np.asarray(y), x @ w, rtol=1e-6)


def test_compute_sum_non_trainable_weight():
    x = np.ones((2, 2), "float32")
    my_sum = G["ComputeSum"](2)
    np.testing.assert_allclose(np.asarray(my_sum(x)), [2.0, 2.0])
    np.testing.assert_allclose(np.asarray(my_sum(x)), [4.0, 4.0])
    assert len(my_sum.weights) == 1
    assert len(my_sum.non_trainable_weights) == 1
    assert my_sum.trainable_weights == []


def test_mlp_block_is_lazy_and_nested():
    mlp = G["MLPBlock"]()
    y = mlp(np.ones((3, 64), "float32"))
    assert y.shape == (3, 1)
    assert len(mlp.weights) == 6
    assert len(mlp.trainable_weights) == 6
    # Same forward pass as Keras 3 on copied weights.
    k = guide(*KERAS)["MLPBlock"]()
    x = np.random.default_rng(0).random((3, 64)).astype("float32")
    with keras_ok():
        k(x)
        k.set_weights([np.asarray(w) for w in mlp.get_weights()])
        np.testing.assert_allclose(np.asarray(mlp(x)), np.asarray(k(x)), rtol=1e-5, atol=1e-6)


def test_add_loss_is_reset_each_call():
    layer = G["OuterLayer"]()
    assert len(layer.losses) == 0
    _ = layer(np.zeros((1, 1), "float32"))
    assert len(layer.losses) == 1
    _ = layer(np.zeros((1, 1), "float32"))
    assert len(layer.losses) == 1


def test_kernel_regularizer_loss_in_losses():
    layer = G["OuterLayerWithKernelRegularizer"]()
    _ = layer(np.zeros((1, 1), "float32"))
    assert len(layer.losses) == 1
    kernel = np.asarray(layer.dense.kernel.value)
    np.testing.assert_allclose(float(layer.losses[0]), 1e-3 * np.sum(kernel**2), rtol=1e-5)


def _activity_model():
    keras = JNET[0]
    inputs = keras.Input(shape=(3,))
    outputs = G["ActivityRegularizationLayer"]()(inputs)
    return keras.Model(inputs, outputs)


def _xy():
    rng = np.random.default_rng(1)
    return rng.random((2, 3)).astype("float32"), rng.random((2, 3)).astype("float32")


def test_add_loss_joins_compiled_loss_in_fit():
    model = _activity_model()
    x, y = _xy()
    model.compile(optimizer="adam", loss="mse")
    # batch_size=2: one full batch (see the xfail below for the guide's default batch_size=32).
    h = model.fit(x, y, batch_size=2, verbose=0)
    # The model has no weights: the loss is mse + 1e-2 * mean(x), exactly.
    np.testing.assert_allclose(h.history["loss"][0], np.mean((x - y) ** 2) + 1e-2 * np.mean(x), rtol=1e-5)


def test_add_loss_on_partial_batch_guide_default_batch_size():
    model = _activity_model()
    x, y = _xy()
    model.compile(optimizer="adam", loss="mse")
    h = model.fit(x, y, verbose=0)  # the guide's call: default batch_size=32, 2 rows
    np.testing.assert_allclose(h.history["loss"][0], np.mean((x - y) ** 2) + 1e-2 * np.mean(x), rtol=1e-5)


def test_add_loss_is_the_whole_loss_without_compiled_loss():
    model = _activity_model()
    x, y = _xy()
    model.compile(optimizer="adam")
    h = model.fit(x, y, batch_size=2, verbose=0)
    np.testing.assert_allclose(h.history["loss"][0], 1e-2 * np.mean(x), rtol=1e-5)


def test_get_config_round_trip():
    layer = G["LazyLinear"](64)
    config = layer.get_config()
    assert config["units"] == 64
    new_layer = G["LazyLinear"].from_config(config)
    assert new_layer.units == 64 and new_layer.name == layer.name


def test_custom_dropout_training_flag():
    layer = G["CustomDropout"](0.5)
    x = np.ones((4, 10), "float32")
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    y = np.asarray(layer(x, training=True))
    assert set(np.unique(y)).issubset({0.0, 2.0}) and 0 < np.sum(y == 0) < y.size


def test_vae_fit():
    keras = JNET[0]
    x_train = np.random.default_rng(0).random((64, 16)).astype("float32")
    vae = G["VariationalAutoEncoder"](16, 8, 4)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    vae.compile(optimizer, loss=keras.losses.MeanSquaredError())
    h = vae.fit(x_train, x_train, epochs=2, batch_size=16, verbose=0)
    assert len(h.history["loss"]) == 2 and np.all(np.isfinite(h.history["loss"]))
    assert len(vae.trainable_weights) == 10
    # The KL term is part of the loss: evaluate = mse + kl, computed here in numpy with the
    # sampled z replaced by... (the sample is random), so check the deterministic KL part alone.
    enc = vae.encoder
    z_mean, z_log_var, _ = enc(x_train)
    kl = -0.5 * np.mean(np.asarray(z_log_var) - np.asarray(z_mean) ** 2 - np.exp(np.asarray(z_log_var)) + 1)
    vae(x_train)
    np.testing.assert_allclose(float(vae.losses[0]), kl, rtol=1e-5)
