"""Activation layers with their own arguments: ReLU, LeakyReLU, Softmax, ELU, PReLU."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet import activations, initializers, regularizers
from jnet.layers.base import Layer, check_axes, expand_to
from jnet.layers.core import cast_floats

__all__ = ["ReLU", "LeakyReLU", "Softmax", "ELU", "PReLU"]


def _non_negative(layer, name, value, allow_none=False):
    if value is None and allow_none:
        return
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{layer._label}: {name} must be a number >= 0, got {value!r}")


class ReLU(Layer):
    """Rectified linear unit with optional cap, leak and threshold.

    `f(x) = max_value` for `x >= max_value`, `x` for `threshold <= x < max_value`,
    `negative_slope * (x - threshold)` otherwise.

    Args:
        max_value: float >= 0 or None (no cap).
        negative_slope: float >= 0 (default 0).
        threshold: float >= 0 (default 0).

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    max_value: Any = None
    negative_slope: float = 0.0
    threshold: float = 0.0

    supports_masking = True

    def check_config(self):
        _non_negative(self, "max_value", self.max_value, allow_none=True)
        _non_negative(self, "negative_slope", self.negative_slope)
        _non_negative(self, "threshold", self.threshold)

    def call(self, x):
        x = cast_floats(x, self.compute_dtype)
        return activations.relu(
            x, negative_slope=self.negative_slope, max_value=self.max_value, threshold=self.threshold
        )


class LeakyReLU(Layer):
    """`f(x) = x` for `x >= 0`, `negative_slope * x` otherwise.

    Args:
        negative_slope: float >= 0 (default 0.3, Keras 3's default for this layer; the
            `leaky_relu` activation function defaults to 0.2).
    """

    negative_slope: float = 0.3

    supports_masking = True

    def check_config(self):
        _non_negative(self, "negative_slope", self.negative_slope)

    def call(self, x):
        return jax.nn.leaky_relu(cast_floats(x, self.compute_dtype), self.negative_slope)


class ELU(Layer):
    """Exponential linear unit: `x` for `x >= 0`, `alpha * (exp(x) - 1)` otherwise.

    Args:
        alpha: slope of the negative part (default 1.0).
    """

    alpha: float = 1.0

    supports_masking = True

    def call(self, x):
        return jax.nn.elu(cast_floats(x, self.compute_dtype), self.alpha)


def _large_negative(dtype):
    # Keras's value: large enough to vanish under softmax, finite in float16.
    return -3e4 if jnp.dtype(dtype) == jnp.float16 else -1e9


class Softmax(Layer):
    """Softmax over `axis`, with an optional mask.

    Args:
        axis: an int or a list of ints (default -1).

    Call arguments:
        mask: optional boolean array broadcastable to the input (aligned on the right, as in
            Keras): masked entries get probability 0. Entries of a row that is entirely masked
            are all 0. A float mask counts values > 0.5 as kept.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    axis: Any = -1

    supports_masking = True

    def check_config(self):
        check_axes(self)

    def call(self, x, mask=None):
        x = cast_floats(x, self.compute_dtype)
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        if mask is None:
            return jax.nn.softmax(x, axis=axis)
        mask = jnp.asarray(mask)
        if mask.ndim > x.ndim or any(m != 1 and m != d for m, d in zip(mask.shape[::-1], x.shape[::-1])):
            raise ValueError(
                f"{self._label}: the mask must broadcast to the input (aligned on the right; each axis 1 "
                f"or equal), got mask shape {mask.shape} for input shape {x.shape}"
            )
        if mask.dtype != jnp.bool_:
            mask = mask > 0.5
        mask = jnp.broadcast_to(expand_to(mask, x.ndim), x.shape)
        y = jax.nn.softmax(jnp.where(mask, x, jnp.asarray(_large_negative(x.dtype), x.dtype)), axis=axis)
        return jnp.where(mask, y, jnp.zeros((), y.dtype))


class PReLU(Layer):
    """Parametric ReLU: `x` for `x >= 0`, `alpha * x` otherwise, with `alpha` learned.

    Args:
        alpha_initializer: initializer of `alpha` (default zeros).
        alpha_regularizer: optional regularizer.
        shared_axes: axes (1-based, the batch is 0) along which one `alpha` is shared, e.g.
            `[1, 2]` for one alpha per channel of `(batch, h, w, channels)` maps.

    Input shape:
        Any with known non-batch axes (other than shared ones).

    Output shape:
        Same as the input.

    Params: `alpha`, shaped like one sample with the shared axes set to 1.
    """

    alpha_initializer: Any = "Zeros"
    alpha_regularizer: Any = None
    alpha_constraint: Any = None
    shared_axes: Any = None

    supports_masking = True

    def check_config(self):
        initializers.get(self.alpha_initializer)
        regularizers.get(self.alpha_regularizer)
        if self.shared_axes is not None:
            axes = list(self.shared_axes) if isinstance(self.shared_axes, (list, tuple)) else [self.shared_axes]
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ValueError(
                    f"{self._label}: shared_axes must be ints >= 1 (axis 0 is the batch), got {self.shared_axes!r}"
                )
            self.shared_axes = axes

    def _param_shape(self, shape):
        out = list(shape[1:])
        for a in self.shared_axes or []:
            if a >= len(shape):
                raise ValueError(f"{self._label}: shared axis {a} is out of range for input shape {tuple(shape)}")
            out[a - 1] = 1
        return tuple(out)

    def check_inputs(self, spec):
        if len(spec.shape) < 2:
            raise ValueError(f"{self._label}: expected an input with a batch axis and features, got shape {spec.shape}")
        for i, d in enumerate(self._param_shape(spec.shape), start=1):
            if d is None:
                raise ValueError(
                    f"{self._label}: axis {i} of input shape {spec.shape} is unknown; add it to shared_axes"
                )

    def build(self, input_shape):
        self.alpha = self.add_weight(
            self._param_shape(input_shape),
            self.alpha_initializer,
            name="alpha",
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )

    def call(self, x):
        x = cast_floats(x, self.compute_dtype)
        alpha = self.alpha.value.astype(x.dtype)
        if alpha.ndim != x.ndim - 1 or any(a != 1 and a != d for a, d in zip(alpha.shape, x.shape[1:])):
            raise ValueError(f"{self._label}: alpha has shape {alpha.shape}, which does not fit input shape {x.shape}")
        alpha = jnp.broadcast_to(expand_to(alpha, x.ndim), x.shape)
        return jnp.where(x >= 0, x, alpha * x)
