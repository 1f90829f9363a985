"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, UpSampling1D/2D,
ZeroPadding1D/2D, Cropping1D/2D. Image layers default to channels-last (NHWC), as Keras does.
None of them carries a mask through (Keras drops masks here too)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.base import Layer

__all__ = [
    "Flatten",
    "Reshape",
    "Permute",
    "RepeatVector",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "Cropping1D",
    "Cropping2D",
]

_FORMATS = ("channels_last", "channels_first")


def _data_format(layer):
    if layer.data_format is None:
        layer.data_format = "channels_last"
    if layer.data_format not in _FORMATS:
        raise ValueError(
            f"{layer._label}: data_format must be 'channels_last' or 'channels_first', got {layer.data_format!r}"
        )


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _pair(layer, name, value, allow_zero=True):
    """`n` -> `(n, n)`; a pair stays a pair; both entries non-negative ints (positive unless
    `allow_zero`)."""
    pair = (value, value) if _is_int(value) else tuple(value) if isinstance(value, (list, tuple)) else None
    low = 0 if allow_zero else 1
    if pair is None or len(pair) != 2 or not all(_is_int(v) and v >= low for v in pair):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{layer._label}: {name} must be a {kind} int or a pair of them, got {value!r}")
    return pair


def _pair_of_pairs(layer, name, value):
    """Keras's 2D padding/cropping forms: `n`, `(h, w)` or `((top, bottom), (left, right))`."""
    if _is_int(value):
        return ((value, value), (value, value)) if value >= 0 else _pair(layer, name, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{layer._label}: {name} must be an int, a pair, or a pair of pairs, got {value!r}")
    return (_pair(layer, f"{name}[0]", value[0]), _pair(layer, f"{name}[1]", value[1]))


def _check_rank(layer, spec, rank, what):
    if len(spec.shape) != rank:
        raise ValueError(f"{layer._label}: expected a {rank}D input {what}, got shape {tuple(spec.shape)}")


class Flatten(Layer):
    """Flattens every axis but the batch: `(batch, d1, d2, ...)` -> `(batch, d1 * d2 * ...)`.

    Args:
        data_format: `"channels_last"` (default) or `"channels_first"`; with channels-first
            the channels move last before flattening, so weights match a channels-last model.

    Input shape:
        `(batch, ...)`; a `(batch,)` input becomes `(batch, 1)`.

    Output shape:
        `(batch, product of the other axes)`.
    """

    data_format: Any = None

    def check_config(self):
        _data_format(self)

    def call(self, x):
        if self.data_format == "channels_first" and x.ndim > 2:
            x = jnp.moveaxis(x, 1, -1)
        return jnp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (the batch axis is kept).

    Args:
        target_shape: the new sample shape; one entry may be -1, inferred from the size.

    Input shape:
        `(batch, ...)` with as many elements per sample as `target_shape` holds.

    Output shape:
        `(batch,) + target_shape`.

    Example:
    ```python
    jnet.layers.Reshape((4, -1))     # (batch, 12) -> (batch, 4, 3)
    ```
    """

    target_shape: Any

    def check_config(self):
        if not isinstance(self.target_shape, (list, tuple)) or not all(_is_int(d) for d in self.target_shape):
            raise ValueError(f"{self._label}: target_shape must be a tuple of ints, got {self.target_shape!r}")
        self.target_shape = tuple(self.target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(
                f"{self._label}: target_shape may hold positive ints and at most one -1, got {self.target_shape}"
            )

    def _resolve(self, sample_shape):
        size = math.prod(sample_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(
                    f"{self._label}: cannot reshape a sample of shape {tuple(sample_shape)} ({size} values) "
                    f"to {self.target_shape}: {size} is not a multiple of {known}"
                )
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if size != known:
            raise ValueError(
                f"{self._label}: cannot reshape a sample of shape {tuple(sample_shape)} ({size} values) "
                f"to {self.target_shape} ({known} values)"
            )
        return self.target_shape

    def check_inputs(self, spec):
        if len(spec.shape) < 1:
            raise ValueError(f"{self._label}: the input needs a batch axis, got shape {spec.shape}")
        if all(d is not None for d in spec.shape[1:]):
            self._resolve(spec.shape[1:])

    def call(self, x):
        return jnp.reshape(x, (x.shape[0],) + self._resolve(x.shape[1:]))


class Permute(Layer):
    """Permutes the non-batch axes.

    Args:
        dims: a permutation of `1..n` (the batch axis 0 stays first), e.g. `(2, 1)` swaps the
            two axes of a `(batch, a, b)` input.

    Output shape:
        `(batch,) + tuple(input_shape[d] for d in dims)`.
    """

    dims: Any

    def check_config(self):
        if not isinstance(self.dims, (list, tuple)) or not all(_is_int(d) for d in self.dims):
            raise ValueError(f"{self._label}: dims must be a tuple of ints, got {self.dims!r}")
        self.dims = tuple(self.dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                f"{self._label}: dims must be a permutation of 1..{len(self.dims)} (axis 0 is the batch), got {self.dims}"
            )

    def check_inputs(self, spec):
        _check_rank(self, spec, len(self.dims) + 1, f"(batch + {len(self.dims)} axes for dims={self.dims})")

    def call(self, x):
        self.check_inputs(x)
        return jnp.transpose(x, (0,) + self.dims)


class RepeatVector(Layer):
    """Repeats a `(batch, features)` input `n` times: `(batch, n, features)`.

    Args:
        n: positive int.
    """

    n: int

    def check_config(self):
        if not _is_int(self.n) or self.n <= 0:
            raise ValueError(f"{self._label}: n must be a positive integer, got {self.n!r}")

    def check_inputs(self, spec):
        _check_rank(self, spec, 2, "(batch, features)")

    def call(self, x):
        self.check_inputs(x)
        return jnp.broadcast_to(x[:, None, :], (x.shape[0], self.n, x.shape[1]))


class UpSampling1D(Layer):
    """Repeats each time step `size` times: `(batch, steps, features)` ->
    `(batch, steps * size, features)`.

    Args:
        size: positive int (default 2).
    """

    size: int = 2

    def check_config(self):
        if not _is_int(self.size) or self.size <= 0:
            raise ValueError(f"{self._label}: size must be a positive integer, got {self.size!r}")

    def check_inputs(self, spec):
        _check_rank(self, spec, 3, "(batch, steps, features)")

    def call(self, x):
        self.check_inputs(x)
        return jnp.repeat(x, self.size, axis=1)


_RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")


class UpSampling2D(Layer):
    """Upsamples images by `size` along height and width.

    Args:
        size: int or `(height_factor, width_factor)` (default `(2, 2)`).
        data_format: `"channels_last"` (default, NHWC) or `"channels_first"`.
        interpolation: `"nearest"` (repeat rows and columns) or `"bilinear"`, `"bicubic"`,
            `"lanczos3"`, `"lanczos5"` (via `jax.image.resize`, as Keras's JAX backend).

    Output shape:
        `(batch, h * size[0], w * size[1], channels)` for NHWC.
    """

    size: Any = (2, 2)
    data_format: Any = None
    interpolation: str = "nearest"

    def check_config(self):
        self.size = _pair(self, "size", self.size, allow_zero=False)
        _data_format(self)
        if not isinstance(self.interpolation, str) or self.interpolation.lower() not in _RESIZE_METHODS:
            raise ValueError(
                f"{self._label}: interpolation must be one of {_RESIZE_METHODS}, got {self.interpolation!r}"
            )
        self.interpolation = self.interpolation.lower()

    def check_inputs(self, spec):
        _check_rank(
            self,
            spec,
            4,
            "(batch, h, w, channels)" if self.data_format == "channels_last" else "(batch, channels, h, w)",
        )

    def call(self, x):
        self.check_inputs(x)
        if self.data_format == "channels_first":
            x = jnp.transpose(x, (0, 2, 3, 1))
        sh, sw = self.size
        if self.interpolation == "nearest":
            y = jnp.repeat(jnp.repeat(x, sh, axis=1), sw, axis=2)
        else:
            n, h, w, c = x.shape
            y = jax.image.resize(x, (n, h * sh, w * sw, c), method=self.interpolation)
        if self.data_format == "channels_first":
            y = jnp.transpose(y, (0, 3, 1, 2))
        return y


class ZeroPadding1D(Layer):
    """Pads the time axis with zeros.

    Args:
        padding: int (both sides) or `(left, right)` (default 1).
        data_format: `"channels_last"` (default, `(batch, steps, features)`) or
            `"channels_first"` (`(batch, features, steps)`).
    """

    padding: Any = 1
    data_format: Any = None

    def check_config(self):
        self.padding = _pair(self, "padding", self.padding)
        _data_format(self)

    def check_inputs(self, spec):
        _check_rank(self, spec, 3, "(batch, steps, features)")

    def call(self, x):
        self.check_inputs(x)
        axis = 2 if self.data_format == "channels_first" else 1
        pads = [(0, 0)] * 3
        pads[axis] = self.padding
        return jnp.pad(x, pads)


class ZeroPadding2D(Layer):
    """Pads images with zeros along height and width.

    Args:
        padding: `n`, `(h, w)` (symmetric) or `((top, bottom), (left, right))` (default 1).
        data_format: `"channels_last"` (default, NHWC) or `"channels_first"`.
    """

    padding: Any = (1, 1)
    data_format: Any = None

    def check_config(self):
        self.padding = _pair_of_pairs(self, "padding", self.padding)
        _data_format(self)

    def check_inputs(self, spec):
        _check_rank(
            self,
            spec,
            4,
            "(batch, h, w, channels)" if self.data_format == "channels_last" else "(batch, channels, h, w)",
        )

    def call(self, x):
        self.check_inputs(x)
        pads = (
            [(0, 0), *self.padding, (0, 0)] if self.data_format == "channels_last" else [(0, 0), (0, 0), *self.padding]
        )
        return jnp.pad(x, pads)


def _crop_check(layer, spec, axes, crops):
    for axis, (a, b) in zip(axes, crops):
        d = spec.shape[axis]
        if d is not None and a + b >= d:
            raise ValueError(
                f"{layer._label}: cropping {(a, b)} removes all of axis {axis} (size {d}) of input shape "
                f"{tuple(spec.shape)}; it must leave at least one element"
            )


def _crop(x, axes, crops):
    index = [slice(None)] * x.ndim
    for axis, (a, b) in zip(axes, crops):
        index[axis] = slice(a, x.shape[axis] - b)
    return x[tuple(index)]


class Cropping1D(Layer):
    """Crops the time axis of `(batch, steps, features)` inputs.

    Args:
        cropping: int (both sides) or `(start, end)` (default `(1, 1)`).
    """

    cropping: Any = (1, 1)

    def check_config(self):
        self.cropping = _pair(self, "cropping", self.cropping)

    def check_inputs(self, spec):
        _check_rank(self, spec, 3, "(batch, steps, features)")
        _crop_check(self, spec, (1,), (self.cropping,))

    def call(self, x):
        self.check_inputs(x)
        return _crop(x, (1,), (self.cropping,))


class Cropping2D(Layer):
    """Crops images along height and width.

    Args:
        cropping: `n`, `(h, w)` (symmetric) or `((top, bottom), (left, right))`
            (default no cropping).
        data_format: `"channels_last"` (default, NHWC) or `"channels_first"`.
    """

    cropping: Any = ((0, 0), (0, 0))
    data_format: Any = None

    def check_config(self):
        self.cropping = _pair_of_pairs(self, "cropping", self.cropping)
        _data_format(self)

    def _axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def check_inputs(self, spec):
        _check_rank(
            self,
            spec,
            4,
            "(batch, h, w, channels)" if self.data_format == "channels_last" else "(batch, channels, h, w)",
        )
        _crop_check(self, spec, self._axes(), self.cropping)

    def call(self, x):
        self.check_inputs(x)
        return _crop(x, self._axes(), self.cropping)
