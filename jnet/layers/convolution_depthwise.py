"""Depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D, on the
shared `_SpatialConv` base of `jnet.layers.convolution` (Keras's kernel layouts, see there)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers import _spatial as sp
from jnet.layers.convolution import _SpatialConv

__all__ = [
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    # Keras's aliases
    "SeparableConvolution1D",
    "SeparableConvolution2D",
]


def _depthwise(layer, x, kernel):
    """Each input channel convolved with its own `depth_multiplier` filters: a grouped conv
    with one group per channel; output channel `c * depth_multiplier + m` (Keras's order)."""
    in_channels, multiplier = kernel.shape[-2], kernel.shape[-1]
    kernel = jnp.reshape(kernel, kernel.shape[:-2] + (1, in_channels * multiplier))
    return layer._conv(x, kernel, groups=in_channels)


class _DepthwiseConv(_SpatialConv):
    """Base of the DepthwiseConv* layers (see `DepthwiseConv2D`); subclasses set `rank`."""

    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    depth_multiplier: int = 1
    data_format: str | None = None
    dilation_rate: Any = 1
    activation: Any = None
    use_bias: bool = True
    depthwise_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    depthwise_regularizer: Any = None
    bias_regularizer: Any = None
    depthwise_constraint: Any = None
    bias_constraint: Any = None

    _initializer_args = ("depthwise_initializer", "bias_initializer")
    _weight_prefixes = ("depthwise", "bias")

    def check_config(self):
        self._check_positive("depth_multiplier")
        super().check_config()

    def build(self, input_shape):
        in_channels = self._in_channels(input_shape)
        self.kernel = self._weight("kernel", "depthwise", self.kernel_size + (in_channels, self.depth_multiplier))
        self._add_bias(in_channels * self.depth_multiplier)

    def call(self, x):
        kernel = self.kernel.value
        self._check_call_channels(x, kernel.shape[-2])
        dtype = self.compute_dtype
        y = _depthwise(self, x.astype(dtype), kernel.astype(dtype))
        return self._bias_and_activation(y)


class DepthwiseConv1D(_DepthwiseConv):
    """1D depthwise convolution over `(batch, steps, channels)`; arguments as `DepthwiseConv2D`."""

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """2D depthwise convolution: every input channel gets its own `depth_multiplier` filters,
    without mixing channels.

    Args:
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple (default 1).
        padding: `"valid"` or `"same"`.
        depth_multiplier: positive int, output channels per input channel.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        dilation_rate: int or tuple.
        activation, use_bias: as `Conv2D`.
        depthwise_initializer, bias_initializer: initializer names or objects.
        depthwise_regularizer, bias_regularizer: regularizers.

    Params:
        `kernel` `(*kernel_size, in_channels, depth_multiplier)` — Keras 3's name (Keras 2
        called it `depthwise_kernel`) — and `bias` `(in_channels * depth_multiplier,)`.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, new_height, new_width, channels * depth_multiplier)`.

    Example:
    ```python
    layer = jnet.layers.DepthwiseConv2D(3, depth_multiplier=2)
    v = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 7, 7, 4), jnp.float32))
    y, _ = layer.apply(v, jnp.ones((2, 7, 7, 4)))   # (2, 5, 5, 8)
    ```
    """

    rank = 2


# --------------------------------------------------------------------------- separable


class _SeparableConv(_SpatialConv):
    """Base of the SeparableConv* layers (see `SeparableConv2D`); subclasses set `rank`."""

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    data_format: str | None = None
    dilation_rate: Any = 1
    depth_multiplier: int = 1
    activation: Any = None
    use_bias: bool = True
    depthwise_initializer: Any = "glorot_uniform"
    pointwise_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    depthwise_regularizer: Any = None
    pointwise_regularizer: Any = None
    bias_regularizer: Any = None
    depthwise_constraint: Any = None
    pointwise_constraint: Any = None
    bias_constraint: Any = None

    _initializer_args = ("depthwise_initializer", "pointwise_initializer", "bias_initializer")
    _weight_prefixes = ("depthwise", "pointwise", "bias")

    def check_config(self):
        self._check_positive("filters")
        self._check_positive("depth_multiplier")
        super().check_config()

    def build(self, input_shape):
        in_channels = self._in_channels(input_shape)
        mid = in_channels * self.depth_multiplier
        self.depthwise_kernel = self._weight(
            "depthwise_kernel", "depthwise", self.kernel_size + (in_channels, self.depth_multiplier)
        )
        self.pointwise_kernel = self._weight("pointwise_kernel", "pointwise", (1,) * self.rank + (mid, self.filters))
        self._add_bias(self.filters)

    def call(self, x):
        depthwise, pointwise = self.depthwise_kernel.value, self.pointwise_kernel.value
        self._check_call_channels(x, depthwise.shape[-2])
        dtype = self.compute_dtype
        y = _depthwise(self, x.astype(dtype), depthwise.astype(dtype))
        y = jax.lax.conv_general_dilated(
            y,
            pointwise.astype(dtype),
            window_strides=(1,) * self.rank,
            padding="VALID",
            dimension_numbers=sp.conv_dimension_numbers(self.rank, self.data_format),
        )
        return self._bias_and_activation(y)


class SeparableConv1D(_SeparableConv):
    """1D separable convolution over `(batch, steps, channels)`; arguments as `SeparableConv2D`."""

    rank = 1


class SeparableConv2D(_SeparableConv):
    """2D depthwise-separable convolution: a depthwise convolution (each channel on its own,
    `depth_multiplier` filters each) followed by a 1x1 pointwise convolution mixing channels.

    Args:
        filters: positive int, the number of output channels.
        kernel_size, strides, padding, data_format, dilation_rate: of the depthwise step.
        depth_multiplier: positive int, depthwise outputs per input channel.
        activation, use_bias: as `Conv2D`.
        depthwise_initializer, pointwise_initializer, bias_initializer: initializers.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer: regularizers.

    Params:
        `depthwise_kernel` `(*kernel_size, in_channels, depth_multiplier)`,
        `pointwise_kernel` `(1, ..., 1, in_channels * depth_multiplier, filters)`,
        `bias` `(filters,)`.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, new_height, new_width, filters)`.

    Example:
    ```python
    layer = jnet.layers.SeparableConv2D(8, 3, depth_multiplier=2, padding="same")
    v = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 7, 7, 4), jnp.float32))
    y, _ = layer.apply(v, jnp.ones((2, 7, 7, 4)))   # (2, 7, 7, 8)
    ```
    """

    rank = 2


# Keras's long-form aliases.
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
