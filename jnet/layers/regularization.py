"""Noise layers that regularise training: Dropout, SpatialDropout1D/2D, GaussianNoise,
GaussianDropout. Each is the identity unless `training=True`, and then needs an `rng` key
(a model's `apply` splits its `rng` per layer; `fit` supplies one per step)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.base import Layer
from jnet.layers.core import cast_floats

__all__ = ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout"]


def _check_rate(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{layer._label}: {name} must be a number in [0, 1], got {value!r}")


def _check_seed(layer):
    if layer.seed is not None and (not isinstance(layer.seed, int) or isinstance(layer.seed, bool)):
        raise ValueError(f"{layer._label}: seed must be an int or None, got {layer.seed!r}")


def _layer_key(layer, rng):
    """The key for this call. `seed` is folded into the given key (it picks a different but
    reproducible stream); it never replaces the key, or every step would draw the same noise."""
    if rng is None:
        raise ValueError(
            f"{layer._label}: training=True needs a random key: apply(variables, x, training=True, "
            "rng=jax.random.key(...))"
        )
    return rng if layer.seed is None else jax.random.fold_in(rng, layer.seed)


def _dropout(x, rate, key, noise_shape):
    if rate >= 1.0:
        return jnp.zeros_like(x)
    keep = 1.0 - rate
    kept = jax.random.bernoulli(key, keep, noise_shape)
    kept = jnp.broadcast_to(kept, x.shape)
    return jnp.where(kept, x / jnp.asarray(keep, x.dtype), jnp.zeros((), x.dtype))


class Dropout(Layer):
    """Sets a random fraction `rate` of the inputs to 0 while training and scales the rest
    by `1 / (1 - rate)`, so the expected sum is unchanged. The identity at inference.

    Args:
        rate: fraction of the inputs to drop, in [0, 1].
        noise_shape: optional shape of the binary keep mask, broadcast to the input; `None`
            entries take the input's size. E.g. `(None, 1, features)` drops the same features
            at every time step.
        seed: optional int folded into the layer's key.

    Call arguments:
        training: apply dropout only when True.
        rng: a `jax.random` key, required when `training=True` and `rate > 0`.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    rate: float
    noise_shape: Any = None
    seed: Any = None

    supports_masking = True

    def check_config(self):
        _check_rate(self, "rate", self.rate)
        _check_seed(self)
        if self.noise_shape is not None:
            if isinstance(self.noise_shape, str) or not isinstance(self.noise_shape, (list, tuple)):
                raise ValueError(
                    f"{self._label}: noise_shape must be a tuple of ints or None, got {self.noise_shape!r}"
                )
            for d in self.noise_shape:
                if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d <= 0):
                    raise ValueError(
                        f"{self._label}: noise_shape entries must be positive ints or None, got {self.noise_shape!r}"
                    )
            self.noise_shape = tuple(self.noise_shape)

    def _noise_shape(self, shape):
        if self.noise_shape is None:
            return tuple(shape)
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"{self._label}: noise_shape {self.noise_shape} has rank {len(self.noise_shape)}, the input {tuple(shape)} has rank {len(shape)}"
            )
        out = tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))
        for n, s in zip(out, shape):
            if n != 1 and n != s:
                raise ValueError(
                    f"{self._label}: noise_shape {self.noise_shape} does not broadcast to input shape {tuple(shape)}"
                )
        return out

    def check_inputs(self, spec):
        if self.noise_shape is None:
            return
        shape = tuple(spec.shape)
        fits = len(self.noise_shape) == len(shape) and all(
            n is None or n == 1 or s is None or n == s for n, s in zip(self.noise_shape, shape)
        )
        if not fits:
            raise ValueError(f"{self._label}: noise_shape {self.noise_shape} does not broadcast to input shape {shape}")

    def call(self, x, training=False, rng=None):
        x = cast_floats(x, self.compute_dtype)
        if not training or self.rate == 0:
            return x
        return _dropout(x, self.rate, _layer_key(self, rng), self._noise_shape(x.shape))


class SpatialDropout1D(Dropout):
    """Dropout of whole feature maps: for `(batch, steps, channels)` inputs it drops entire
    channels (the same ones at every step).

    Args:
        rate: fraction of channels to drop, in [0, 1].
        seed: optional int folded into the layer's key.
    """

    def check_config(self):
        super().check_config()
        if self.noise_shape is not None:
            raise ValueError(f"{self._label}: noise_shape is fixed by the layer; do not pass it")

    def check_inputs(self, spec):
        if len(spec.shape) != 3:
            raise ValueError(f"{self._label}: expected a 3D input (batch, steps, channels), got shape {spec.shape}")

    def _noise_shape(self, shape):
        return (shape[0], 1, shape[2])


class SpatialDropout2D(Dropout):
    """Dropout of whole 2D feature maps: for `(batch, h, w, channels)` inputs it drops entire
    channels.

    Args:
        rate: fraction of channels to drop, in [0, 1].
        data_format: `"channels_last"` (default, NHWC) or `"channels_first"` (NCHW).
        seed: optional int folded into the layer's key.
    """

    data_format: Any = None

    def check_config(self):
        super().check_config()
        if self.noise_shape is not None:
            raise ValueError(f"{self._label}: noise_shape is fixed by the layer; do not pass it")
        if self.data_format is None:
            self.data_format = "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{self._label}: data_format must be 'channels_last' or 'channels_first', got {self.data_format!r}"
            )

    def check_inputs(self, spec):
        if len(spec.shape) != 4:
            raise ValueError(f"{self._label}: expected a 4D input, got shape {spec.shape}")

    def _noise_shape(self, shape):
        if self.data_format == "channels_first":
            return (shape[0], shape[1], 1, 1)
        return (shape[0], 1, 1, shape[3])


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation `stddev` while training.

    Args:
        stddev: the noise's standard deviation, in [0, 1] (Keras's range).
        seed: optional int folded into the layer's key.
    """

    stddev: float
    seed: Any = None

    supports_masking = True

    def check_config(self):
        _check_rate(self, "stddev", self.stddev)
        _check_seed(self)

    def call(self, x, training=False, rng=None):
        x = cast_floats(x, self.compute_dtype)
        if not training or self.stddev == 0:
            return x
        noise = jax.random.normal(_layer_key(self, rng), x.shape, x.dtype)
        return x + jnp.asarray(self.stddev, x.dtype) * noise


class GaussianDropout(Layer):
    """Multiplies the inputs by Gaussian noise of mean 1 and standard deviation
    `sqrt(rate / (1 - rate))` while training.

    Args:
        rate: the equivalent drop probability, in [0, 1).
        seed: optional int folded into the layer's key.
    """

    rate: float
    seed: Any = None

    supports_masking = True

    def check_config(self):
        _check_rate(self, "rate", self.rate)
        if self.rate == 1:
            raise ValueError(
                f"{self._label}: rate must be < 1 (the noise's stddev sqrt(rate / (1 - rate)) is infinite at 1)"
            )
        _check_seed(self)

    def call(self, x, training=False, rng=None):
        x = cast_floats(x, self.compute_dtype)
        if not training or self.rate == 0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = 1.0 + stddev * jax.random.normal(_layer_key(self, rng), x.shape, x.dtype)
        return x * noise
