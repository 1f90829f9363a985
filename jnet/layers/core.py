"""Core layers: Dense and friends."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jnet import activations, initializers, regularizers
from jnet.layers.base import Layer, expand_to


def _add_penalty(total, regularizer, value):
    reg = regularizers.get(regularizer)
    return total if reg is None else total + reg(value)


class Dense(Layer):
    """Densely connected layer: `activation(inputs @ kernel + bias)`.

    Args:
        units: positive int, width of the output.
        activation: a Keras activation name or a callable (`None`: linear).
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initializer names or objects.
        kernel_regularizer, bias_regularizer: regularizers whose penalty joins the loss.

    Input shape:
        `(batch, ..., input_dim)`.

    Output shape:
        `(batch, ..., units)`.

    Params:
        `kernel` of shape `(input_dim, units)` and `bias` of shape `(units,)`, as in Keras.

    Example:
    ```python
    layer = jnet.layers.Dense(32, activation="relu")
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 784), jnp.float32))
    y, _ = layer.apply(variables, jnp.ones((8, 784)))   # (8, 32)
    ```
    """

    units: int
    activation: Any = None
    use_bias: bool = True
    kernel_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    bias_regularizer: Any = None

    def check_config(self):
        if not isinstance(self.units, (int,)) or isinstance(self.units, bool) or self.units <= 0:
            raise ValueError(f"{self._label}: units must be a positive integer, got {self.units!r}")
        activations.get(self.activation)
        initializers.get(self.kernel_initializer)
        initializers.get(self.bias_initializer)
        regularizers.get(self.kernel_regularizer)
        regularizers.get(self.bias_regularizer)

    def check_inputs(self, spec):
        if len(spec.shape) < 1 or spec.shape[-1] is None:
            raise ValueError(f"{self._label}: the last input axis must be known, got shape {spec.shape}")

    def build(self, key, spec):
        kernel = initializers.get(self.kernel_initializer)(key, (spec.shape[-1], self.units), self.param_dtype)
        params = {"kernel": kernel}
        if self.use_bias:
            params["bias"] = initializers.get(self.bias_initializer)(key, (self.units,), self.param_dtype)
        return params

    def call(self, params, x):
        kernel = params["kernel"]
        if x.shape[-1] != kernel.shape[0]:
            raise ValueError(f"{self._label}: expected last axis {kernel.shape[0]}, got {x.shape[-1]} (input shape {x.shape})")
        dtype = self.compute_dtype
        y = jnp.matmul(x.astype(dtype), kernel.astype(dtype))
        if self.use_bias:
            y = y + expand_to(params["bias"].astype(dtype), y.ndim)
        return activations.get(self.activation)(y)

    def penalty(self, params):
        total = _add_penalty(0.0, self.kernel_regularizer, params["kernel"])
        if self.use_bias:
            total = _add_penalty(total, self.bias_regularizer, params["bias"])
        return total
