"""Volumetric reshaping layers: ZeroPadding3D, Cropping3D, UpSampling3D (inputs
`(batch, d1, d2, d3, channels)`, or channels first)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jnet.layers.base import Layer
from jnet.layers.reshaping import _check_rank, _crop, _crop_check, _data_format, _is_int, _pair

__all__ = ["Cropping3D", "UpSampling3D", "ZeroPadding3D"]


def _triple_of_pairs(layer, name, value):
    """Keras's 3D padding/cropping forms: `n`, `(d1, d2, d3)` or three `(before, after)` pairs."""
    if _is_int(value):
        return tuple(_pair(layer, name, value) for _ in range(3))
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError(f"{layer._label}: {name} must be an int, a triple, or a triple of pairs, got {value!r}")
    return tuple(_pair(layer, f"{name}[{i}]", v) for i, v in enumerate(value))


def _spatial(layer):
    return (1, 2, 3) if layer.data_format == "channels_last" else (2, 3, 4)


def _check_5d(layer, spec):
    _check_rank(
        layer,
        spec,
        5,
        "(batch, d1, d2, d3, channels)" if layer.data_format == "channels_last" else "(batch, channels, d1, d2, d3)",
    )


class ZeroPadding3D(Layer):
    """Pads volumes with zeros along the three spatial axes.

    Args:
        padding: `n`, `(d1, d2, d3)` (symmetric) or
            `((d1_before, d1_after), (d2_before, d2_after), (d3_before, d3_after))` (default 1).
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:
    ```python
    y = jnet.layers.ZeroPadding3D(1)(x)    # (2, 3, 4, 5, 1) -> (2, 5, 6, 7, 1)
    ```
    """

    padding: Any = ((1, 1), (1, 1), (1, 1))
    data_format: Any = None

    def check_config(self):
        self.padding = _triple_of_pairs(self, "padding", self.padding)
        _data_format(self)

    def check_inputs(self, spec):
        _check_5d(self, spec)

    def call(self, x):
        self.check_inputs(x)
        pads = [(0, 0)] * 5
        for axis, p in zip(_spatial(self), self.padding):
            pads[axis] = p
        return jnp.pad(x, pads)


class Cropping3D(Layer):
    """Crops volumes along the three spatial axes.

    Args:
        cropping: `n`, `(d1, d2, d3)` (symmetric) or three `(before, after)` pairs
            (default `((1, 1), (1, 1), (1, 1))`).
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:
    ```python
    y = jnet.layers.Cropping3D(1)(x)       # (2, 5, 6, 7, 1) -> (2, 3, 4, 5, 1)
    ```
    """

    cropping: Any = ((1, 1), (1, 1), (1, 1))
    data_format: Any = None

    def check_config(self):
        self.cropping = _triple_of_pairs(self, "cropping", self.cropping)
        _data_format(self)

    def check_inputs(self, spec):
        _check_5d(self, spec)
        _crop_check(self, spec, _spatial(self), self.cropping)

    def call(self, x):
        self.check_inputs(x)
        return _crop(x, _spatial(self), self.cropping)


class UpSampling3D(Layer):
    """Repeats each voxel `size` times along each spatial axis (nearest neighbour).

    Args:
        size: int or `(s1, s2, s3)` (default `(2, 2, 2)`).
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:
    ```python
    y = jnet.layers.UpSampling3D(2)(x)     # (2, 3, 4, 5, 1) -> (2, 6, 8, 10, 1)
    ```
    """

    size: Any = (2, 2, 2)
    data_format: Any = None

    def check_config(self):
        size = (self.size,) * 3 if _is_int(self.size) else self.size
        if not isinstance(size, (list, tuple)) or len(size) != 3 or not all(_is_int(s) and s > 0 for s in size):
            raise ValueError(f"{self._label}: size must be a positive int or a triple of them, got {self.size!r}")
        self.size = tuple(size)
        _data_format(self)

    def check_inputs(self, spec):
        _check_5d(self, spec)

    def call(self, x):
        self.check_inputs(x)
        for axis, s in zip(_spatial(self), self.size):
            x = jnp.repeat(x, s, axis=axis)
        return x
