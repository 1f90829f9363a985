"""Convolution layers: Conv1D/2D/3D and their transposes (depthwise and separable ones are in
`convolution_depthwise`).

Data is channels-last by default (NWC / NHWC / NDHWC); `data_format="channels_first"` is
supported too. Kernels use Keras's layouts, so weights copy between Keras and jnet as they are:

- `Conv*`:          `kernel` `(*kernel_size, in_channels // groups, filters)` (HWIO)
- `Conv*Transpose`: `kernel` `(*kernel_size, filters, in_channels)`
- `DepthwiseConv*`: `kernel` `(*kernel_size, in_channels, depth_multiplier)` (Keras 3's name)
- `SeparableConv*`: `depthwise_kernel` `(*kernel_size, in_channels, depth_multiplier)`,
  `pointwise_kernel` `(1, ..., 1, in_channels * depth_multiplier, filters)`

One base class per family is parameterised by `rank` (the number of spatial axes); the public
classes only set it. Everything runs through `jax.lax.conv_general_dilated` /
`jax.lax.conv_transpose` with explicit dimension numbers.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp

from jnet import activations, initializers, regularizers
from jnet.layers import _spatial as sp
from jnet.layers.base import Layer

__all__ = [
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    # Keras's aliases
    "Convolution1D",
    "Convolution2D",
    "Convolution3D",
    "Convolution2DTranspose",
]


class _SpatialConv(Layer):
    """Shared machinery of every convolution: argument normalisation, input checks, bias and
    activation. Subclasses declare the dataclass fields (Keras's argument order differs per
    family) and set `rank`."""

    rank = 2
    _paddings = ("valid", "same")
    # Plain class attributes (no annotations, so not dataclass fields):
    _initializer_args = ()  # initializer arguments, validated at construction
    _weight_prefixes = ()  # argument prefixes of the weights (`kernel` for kernel_initializer, ...)
    _window_checked = True  # False where any input size gives a non-empty output

    def __post_init__(self):
        label = self._label
        self.kernel_size = sp.normalize_tuple(self.kernel_size, self.rank, "kernel_size", label)
        self.strides = sp.normalize_tuple(self.strides, self.rank, "strides", label)
        self.dilation_rate = sp.normalize_tuple(self.dilation_rate, self.rank, "dilation_rate", label)
        self.padding = sp.normalize_padding(self.padding, label, self._paddings)
        self.data_format = sp.normalize_data_format(self.data_format, label)
        super().__post_init__()

    def check_config(self):
        activations.get(self.activation)
        for arg in self._initializer_args:
            initializers.get(getattr(self, arg))
        for prefix in self._weight_prefixes:
            regularizers.get(getattr(self, f"{prefix}_regularizer"))

    def _check_positive(self, arg):
        value = getattr(self, arg)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{self._label}: {arg} must be a positive integer, got {value!r}")
        setattr(self, arg, int(value))  # numpy ints become plain ints (JSON-ready config)

    def _check_no_strided_dilation(self):
        # Keras (and TensorFlow before it) rejects this combination for Conv and ConvTranspose.
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{self._label}: strides > 1 cannot be combined with dilation_rate > 1, got "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}"
            )

    @property
    def _effective_kernel(self):
        return tuple(sp.effective_size(k, d) for k, d in zip(self.kernel_size, self.dilation_rate))

    def _in_channels(self, shape):
        return shape[sp.channel_axis(self.data_format)]

    def check_inputs(self, spec):
        sp.check_spatial_input(self._label, spec, self.rank, self.data_format)
        if self.padding == "valid" and self._window_checked:
            sp.check_windows_fit(
                self._label,
                spec,
                self.rank,
                self.data_format,
                self._effective_kernel,
                "dilated kernel" if max(self.dilation_rate) > 1 else "kernel",
            )

    def _check_call_channels(self, x, expected):
        sp.check_spatial_input(self._label, x, self.rank, self.data_format)
        got = self._in_channels(x.shape)
        if got != expected:
            raise ValueError(
                f"{self._label}: the kernel expects {expected} input channels, got {got} (input shape {x.shape})"
            )

    def _lax_padding(self):
        if self.padding == "causal":
            # Left-pad so output t sees inputs <= t only (Keras's causal Conv1D).
            return [(k - 1, 0) for k in self._effective_kernel]
        return self.padding.upper()

    def _conv(self, x, kernel, groups=1):
        """The forward convolution with this layer's strides, padding and dilation."""
        return jax.lax.conv_general_dilated(
            x,
            kernel,
            window_strides=self.strides,
            padding=self._lax_padding(),
            rhs_dilation=self.dilation_rate,
            dimension_numbers=sp.conv_dimension_numbers(self.rank, self.data_format),
            feature_group_count=groups,
        )

    def _bias_and_activation(self, y):
        if self.use_bias:
            bias = self.bias.value.astype(y.dtype)
            y = y + jnp.reshape(bias, sp.bias_shape(self.rank, self.data_format, bias.shape[0]))
        return activations.get(self.activation)(y)

    def _weight(self, name, prefix, shape):
        """`add_weight` with the `<prefix>_initializer/_regularizer/_constraint` arguments."""
        return self.add_weight(
            shape,
            getattr(self, f"{prefix}_initializer"),
            name=name,
            regularizer=getattr(self, f"{prefix}_regularizer"),
            constraint=getattr(self, f"{prefix}_constraint"),
        )

    def _add_bias(self, size):
        self.bias = self._weight("bias", "bias", (size,)) if self.use_bias else None


# --------------------------------------------------------------------------- Conv


class _Conv(_SpatialConv):
    """Base of Conv1D/2D/3D (see `Conv2D`); subclasses set `rank`."""

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    data_format: str | None = None
    dilation_rate: Any = 1
    groups: int = 1
    activation: Any = None
    use_bias: bool = True
    kernel_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    bias_constraint: Any = None

    _initializer_args = ("kernel_initializer", "bias_initializer")
    _weight_prefixes = ("kernel", "bias")

    def check_config(self):
        self._check_positive("filters")
        self._check_positive("groups")
        if self.filters % self.groups:
            raise ValueError(f"{self._label}: filters ({self.filters}) must be divisible by groups ({self.groups})")
        self._check_no_strided_dilation()
        super().check_config()

    def check_inputs(self, spec):
        super().check_inputs(spec)
        channels = self._in_channels(spec.shape)
        if channels % self.groups:
            raise ValueError(
                f"{self._label}: input channels ({channels}) must be divisible by groups ({self.groups}); "
                f"input shape {tuple(spec.shape)}"
            )

    def build(self, input_shape):
        in_channels = self._in_channels(input_shape)
        self.kernel = self._weight("kernel", "kernel", self.kernel_size + (in_channels // self.groups, self.filters))
        self._add_bias(self.filters)

    def call(self, x):
        kernel = self.kernel.value
        self._check_call_channels(x, kernel.shape[-2] * self.groups)
        dtype = self.compute_dtype
        y = self._conv(x.astype(dtype), kernel.astype(dtype), self.groups)
        return self._bias_and_activation(y)


class Conv1D(_Conv):
    """1D convolution over `(batch, steps, channels)` (e.g. temporal convolution).

    Arguments as `Conv2D`, with `kernel_size`, `strides`, `dilation_rate` ints or 1-tuples, and
    `padding="causal"` also accepted.

    Input shape:
        `(batch, steps, channels)` (`(batch, channels, steps)` for channels_first).

    Output shape:
        `(batch, new_steps, filters)`.

    Example:
    ```python
    layer = jnet.layers.Conv1D(16, 3, padding="causal")
    v = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 20, 8), jnp.float32))
    y, _ = layer.apply(v, jnp.ones((4, 20, 8)))   # (4, 20, 16)
    ```
    """

    rank = 1
    _paddings = ("valid", "same", "causal")


class Conv2D(_Conv):
    """2D convolution over images (e.g. spatial convolution).

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or tuple of 2 ints, the window size.
        strides: int or tuple, the step of the window (default 1).
        padding: `"valid"` (no padding), `"same"` (output size `ceil(input / stride)`), or for
            Conv1D `"causal"` (left padding; output step t sees inputs up to t).
        data_format: `"channels_last"` (default) or `"channels_first"`.
        dilation_rate: int or tuple, the spacing of the kernel taps. Cannot be combined with
            strides > 1 (as in Keras).
        groups: positive int dividing both the input channels and `filters`: each group of
            `in_channels // groups` input channels is convolved with its own
            `filters // groups` filters.
        activation: a Keras activation name or callable (`None`: linear).
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initializer names or objects.
        kernel_regularizer, bias_regularizer: regularizers whose penalty joins the loss.

    Params:
        `kernel` `(*kernel_size, in_channels // groups, filters)` and `bias` `(filters,)`.

    Input shape:
        `(batch, height, width, channels)` (`(batch, channels, height, width)` for channels_first).

    Output shape:
        `(batch, new_height, new_width, filters)`.

    Example:
    ```python
    layer = jnet.layers.Conv2D(32, 3, activation="relu")
    v = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32))
    y, _ = layer.apply(v, jnp.ones((8, 28, 28, 1)))   # (8, 26, 26, 32)
    ```
    """

    rank = 2


class Conv3D(_Conv):
    """3D convolution over volumes `(batch, depth, height, width, channels)`.

    Arguments as `Conv2D`, with 3-tuples.

    Output shape:
        `(batch, new_depth, new_height, new_width, filters)`.

    Example:
    ```python
    layer = jnet.layers.Conv3D(4, 3, padding="same")
    v = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 8, 8, 8, 2), jnp.float32))
    ```
    """

    rank = 3


# --------------------------------------------------------------------------- ConvTranspose


class _ConvTranspose(_SpatialConv):
    """Base of Conv1D/2D/3DTranspose (see `Conv2DTranspose`); subclasses set `rank`."""

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    output_padding: Any = None
    data_format: str | None = None
    dilation_rate: Any = 1
    activation: Any = None
    use_bias: bool = True
    kernel_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    bias_constraint: Any = None

    _initializer_args = ("kernel_initializer", "bias_initializer")
    _weight_prefixes = ("kernel", "bias")
    _window_checked = False  # any input length gives a non-empty output

    def __post_init__(self):
        if self.output_padding is not None:
            self.output_padding = sp.normalize_tuple(
                self.output_padding, self.rank, "output_padding", self._label, allow_zero=True
            )
        super().__post_init__()

    def check_config(self):
        self._check_positive("filters")
        self._check_no_strided_dilation()
        if self.output_padding is not None:
            for axis, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(
                        f"{self._label}: output_padding must be smaller than strides on every axis; "
                        f"axis {axis} has output_padding {op} and stride {s}"
                    )
        super().check_config()

    def build(self, input_shape):
        self.kernel = self._weight(
            "kernel", "kernel", self.kernel_size + (self.filters, self._in_channels(input_shape))
        )
        self._add_bias(self.filters)

    def call(self, x):
        kernel = self.kernel.value
        self._check_call_channels(x, kernel.shape[-1])
        output_padding = self.output_padding or (None,) * self.rank
        padding = [
            sp.transpose_padding(k, s, d, self.padding, op)
            for k, s, d, op in zip(self.kernel_size, self.strides, self.dilation_rate, output_padding)
        ]
        dtype = self.compute_dtype
        # transpose_kernel=True swaps the kernel's last two axes (and flips it spatially), so
        # the (…, filters, in) kernel reads as the forward conv whose gradient this is.
        y = jax.lax.conv_transpose(
            x.astype(dtype),
            kernel.astype(dtype),
            strides=self.strides,
            padding=padding,
            rhs_dilation=self.dilation_rate,
            dimension_numbers=sp.conv_dimension_numbers(self.rank, self.data_format),
            transpose_kernel=True,
        )
        return self._bias_and_activation(y)


class Conv1DTranspose(_ConvTranspose):
    """1D transposed convolution over `(batch, steps, channels)`; arguments as `Conv2DTranspose`.

    Output shape:
        `(batch, new_steps, filters)`, `new_steps` from Keras's formula (see `Conv2DTranspose`).
    """

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """2D transposed convolution (the gradient of a convolution; "deconvolution").

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple, the upsampling factor (default 1).
        padding: `"valid"` or `"same"`.
        output_padding: `None` or int/tuple of non-negative ints, each smaller than its stride:
            extra length on the output's far side. Output length per axis, as Keras:
            valid: `(n - 1) * stride + k + output_padding` (default `output_padding`
            `max(k, stride) - k`, i.e. `(n - 1) * stride + max(k, stride)`);
            same: `n * stride` when `output_padding` is None, else
            `(n - 1) * stride + k % 2 + output_padding`; `k` the dilated kernel size.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        dilation_rate: int or tuple; cannot be combined with strides > 1.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as `Conv2D`.

    Params:
        `kernel` `(*kernel_size, filters, in_channels)` (Keras's layout) and `bias` `(filters,)`.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, new_height, new_width, filters)`.

    Example:
    ```python
    layer = jnet.layers.Conv2DTranspose(8, 3, strides=2, padding="same")
    v = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 7, 7, 16), jnp.float32))
    y, _ = layer.apply(v, jnp.ones((2, 7, 7, 16)))   # (2, 14, 14, 8)
    ```
    """

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """3D transposed convolution over `(batch, depth, height, width, channels)`; arguments as
    `Conv2DTranspose`."""

    rank = 3


# --------------------------------------------------------------------------- depthwise


# Keras's long-form aliases.
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution2DTranspose = Conv2DTranspose
