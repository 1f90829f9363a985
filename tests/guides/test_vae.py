"""Keras example "Variational AutoEncoder" (keras-io examples/generative/vae.py), ported with
`import jnet as keras`, `from jnet import layers, ops`. The Sampling layer, encoder and decoder are
the example's. Its `train_step` uses `tf.GradientTape` (TensorFlow only): it is written here the
JAX way of Keras 3 (stateless_call + jax.value_and_grad + optimizer.stateless_apply, as in the
guide "Customizing what happens in fit() with JAX"), computing the example's losses unchanged.
Left out: MNIST download (random images) and the latent-space plots. Sampling is random, so there is
no Keras comparison: the test checks the example's loss bookkeeping and that training runs."""

import jax
import numpy as np
from guide_util import frameworks, guide_broadcasting  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET


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


latent_dim = 2


def build_encoder():
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder():
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoder_outputs, name="decoder")


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, data):
        z_mean, z_log_var, z = self.encoder(data)
        return z_mean, z_log_var, self.decoder(z)

    def compute_losses(self, trainable_variables, non_trainable_variables, data):
        (z_mean, z_log_var, reconstruction), non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, data, training=True
        )
        reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
        kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
        total_loss = reconstruction_loss + kl_loss
        return total_loss, (reconstruction_loss, kl_loss, non_trainable_variables)

    def train_step(self, state, data):
        trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
        grad_fn = jax.value_and_grad(self.compute_losses, has_aux=True)
        (total_loss, (reconstruction_loss, kl_loss, non_trainable_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, data
        )
        trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables
        )
        new_metrics_vars, logs = [], {}
        for metric, value in zip(self.metrics, (total_loss, reconstruction_loss, kl_loss)):
            this = metrics_variables[len(new_metrics_vars) : len(new_metrics_vars) + len(metric.variables)]
            this = metric.stateless_update_state(this, value)
            logs[metric.name] = metric.stateless_result(this)
            new_metrics_vars += this
        return logs, (trainable_variables, non_trainable_variables, optimizer_variables, new_metrics_vars)


def test_vae_trains_and_reports_the_example_losses():
    rng = np.random.default_rng(0)
    mnist_digits = rng.random((16, 28, 28)).astype("float32")
    mnist_digits = np.expand_dims(mnist_digits, -1).astype("float32")

    encoder = build_encoder()
    decoder = build_decoder()
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam())
    before = [np.asarray(w) for w in vae.trainable_weights]
    history = vae.fit(mnist_digits, epochs=2, batch_size=8, verbose=0).history
    assert set(history) == {"total_loss", "reconstruction_loss", "kl_loss"}
    np.testing.assert_allclose(
        np.add(history["reconstruction_loss"], history["kl_loss"]), history["total_loss"], rtol=1e-5
    )
    assert all(np.isfinite(v).all() for v in history.values())
    assert any(not np.allclose(a, np.asarray(b)) for a, b in zip(before, vae.trainable_weights))


def test_sampling_draws_fresh_noise_per_predict():
    encoder = build_encoder()
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    _, _, z1 = encoder.predict(x, verbose=0)
    _, _, z2 = encoder.predict(x, verbose=0)
    assert not np.allclose(z1, z2)
