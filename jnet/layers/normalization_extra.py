"""More normalization layers: GroupNormalization, UnitNormalization, RMSNormalization."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet import initializers, regularizers
from jnet.layers.base import Layer, check_axes

__all__ = ["GroupNormalization", "RMSNormalization", "UnitNormalization"]


def _resolve_axes(layer, shape) -> list:
    """`layer.axis` (an int or list) as sorted non-negative axes of a rank-`len(shape)` input."""
    axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    out = []
    for a in axes:
        if not -len(shape) <= a < len(shape):
            raise ValueError(f"{layer._label}: axis {a} is out of range for input shape {tuple(shape)}")
        out.append(a % len(shape))
    if len(set(out)) != len(out):
        raise ValueError(f"{layer._label}: axis {layer.axis} names an axis twice")
    return sorted(out)


class GroupNormalization(Layer):
    """Normalises each sample over groups of channels (Wu & He, 2018): the channels on `axis`
    are split into `groups` groups, and each group is normalised over its channels and every
    other non-batch axis. `groups=1` is layer normalisation over all features; `groups` equal to
    the channel count is instance normalisation.

    Args:
        groups: number of groups (default 32); must divide the channel count. `-1` means one
            group per channel.
        axis: the channel axis (default -1).
        epsilon: added to the variance (default 1e-3).
        center, scale: whether to learn `beta` (offset) and `gamma` (scale), one per channel.
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
        beta_constraint, gamma_constraint.

    Input shape:
        Any rank >= 2 with a known channel axis. Output: same shape.

    Example:
    ```python
    y = jnet.layers.GroupNormalization(groups=4)(x)   # x: (batch, h, w, 16)
    ```
    """

    groups: int = 32
    axis: int = -1
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True
    beta_initializer: Any = "zeros"
    gamma_initializer: Any = "ones"
    beta_regularizer: Any = None
    gamma_regularizer: Any = None
    beta_constraint: Any = None
    gamma_constraint: Any = None

    supports_masking = True

    def check_config(self):
        if isinstance(self.groups, bool) or not isinstance(self.groups, int) or (self.groups < 1 and self.groups != -1):
            raise ValueError(f"{self._label}: groups must be a positive int (or -1), got {self.groups!r}")
        if isinstance(self.axis, bool) or not isinstance(self.axis, int):
            raise ValueError(f"{self._label}: axis must be an int, got {self.axis!r}")
        if float(self.epsilon) <= 0:
            raise ValueError(f"{self._label}: epsilon must be positive, got {self.epsilon!r}")
        initializers.get(self.beta_initializer)
        initializers.get(self.gamma_initializer)
        regularizers.get(self.beta_regularizer)
        regularizers.get(self.gamma_regularizer)

    def _channels(self, shape):
        if len(shape) < 2:
            raise ValueError(f"{self._label}: expected an input of rank >= 2, got shape {tuple(shape)}")
        axis = _resolve_axes(self, shape)[0]
        if axis == 0:
            raise ValueError(f"{self._label}: axis must not be the batch axis, got axis={self.axis}")
        channels = shape[axis]
        if channels is None:
            raise ValueError(f"{self._label}: the channel axis {self.axis} must be known, got shape {tuple(shape)}")
        groups = channels if self.groups == -1 else self.groups
        if groups > channels:
            raise ValueError(f"{self._label}: groups ({groups}) cannot be more than the channels ({channels})")
        if channels % groups:
            raise ValueError(f"{self._label}: groups ({groups}) must divide the channels ({channels})")
        return axis, channels, groups

    def check_inputs(self, spec):
        self._channels(spec.shape)

    def build(self, input_shape):
        _, channels, groups = self._channels(input_shape)
        if self.groups == -1:
            self.groups = groups  # Keras stores the resolved count
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                (channels,),
                self.gamma_initializer,
                name="gamma",
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.beta = self.add_weight(
                (channels,),
                self.beta_initializer,
                name="beta",
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )

    def call(self, x):
        axis, channels, groups = self._channels(x.shape)
        stat_dtype = jnp.promote_types(x.dtype, jnp.float32)
        grouped_shape = x.shape[:axis] + (groups, channels // groups) + x.shape[axis + 1 :]
        g = jnp.reshape(x.astype(stat_dtype), grouped_shape)
        reduce = tuple(a for a in range(1, g.ndim) if a != axis)
        mean = jnp.mean(g, axis=reduce, keepdims=True)
        var = jnp.mean(jnp.square(g - mean), axis=reduce, keepdims=True)
        inv = jax.lax.rsqrt(var + self.epsilon)
        param_shape = [1] * g.ndim
        param_shape[axis], param_shape[axis + 1] = groups, channels // groups
        if self.gamma is not None:
            inv = inv * jnp.reshape(self.gamma.value.astype(stat_dtype), param_shape)
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + jnp.reshape(self.beta.value.astype(stat_dtype), param_shape)
        y = g * inv + shift
        return jnp.reshape(y, x.shape).astype(self.compute_dtype)


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`: `x * min(rsqrt(sum(x^2)), 1e12)` (so an
    all-zero sample stays zero).

    Args:
        axis: an int or a list of ints (default -1).

    Example:
    ```python
    y = jnet.layers.UnitNormalization()(x)     # every row of y has norm 1
    ```
    """

    axis: Any = -1

    supports_masking = True

    def check_config(self):
        check_axes(self)

    def check_inputs(self, spec):
        _resolve_axes(self, spec.shape)

    def call(self, x):
        axes = tuple(_resolve_axes(self, x.shape))
        xf = x.astype(jnp.promote_types(x.dtype, jnp.float32))
        inv = jnp.minimum(jax.lax.rsqrt(jnp.sum(jnp.square(xf), axis=axes, keepdims=True)), 1e12)
        return (xf * inv).astype(self.compute_dtype)


class RMSNormalization(Layer):
    """Root-mean-square normalisation (Zhang & Sennrich, 2019):
    `x * rsqrt(mean(x^2 over axis) + epsilon) * scale`, with a learned `scale`.

    Args:
        axis: an int or a list of ints: the axes to normalise over (default -1).
        epsilon: added to the mean square (default 1e-6).

    Params: `scale`, shaped like the normalised axes (initialised to ones).

    Example:
    ```python
    y = jnet.layers.RMSNormalization()(x)
    ```
    """

    axis: Any = -1
    epsilon: float = 1e-6

    def check_config(self):
        check_axes(self)
        if float(self.epsilon) < 0:
            raise ValueError(f"{self._label}: epsilon must be non-negative, got {self.epsilon!r}")

    def check_inputs(self, spec):
        for a in _resolve_axes(self, spec.shape):
            if spec.shape[a] is None:
                raise ValueError(f"{self._label}: normalised axis {a} must be known, got shape {tuple(spec.shape)}")

    def build(self, input_shape):
        axes = _resolve_axes(self, input_shape)
        self.scale = self.add_weight(tuple(input_shape[a] for a in axes), "ones", name="scale")

    def call(self, x):
        axes = _resolve_axes(self, x.shape)
        stat_dtype = jnp.promote_types(x.dtype, jnp.float32)
        xf = x.astype(stat_dtype)
        y = xf * jax.lax.rsqrt(jnp.mean(jnp.square(xf), axis=tuple(axes), keepdims=True) + self.epsilon)
        shape = [1] * x.ndim
        for a, d in zip(axes, self.scale.value.shape):
            shape[a] = d
        return (y * jnp.reshape(self.scale.value.astype(stat_dtype), shape)).astype(x.dtype)
