"""Normalization layers: BatchNormalization (moving statistics in `state`), LayerNormalization."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet import initializers, regularizers
from jnet.layers import batch_rows
from jnet.layers.base import Layer, check_axes

__all__ = ["BatchNormalization", "LayerNormalization"]


def _broadcast_param(v, ndim, axes):
    """A per-feature vector (or block) reshaped so it lines up with `axes` of a rank-`ndim` input."""
    shape = [1] * ndim
    for a, d in zip(axes, v.shape):
        shape[a] = d
    return jnp.reshape(v, shape)


class BatchNormalization(Layer):
    """Normalises each feature with batch statistics while training, and with moving averages
    of them at inference.

    Args:
        axis: the feature axis (default -1); statistics reduce over every other axis.
        momentum: moving-average momentum: `moving = moving * momentum + batch * (1 - momentum)`.
        epsilon: added to the variance.
        center, scale: whether to learn `beta` (offset) and `gamma` (scale).
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: initializers.
        beta_regularizer, gamma_regularizer: optional regularizers.

    Call arguments:
        training: `True` uses the batch's statistics and returns updated moving statistics in
            the new state; `False` (default) uses the moving statistics. A layer with
            `trainable=False` always runs in inference mode, as in Keras.
        mask: optional `(batch, ...)` mask, one axis less than the input: masked entries do
            not count towards the batch statistics.

    Params: `gamma`, `beta`; state: `moving_mean`, `moving_variance` (Keras's weight order).

    Example:
    ```python
    bn = jnet.layers.BatchNormalization()
    v = bn.init(key, x)
    y, state = bn.apply(v, x, training=True)       # state holds the updated moving statistics
    ```
    """

    axis: int = -1
    momentum: float = 0.99
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True
    beta_initializer: Any = "zeros"
    gamma_initializer: Any = "ones"
    moving_mean_initializer: Any = "zeros"
    moving_variance_initializer: Any = "ones"
    beta_regularizer: Any = None
    gamma_regularizer: Any = None
    beta_constraint: Any = None
    gamma_constraint: Any = None

    supports_masking = True

    def check_config(self):
        if not isinstance(self.axis, int) or isinstance(self.axis, bool):
            raise ValueError(f"{self._label}: axis must be an int, got {self.axis!r}")
        if not 0.0 <= float(self.momentum) <= 1.0:
            raise ValueError(f"{self._label}: momentum must be in [0, 1], got {self.momentum!r}")
        if float(self.epsilon) <= 0:
            raise ValueError(f"{self._label}: epsilon must be positive, got {self.epsilon!r}")
        for name in ("beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer"):
            initializers.get(getattr(self, name))
        regularizers.get(self.beta_regularizer)
        regularizers.get(self.gamma_regularizer)

    def _feature_axis(self, shape):
        if not -len(shape) <= self.axis < len(shape):
            raise ValueError(f"{self._label}: axis {self.axis} is out of range for input shape {tuple(shape)}")
        return self.axis % len(shape)

    def check_inputs(self, spec):
        axis = self._feature_axis(spec.shape)
        if spec.shape[axis] is None:
            raise ValueError(f"{self._label}: the feature axis {self.axis} must be known, got shape {spec.shape}")

    def build(self, input_shape):
        n = input_shape[self._feature_axis(input_shape)]
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                (n,),
                self.gamma_initializer,
                name="gamma",
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.beta = self.add_weight(
                (n,),
                self.beta_initializer,
                name="beta",
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.moving_mean = self.add_weight((n,), self.moving_mean_initializer, name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(
            (n,), self.moving_variance_initializer, name="moving_variance", trainable=False
        )

    def call(self, x, training=False, mask=None):
        axis = self._feature_axis(x.shape)
        moving_mean, moving_variance = self.moving_mean.value, self.moving_variance.value
        n = moving_mean.shape[0]
        if x.shape[axis] != n:
            raise ValueError(f"{self._label}: expected {n} features on axis {self.axis}, got input shape {x.shape}")
        # Statistics in at least float32 (Keras does the same for half-precision inputs).
        stat_dtype = jnp.promote_types(x.dtype, jnp.float32)
        xf = x.astype(stat_dtype)
        reduce_axes = tuple(a for a in range(x.ndim) if a != axis)
        if training and self.trainable:
            mean, var = self._moments(xf, reduce_axes, mask)
            m = self.momentum
            self.moving_mean.assign(moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(moving_variance * m + var * (1.0 - m))
        else:
            mean = moving_mean.astype(stat_dtype)
            var = moving_variance.astype(stat_dtype)
        inv = jax.lax.rsqrt(var + self.epsilon)
        if self.scale:
            inv = inv * self.gamma.value.astype(stat_dtype)
        shift = -mean * inv
        if self.center:
            shift = shift + self.beta.value.astype(stat_dtype)
        y = xf * _broadcast_param(inv, x.ndim, (axis,)) + _broadcast_param(shift, x.ndim, (axis,))
        return y.astype(self.compute_dtype)

    def _moments(self, x, reduce_axes, mask):
        rows = batch_rows.current()
        if rows is not None and (0 not in reduce_axes or rows.shape != x.shape[:1]):
            rows = None  # not this batch's rows (a layer inside a loop over time, say)
        if mask is None and rows is None:
            mean = jnp.mean(x, axis=reduce_axes)
            var = jnp.mean(jnp.square(x - jnp.reshape(mean, _keep_shape(x.shape, reduce_axes))), axis=reduce_axes)
            return mean, var
        eps = 0.0
        w = jnp.ones(x.shape[:1], x.dtype)
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.ndim != x.ndim - 1:
                raise ValueError(
                    f"{self._label}: the mask must have one axis less than the input, got mask shape {mask.shape} for input shape {x.shape}"
                )
            w = mask.astype(x.dtype)
            eps = 1e-7  # Keras adds backend.epsilon() to the count
        if rows is not None:  # padding rows of the engine's last partial batch count for nothing
            w = w * jnp.reshape(rows, rows.shape + (1,) * (w.ndim - 1)).astype(x.dtype)
        w = jnp.broadcast_to(jnp.reshape(w, w.shape + (1,) * (x.ndim - w.ndim)), x.shape)
        count = jnp.sum(w, axis=reduce_axes)
        mean = jnp.sum(w * x, axis=reduce_axes) / (count + eps)
        centred = x - jnp.reshape(mean, _keep_shape(x.shape, reduce_axes))
        var = jnp.sum(w * jnp.square(centred), axis=reduce_axes) / (count + eps)
        return mean, var


def _keep_shape(shape, reduce_axes):
    return tuple(1 if a in reduce_axes else d for a, d in enumerate(shape))


class LayerNormalization(Layer):
    """Normalises each sample over the given axes (by default the last), then scales and shifts.

    Args:
        axis: an int or a list of ints: the axes to normalise over (default -1).
        epsilon: added to the variance (default 1e-3, Keras's default).
        center, scale: whether to learn `beta` (offset) and `gamma` (scale).
        rms_scaling: if True, divide by the root mean square `sqrt(mean(x^2) + epsilon)`
            instead of centring and dividing by the standard deviation, and learn only `gamma`.
            (Keras's deprecated `rms_scaling` divides by the variance's root instead, which
            it documents as a bug; jnet does what the name says, like `keras.layers.RMSNormalization`.)
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer.

    Input shape:
        Any; the normalised axes must be known.

    Output shape:
        Same as the input.

    Params: `gamma` and `beta`, shaped like the normalised axes.
    """

    axis: Any = -1
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True
    rms_scaling: bool = False
    beta_initializer: Any = "zeros"
    gamma_initializer: Any = "ones"
    beta_regularizer: Any = None
    gamma_regularizer: Any = None
    beta_constraint: Any = None
    gamma_constraint: Any = None

    supports_masking = True

    def check_config(self):
        check_axes(self)
        if float(self.epsilon) <= 0:
            raise ValueError(f"{self._label}: epsilon must be positive, got {self.epsilon!r}")
        initializers.get(self.beta_initializer)
        initializers.get(self.gamma_initializer)
        regularizers.get(self.beta_regularizer)
        regularizers.get(self.gamma_regularizer)

    def _axes(self, shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        out = []
        for a in axes:
            if not -len(shape) <= a < len(shape):
                raise ValueError(f"{self._label}: axis {a} is out of range for input shape {tuple(shape)}")
            out.append(a % len(shape))
        if len(set(out)) != len(out):
            raise ValueError(f"{self._label}: axis {self.axis} names an axis twice")
        return sorted(out)

    def check_inputs(self, spec):
        for a in self._axes(spec.shape):
            if spec.shape[a] is None:
                raise ValueError(f"{self._label}: normalised axis {a} must be known, got shape {spec.shape}")

    def build(self, input_shape):
        shape = tuple(input_shape[a] for a in self._axes(input_shape))
        self.gamma = self.beta = None
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                shape,
                self.gamma_initializer,
                name="gamma",
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                shape,
                self.beta_initializer,
                name="beta",
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )

    def call(self, x):
        axes = self._axes(x.shape)
        stat_dtype = jnp.promote_types(x.dtype, jnp.float32)
        xf = x.astype(stat_dtype)
        if self.rms_scaling:
            y = xf * jax.lax.rsqrt(jnp.mean(jnp.square(xf), axis=tuple(axes), keepdims=True) + self.epsilon)
        else:
            mean = jnp.mean(xf, axis=tuple(axes), keepdims=True)
            var = jnp.mean(jnp.square(xf - mean), axis=tuple(axes), keepdims=True)
            y = (xf - mean) * jax.lax.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            y = y * _broadcast_param(self.gamma.value.astype(stat_dtype), x.ndim, axes)
        if self.beta is not None:
            y = y + _broadcast_param(self.beta.value.astype(stat_dtype), x.ndim, axes)
        return y.astype(self.compute_dtype)
