"""`Wrapper`, the base of layers that wrap one layer, and `SpectralNormalization`."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet import initializers
from jnet.layers.base import Layer

__all__ = ["SpectralNormalization", "Wrapper"]


class Wrapper(Layer):
    """Base class of layers that wrap another layer (Keras's `keras.layers.Wrapper`).

    The wrapped layer is a tracked sublayer: its weights are this layer's weights (after the
    wrapper's own), and its config is saved inside the wrapper's as `"layer"`. A subclass
    writes `call` (and usually `build`, calling `super().build(input_shape)` first, which builds
    the wrapped layer).

    Args:
        layer: the layer to wrap (a jnet layer).

    Example:
    ```python
    class Twice(jnet.layers.Wrapper):
        def call(self, x):
            return self.layer(self.layer(x))
    ```
    """

    layer: Any

    def check_config(self):
        if not isinstance(self.layer, Layer):
            raise ValueError(f"{self._label}: layer must be a jnet layer, got {self.layer!r}")

    def build(self, input_shape):
        if not self.layer.built:
            self.layer._maybe_build((jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32),), {})

    def call(self, inputs, training=False, rng=None, mask=None):
        out, _ = self.layer._call_with_mask((inputs,), {}, mask, training=training, rng=rng)
        return out


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's kernel by its largest singular value (Miyato et al., 2018),
    estimated by power iteration, which keeps the layer 1-Lipschitz (GAN discriminators).

    As in Keras: with `training=True` the kernel is replaced by `kernel / sigma` (in `apply`,
    for that call; in an eager call, stored) and the singular-vector estimate `vector_u` (a
    non-trainable weight, in `state`) is updated; at inference the layer runs with its kernel
    as it is.

    Args:
        layer: a layer with a `kernel` (Dense, Conv*) or `embeddings` (Embedding) weight.
        power_iterations: power-iteration steps per training call (default 1).

    Example:
    ```python
    d = jnet.layers.SpectralNormalization(jnet.layers.Dense(8))
    ```
    """

    power_iterations: int = 1

    def check_config(self):
        super().check_config()
        if (
            isinstance(self.power_iterations, bool)
            or not isinstance(self.power_iterations, int)
            or self.power_iterations <= 0
        ):
            raise ValueError(f"{self._label}: power_iterations must be a positive int, got {self.power_iterations!r}")

    def _keras_own_variables(self):
        # Keras's SpectralNormalization tracks the wrapped kernel as its own weight too
        # (`self.kernel = self.layer.kernel`), so its files hold it twice: here, then in `layer`.
        return [self._kernel(), *self._own_variables()]

    def _kernel(self):
        for attr in ("kernel", "embeddings"):
            v = getattr(self.layer, attr, None)
            if v is not None:
                return v
        raise ValueError(
            f"{self._label}: the wrapped {type(self.layer).__name__} has no 'kernel' or 'embeddings' weight"
        )

    def build(self, input_shape):
        super().build(input_shape)
        kernel = self._kernel()
        self.vector_u = self.add_weight(
            (1, kernel.shape[-1]), initializers.TruncatedNormal(stddev=0.02), trainable=False, name="vector_u"
        )

    def normalized_weights(self):
        """`(new_vector_u, kernel / sigma)` from `power_iterations` power-iteration steps."""
        kernel = self._kernel().value
        w = jnp.reshape(kernel, (-1, kernel.shape[-1]))
        u = self.vector_u.value.astype(w.dtype)
        for _ in range(self.power_iterations):
            v = _unit(u @ w.T)
            u = _unit(v @ w)
        u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
        sigma = (v @ w) @ u.T
        return u, jnp.reshape(w / sigma, kernel.shape)

    def call(self, inputs, training=False, rng=None, mask=None):
        if training:
            kernel_var = self._kernel()
            kernel = kernel_var.value
            new_u, new_kernel = self.normalized_weights()
            # Keras leaves an all-zero kernel alone (its sigma is 0).
            zero = jnp.all(kernel == 0)
            self.vector_u.assign(jnp.where(zero, self.vector_u.value, new_u))
            kernel_var.assign(jnp.where(zero, kernel, new_kernel))
        out = super().call(inputs, training=training, rng=rng, mask=mask)
        return out.astype(inputs.dtype)


def _unit(x):
    """`x / ||x||` over all entries (Keras's `normalize(..., axis=None)`, epsilon 1e-7, the backend epsilon)."""
    return x * jnp.minimum(jax.lax.rsqrt(jnp.sum(jnp.square(x))), 1e7)
