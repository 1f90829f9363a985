"""Deterministic image preprocessing: Resizing and CenterCrop. Images are `(batch, height,
width, channels)` or one `(height, width, channels)` image (channels first with
`data_format="channels_first"`)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jnet import config
from jnet.layers.preprocessing._common import NumericLayer, check_numeric
from jnet.ops import image as image_ops

__all__ = ["Resizing", "CenterCrop"]

_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")


def check_image_layer(layer, spec):
    """Images are numeric and of rank 3 or 4."""
    check_numeric(layer, spec)
    if len(spec.shape) not in (3, 4):
        raise ValueError(
            f"{layer._label}: expects images of rank 3 (h, w, c) or 4 (batch, h, w, c), got shape {tuple(spec.shape)}"
        )


def check_size(layer, *names):
    for name in names:
        value = getattr(layer, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{layer._label}: {name} must be a positive int, got {value!r}")


def standardize_format(layer):
    try:
        layer.data_format = config.standardize_data_format(layer.data_format)
    except ValueError as err:
        raise ValueError(f"{layer._label}: data_format: {err}") from None


def spatial_axes(layer, ndim):
    """(height axis, width axis) of a rank-`ndim` image tensor."""
    return (ndim - 2, ndim - 1) if layer.data_format == "channels_first" else (ndim - 3, ndim - 2)


def cast_like(out, dtype):
    """`out` back in the input's dtype: integer images are rounded and clipped to its range."""
    if out.dtype == dtype:
        return out
    if jnp.issubdtype(dtype, jnp.integer):
        info = jnp.iinfo(dtype)
        out = jnp.clip(jnp.round(out), info.min, info.max)
    return out.astype(dtype)


class Resizing(NumericLayer):
    """Resizes images to `(height, width)`.

    Args:
        height, width: the output size.
        interpolation: `"bilinear"`, `"nearest"`, `"bicubic"`, `"lanczos3"` or `"lanczos5"`.
        crop_to_aspect_ratio: first crop the largest centred window with the target aspect
            ratio, so the image is not distorted.
        pad_to_aspect_ratio: first pad the image evenly with `fill_value` to the target
            aspect ratio.
        fill_mode: only `"constant"`.
        fill_value: the padding value for `pad_to_aspect_ratio`.
        antialias: filter when downsampling (jax.image's antialiasing).
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Integer images come back in their dtype, rounded (as in Keras).
    """

    height: int
    width: int
    interpolation: str = "bilinear"
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False
    fill_mode: str = "constant"
    fill_value: float = 0.0
    antialias: bool = False
    data_format: Any = None

    def check_config(self):
        check_size(self, "height", "width")
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"{self._label}: interpolation must be one of {list(_INTERPOLATIONS)}, got {self.interpolation!r}"
            )
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise ValueError(f"{self._label}: pass only one of crop_to_aspect_ratio and pad_to_aspect_ratio")
        if self.fill_mode != "constant":
            raise ValueError(f"{self._label}: fill_mode must be 'constant', got {self.fill_mode!r}")
        standardize_format(self)

    def check_inputs(self, spec):
        check_image_layer(self, spec)

    def call(self, images):
        out = image_ops.resize(
            images,
            (self.height, self.width),
            interpolation=self.interpolation,
            antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )
        return cast_like(out, images.dtype)


class CenterCrop(NumericLayer):
    """Crops the central `(height, width)` window of images. An image smaller than the target
    is resized instead (the largest centred window of the target's aspect ratio, bilinear),
    as Keras does.

    Args:
        height, width: the output size.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Outputs are in the layer's compute dtype (float32 by default).
    """

    height: int
    width: int
    data_format: Any = None

    def check_config(self):
        check_size(self, "height", "width")
        standardize_format(self)

    def check_inputs(self, spec):
        check_image_layer(self, spec)

    def call(self, images):
        x = images.astype(self.compute_dtype)
        ha, wa = spatial_axes(self, x.ndim)
        h, w = x.shape[ha], x.shape[wa]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            index = [slice(None)] * x.ndim
            index[ha] = slice(top, top + self.height)
            index[wa] = slice(left, left + self.width)
            return x[tuple(index)]
        return image_ops.resize(x, (self.height, self.width), crop_to_aspect_ratio=True, data_format=self.data_format)
