"""More regularization layers: SpatialDropout3D, AlphaDropout, ActivityRegularization."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.base import Layer
from jnet.layers.core import cast_floats
from jnet.layers.regularization import Dropout, _check_rate, _check_seed, _layer_key

__all__ = ["ActivityRegularization", "AlphaDropout", "SpatialDropout3D"]

# SELU's constants: AlphaDropout keeps SELU's self-normalising mean and variance.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class SpatialDropout3D(Dropout):
    """Dropout of whole 3D feature maps: for `(batch, d1, d2, d3, channels)` inputs it drops
    entire channels.

    Args:
        rate: fraction of channels to drop, in [0, 1].
        data_format: `"channels_last"` (default) or `"channels_first"`.
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
        if len(spec.shape) != 5:
            raise ValueError(f"{self._label}: expected a 5D input, got shape {tuple(spec.shape)}")

    def _noise_shape(self, shape):
        if self.data_format == "channels_first":
            return (shape[0], shape[1], 1, 1, 1)
        return (shape[0], 1, 1, 1, shape[4])


class AlphaDropout(Layer):
    """Dropout that keeps a SELU network self-normalising: dropped units are set to SELU's
    negative saturation value, then an affine map restores the input's mean and variance.
    The identity at inference.

    Args:
        rate: fraction of the inputs to drop, in [0, 1].
        noise_shape: optional shape of the keep mask, broadcast to the input (None entries take
            the input's size).
        seed: optional int folded into the layer's key.

    Call arguments:
        training: drop only when True (then an `rng` key is needed).
    """

    rate: float
    noise_shape: Any = None
    seed: Any = None

    supports_masking = True

    def check_config(self):
        _check_rate(self, "rate", self.rate)
        _check_seed(self)
        if self.noise_shape is not None:
            if not isinstance(self.noise_shape, (list, tuple)):
                raise ValueError(
                    f"{self._label}: noise_shape must be a tuple of ints or None, got {self.noise_shape!r}"
                )
            self.noise_shape = tuple(self.noise_shape)

    def call(self, x, training=False, rng=None):
        x = cast_floats(x, self.compute_dtype)
        if not training or self.rate == 0:
            return x
        shape = (
            x.shape
            if self.noise_shape is None
            else tuple(s if n is None else n for n, s in zip(self.noise_shape, x.shape))
        )
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        keep = jax.random.uniform(_layer_key(self, rng), shape) >= self.rate
        keep = jnp.broadcast_to(keep, x.shape)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        dropped = jnp.where(keep, x, jnp.asarray(alpha_p, x.dtype))
        return (a * dropped + b).astype(x.dtype)


class ActivityRegularization(Layer):
    """The identity, plus an L1/L2 penalty on its input added to the training loss
    (`l1 * sum(|x|) + l2 * sum(x^2)`, divided by the batch size as every activity penalty).

    Args:
        l1: L1 factor (default 0).
        l2: L2 factor (default 0).

    Example:
    ```python
    x = jnet.layers.ActivityRegularization(l2=1e-3)(x)
    ```
    """

    l1: float = 0.0
    l2: float = 0.0

    supports_masking = True

    def check_config(self):
        from jnet import regularizers

        for name in ("l1", "l2"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{self._label}: {name} must be a non-negative number, got {v!r}")
        self.activity_regularizer = regularizers.L1L2(l1=float(self.l1), l2=float(self.l2))

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)  # it is l1/l2, as in Keras's config
        return config

    def call(self, x):
        return x
